/**
 * `npm start` (`nodegate demo`): the whole system on loopback comes up, serves the device name over
 * the registry's DNS, HTTPS with a certificate from this run's pebble, LND through a token, and the
 * onion service on the private Tor network; Ctrl-C (SIGINT to its process group, as a terminal
 * sends it) stops every process it started, quietly; a second run on the same state, with Tor,
 * reaches the same printout with the same name and onion (issue 20); a run that cannot use its
 * ports or state says why in one line before any wait.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { startProcess, tempDir, type RunningProcess } from '../../../../sim/process.ts';
import { queryDns } from '../../../../ddns/dns-client.ts';
import { socksConnect } from '../../../../tor/socks.ts';
import { DEMO_PORTS } from '../../../../gateway/cli/demo.ts';

/** Start-up bound: a private Tor network plus an onion publication on a loaded 2-core machine. */
const DEMO_READY_MS = 240_000;
/** Ctrl-C must end everything within seconds. */
const DEMO_STOP_MS = 15_000;

const running: RunningProcess[] = [];
const dirs: Array<{ remove(): Promise<void> }> = [];
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop(DEMO_STOP_MS * 2))); // the demo stops its own children first
  await Promise.all(dirs.map((d) => d.remove()));
});

/** Every descendant PID of `pid` (from /proc), to prove none outlives the demo. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** Running (a zombie waiting for its reaper has ended: it holds no port, file or CPU). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function field(output: string, label: string): string {
  const m = new RegExp(`^\\s+${label}\\s+(\\S+)`, 'm').exec(output);
  if (!m) throw new Error(`the demo printed no "${label}" line:\n${output}`);
  return m[1]!;
}

function httpsGet(name: string, path: string, ca: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ method, host: '127.0.0.1', port: DEMO_PORTS.gateway, servername: name, path, ca, headers: { host: `${name}:${DEMO_PORTS.gateway}`, ...headers }, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** Ctrl-C as a terminal sends it: SIGINT to the demo's whole process group. */
async function stopDemo(demo: RunningProcess): Promise<void> {
  const family = descendants(demo.pid);
  expect(family.length).toBeGreaterThan(0);
  process.kill(-demo.pid, 'SIGINT');
  const code = await Promise.race([demo.exited, new Promise<string>((r) => setTimeout(() => r('still running'), DEMO_STOP_MS))]);
  expect(code).toBe(0);
  // Every process the demo started has ended by the time it exits (bounded poll for the reaper).
  for (let i = 0; i < 20 && family.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  expect(family.filter(alive)).toEqual([]);
  // Stopping is quiet: no stack trace, no part that failed to stop.
  expect(demo.output()).not.toMatch(/^\s+at /m);
  expect(demo.output()).not.toMatch(/did not stop cleanly|DEL_ONION/);
}

function startDemo(dir: string): RunningProcess {
  // A process group of its own, like a command started from a terminal.
  const demo = startProcess(process.execPath, ['bin/nodegate.js', 'demo', '--dir', dir], { env: { ...process.env, NODEGATE_LOG_LEVEL: 'warn' }, detached: true });
  running.push(demo);
  return demo;
}

/** Waits for the whole printout and checks what it promises: DNS, HTTPS, LND by token, the onion. */
async function checkPrintout(demo: RunningProcess, dir: string): Promise<{ name: string; onion: string }> {
  await demo.waitFor(/lndconnect\s+lndconnect:\/\//, DEMO_READY_MS);
  const out = demo.output();
  expect(out).toMatch(/\[7\/7\]/);
  const name = field(out, 'device name');
  expect(name).toMatch(/^[a-z2-7]{16}\.nodes\.nodegate\.test$/);
  const onion = field(out, 'onion');
  expect(onion).toMatch(/^[a-z2-7]{56}\.onion$/);
  const socks = /--socks5-hostname 127\.0\.0\.1:(\d+)/.exec(out)![1]!;
  const token = /Authorization: Bearer ([A-Za-z0-9_.-]+)/.exec(out)![1]!;
  // The printout names LND's wallet password (the one the simulator takes) and how to trust the CA.
  const walletPassword = (await readFile(join(dir, 'lnd-wallet-password'), 'utf8')).trim();
  expect(out).toContain(`wallet password ${walletPassword}`);
  expect(out).toMatch(/chromium: .*Authorities > Import/);
  expect(out).toMatch(/Firefox: .*Authorities > Import/);

  // The registry's DNS answers the device name with the address the node published.
  const answer = await queryDns({ host: '127.0.0.1', port: DEMO_PORTS.registryDns }, name, 'A');
  expect(answer.rcode).toBe('NOERROR');
  expect(answer.answers.map((a) => (a as { data?: unknown }).data)).toEqual(['127.0.0.1']);

  // HTTPS with this run's pebble root: trusted for the name, no verification turned off.
  const ca = await readFile(join(dir, 'demo-ca.pem'), 'utf8');
  const login = await httpsGet(name, '/_nodegate/login', ca);
  expect(login.status).toBe(200);
  expect(login.body).toContain('<form');
  // A wallet with only the readonly token reaches LND (locked, like after a power cut) ...
  const info = await httpsGet(name, '/v1/getinfo', ca, { authorization: `Bearer ${token}` });
  expect([200, 500, 503]).toContain(info.status);
  expect(info.body).toMatch(/wallet locked|identity_pubkey/);
  // ... and nothing outside its scope.
  const forbidden = await httpsGet(name, '/v1/invoices', ca, { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, 'POST');
  expect(forbidden.status).toBe(403);
  expect((JSON.parse(forbidden.body) as { error: { code: string } }).error.code).toBe('NG_GW_SCOPE');

  // The owner page over the onion, through the private network's client.
  const socket = await socksConnect({ host: '127.0.0.1', port: Number(socks) }, onion, 443, { timeoutMs: 60_000 });
  const page = await new Promise<string>((resolve, reject) => {
    const tls = tlsConnect({ socket, servername: onion, rejectUnauthorized: false }, () => {
      tls.write(`GET /_nodegate/login HTTP/1.1\r\nHost: ${onion}\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    tls.on('data', (c: Buffer) => (text += c.toString()));
    tls.on('end', () => resolve(text));
    tls.on('error', reject);
  });
  expect(page).toMatch(/^HTTP\/1\.1 200/);
  return { name, onion };
}

describe('nodegate demo (npm start)', () => {
  it('comes up, stops with Ctrl-C, and comes up again on the same state with the same name and onion (a second npm start)', async () => {
    const dir = await tempDir('nodegate-demo-');
    dirs.push(dir);
    const first = startDemo(dir.path);
    const one = await checkPrintout(first, dir.path);

    // While it runs, another demo says in one line, before any wait, why it cannot start.
    const other = await tempDir('nodegate-demo-other-');
    dirs.push(other);
    const clash = startProcess(process.execPath, ['bin/nodegate.js', 'demo', '--dir', other.path], { env: { ...process.env, NODEGATE_LOG_LEVEL: 'warn' } });
    running.push(clash);
    expect(await clash.exited).toBe(1);
    expect(clash.output()).toMatch(/Port \d+ on 127\.0\.0\.1 \(.+\) is in use: is another `npm start` .* still running\?.*\[NG_DEMO_STATE\]/);
    expect(clash.output()).not.toMatch(/--dns|\[\d\/7\]/);

    const onionKeyBefore = await readFile(join(dir.path, 'node', 'tor', 'onion-key.json'), 'utf8');
    await stopDemo(first);

    // The second run, with Tor like the first: the private network is new, the node's identity is not.
    const again = startDemo(dir.path);
    const two = await checkPrintout(again, dir.path);
    expect(two).toEqual(one);
    expect(await readFile(join(dir.path, 'node', 'tor', 'onion-key.json'), 'utf8')).toBe(onionKeyBefore);
    await stopDemo(again);
  }, 2 * DEMO_READY_MS + 60_000);

  it('refuses, in one line before anything starts, a state whose node lost its registry', async () => {
    const dir = await tempDir('nodegate-demo-broken-');
    dirs.push(dir);
    await mkdir(join(dir.path, 'node', 'device'), { recursive: true });
    await writeFile(join(dir.path, 'node', 'device', 'registration.json'), '{}');
    const demo = startProcess(process.execPath, ['bin/nodegate.js', 'demo', '--dir', dir.path], { env: { ...process.env, NODEGATE_LOG_LEVEL: 'warn' } });
    running.push(demo);
    expect(await demo.exited).toBe(1);
    expect(demo.output()).toMatch(/belongs to a registry whose data .* is gone.*delete .* and run again\..*\[NG_DEMO_STATE\]/);
    expect(demo.output()).not.toMatch(/\[1\/7\]/);
  });
});
