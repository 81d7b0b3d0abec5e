/**
 * The system's tor run by TorProcess, and attached to by TorAttachment. These tors never reach any
 * Tor network: their only directory authority is a closed loopback port (127.0.0.1:1), and the
 * built-in authorities and fallbacks are replaced, so they open their listeners and stay at 0 %.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_RESTARTS, TorAttachment, TorProcess } from '../../../tor/process.ts';
import { TorControl } from '../../../tor/control.ts';
import { freePort, startProcess, tempDir, type RunningProcess } from '../../../sim/process.ts';
import { isNodegateError } from '../../../core/errors.ts';

const OFFLINE = [
  'TestingTorNetwork 1',
  'UseDefaultFallbackDirs 0',
  `DirAuthority nowhere orport=1 no-v2 v3ident=${'0'.repeat(40)} 127.0.0.1:1 ${'F'.repeat(40)}`,
];
const stops: Array<() => Promise<void>> = [];
let data: { path: string; remove(): Promise<void> } | undefined;

afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => undefined); // stop the rest too
});
afterAll(async () => {
  await data?.remove();
});

async function dataDir(name: string): Promise<string> {
  data ??= await tempDir('nodegate-torproc-');
  const d = join(data.path, name);
  await mkdir(d, { recursive: true });
  return d;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('TorProcess (managed tor)', () => {
  it('runs tor with cookie auth on a loopback control port, offers SAFECOOKIE, and stops it by PID', async () => {
    const tor = new TorProcess({ dir: await dataDir('a'), extraTorrc: OFFLINE });
    stops.push(() => tor.stop());
    const control = await tor.start();
    const info = await control.protocolInfo();
    expect(info.methods).toEqual(expect.arrayContaining(['COOKIE', 'SAFECOOKIE']));
    expect(info.methods).not.toContain('NULL');
    const socks = await tor.socksAddress();
    expect(socks.host).toBe('127.0.0.1');
    const conf = await control.getConf(['ORPort', 'DirPort', 'CookieAuthentication']);
    expect(conf).toEqual({ ORPort: ['0'], DirPort: ['0'], CookieAuthentication: ['1'] });
    const pid = tor.pid!;
    expect(alive(pid)).toBe(true);
    await tor.stop();
    expect(alive(pid)).toBe(false);
  });

  it('uses a ControlSocket when asked', async () => {
    const dir = await dataDir('b');
    const tor = new TorProcess({ dir, extraTorrc: OFFLINE, controlSocket: true });
    stops.push(() => tor.stop());
    const control = await tor.start();
    expect(control.target).toEqual({ path: join(dir, 'control.sock') });
    expect(Object.keys(await control.getInfo(['version']))).toEqual(['version']);
  });

  it('refuses a wrong cookie (SAFECOOKIE server hash mismatch, COOKIE refused) and an unreadable one with NG_TOR_AUTH', async () => {
    const tor = new TorProcess({ dir: await dataDir('c'), extraTorrc: OFFLINE });
    stops.push(() => tor.stop());
    const target = (await tor.start()).target;
    const wrong = Buffer.alloc(32, 0xab);
    for (const options of [{ cookie: wrong, methods: ['SAFECOOKIE' as const] }, { cookie: wrong, methods: ['COOKIE' as const] }, { cookieFile: '/nonexistent/control_auth_cookie' }]) {
      const c = await TorControl.connect(target);
      await expect(c.authenticate(options)).rejects.toMatchObject({ code: 'NG_TOR_AUTH' });
      c.close();
    }
  });

  it('reports tor not installed (PATH without tor) as NG_TOR_NOT_INSTALLED with the apt command', async () => {
    const empty = await dataDir('empty-bin');
    const tor = new TorProcess({ dir: await dataDir('d'), env: { PATH: empty }, extraDirs: [] });
    const err: unknown = await tor.start().catch((e: unknown) => e);
    expect(isNodegateError(err, 'NG_TOR_NOT_INSTALLED')).toBe(true);
    expect((err as Error).message).toContain('apt-get install tor');
  });

  it('reports a tor that fails to start as NG_TOR_START with its log lines', async () => {
    const tor = new TorProcess({ dir: await dataDir('e'), extraTorrc: ['NoSuchOption 1'] });
    stops.push(() => tor.stop());
    const err: unknown = await tor.start().catch((e: unknown) => e);
    expect(isNodegateError(err, 'NG_TOR_START')).toBe(true);
    expect((err as { details: { log: string[] } }).details.log.some((l) => l.includes('NoSuchOption'))).toBe(true);
  });

  it('restarts tor after SIGKILL and hands out a new authenticated control connection', async () => {
    const tor = new TorProcess({ dir: await dataDir('f'), extraTorrc: OFFLINE });
    stops.push(() => tor.stop());
    await tor.start();
    const first = tor.pid!;
    const lost = new Promise((r) => tor.once('lost', r));
    const next = new Promise<TorControl>((r) => tor.once('control', r));
    process.kill(first, 'SIGKILL');
    await lost;
    const control = await next;
    expect(tor.pid).toBeGreaterThan(0);
    expect(tor.pid).not.toBe(first);
    expect(control).toBe(tor.control);
    expect(Object.keys(await control.getInfo(['version']))).toEqual(['version']);
  });

  it('gives up after MAX_RESTARTS failed restarts (bounded) and reports NG_TOR_START', async () => {
    const dir = await dataDir('g');
    // A "tor" that runs the real one the first time and fails at once every later time.
    const fakeTor = join(dir, 'fake-tor');
    const counter = join(dir, 'runs');
    await writeFile(fakeTor, `#!/bin/sh\necho run >> ${counter}\nif [ "$(wc -l < ${counter})" -gt 1 ]; then echo "[err] simulated crash" ; exit 1; fi\nexec /usr/sbin/tor "$@"\n`, { mode: 0o755 });
    const delays: number[] = [];
    const tor = new TorProcess({ dir: join(dir, 'tor'), torPath: fakeTor, extraTorrc: OFFLINE, sleep: (ms) => (delays.push(ms), Promise.resolve()) });
    stops.push(() => tor.stop());
    await tor.start();
    const failed = new Promise<unknown>((r) => tor.once('failed', r));
    process.kill(tor.pid!, 'SIGKILL');
    const err = await failed;
    expect(isNodegateError(err, 'NG_TOR_START')).toBe(true);
    expect((await readFile(counter, 'utf8')).trim().split('\n')).toHaveLength(1 + MAX_RESTARTS);
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000]); // doubling back-off
  });
});

describe('TorAttachment (a tor the OS runs)', () => {
  it('attaches by control port with cookie auth and reconnects after that tor restarts', async () => {
    const dir = await dataDir('os-tor');
    const port = await freePort();
    const torrc = join(dir, 'torrc');
    await writeFile(torrc, [`DataDirectory ${join(dir, 'data')}`, `ControlPort 127.0.0.1:${port}`, 'CookieAuthentication 1', 'SocksPort 0', 'DisableNetwork 1', 'Log notice stdout'].join('\n') + '\n');
    const launch = async (): Promise<RunningProcess> => {
      const p = startProcess('/usr/sbin/tor', ['-f', torrc, '--defaults-torrc', '/dev/null']);
      stops.push(() => p.stop());
      await p.waitFor(/Opened Control listener/, 20_000);
      return p;
    };
    const osTor = await launch();
    const attached = new TorAttachment({ control: `127.0.0.1:${port}` });
    stops.push(() => attached.stop());
    await attached.start();
    expect(attached.control).toBeDefined();

    const reconnected = new Promise<TorControl>((r) => attached.once('control', r));
    await osTor.stop();
    await launch();
    const control = await reconnected;
    expect(Object.keys(await control.getInfo(['version']))).toEqual(['version']);
  });
});
