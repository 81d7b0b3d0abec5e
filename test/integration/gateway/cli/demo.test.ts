/**
 * `npm start` (`nodegate demo`): the whole system on loopback comes up, serves the device name over
 * the registry's DNS, HTTPS with a certificate from this run's pebble, LND through a token, and the
 * onion service on the private Tor network; Ctrl-C stops every process it started; a second run
 * keeps the name and the onion key.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { readFile } from 'node:fs/promises';
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

async function stopDemo(demo: RunningProcess): Promise<void> {
  const family = descendants(demo.pid);
  expect(family.length).toBeGreaterThan(0);
  demo.child.kill('SIGINT');
  const code = await Promise.race([demo.exited, new Promise<string>((r) => setTimeout(() => r('still running'), DEMO_STOP_MS))]);
  expect(code).toBe(0);
  // Every process the demo started has ended by the time it exits (bounded poll for the reaper).
  for (let i = 0; i < 20 && family.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  expect(family.filter(alive)).toEqual([]);
}

describe('nodegate demo (npm start)', () => {
  it('brings the whole system up on loopback, stops it with Ctrl-C, and keeps its identity on the next run', async () => {
    const dir = await tempDir('nodegate-demo-');
    dirs.push(dir);
    const demo = startProcess(process.execPath, ['bin/nodegate.js', 'demo', '--dir', dir.path], { env: { ...process.env, NODEGATE_LOG_LEVEL: 'warn' } });
    running.push(demo);
    await demo.waitFor(/lndconnect\s+lndconnect:\/\//, DEMO_READY_MS);
    const out = demo.output();
    expect(out).toMatch(/\[7\/7\]/);
    const name = field(out, 'device name');
    expect(name).toMatch(/^[a-z2-7]{16}\.nodes\.nodegate\.test$/);
    const onion = field(out, 'onion');
    expect(onion).toMatch(/^[a-z2-7]{56}\.onion$/);
    const socks = /--socks5-hostname 127\.0\.0\.1:(\d+)/.exec(out)![1]!;
    const token = /Authorization: Bearer ([A-Za-z0-9_.-]+)/.exec(out)![1]!;

    // The registry's DNS answers the device name with the address the node published.
    const answer = await queryDns({ host: '127.0.0.1', port: DEMO_PORTS.registryDns }, name, 'A');
    expect(answer.rcode).toBe('NOERROR');
    expect(answer.answers.map((a) => (a as { data?: unknown }).data)).toEqual(['127.0.0.1']);

    // HTTPS with this run's pebble root: trusted for the name, no verification turned off.
    const ca = await readFile(join(dir.path, 'demo-ca.pem'), 'utf8');
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

    const onionKeyBefore = await readFile(join(dir.path, 'node', 'tor', 'onion-key.json'), 'utf8');
    await stopDemo(demo);

    // Second run (without tor, to stay quick): same name; the onion key is untouched.
    const again = startProcess(process.execPath, ['bin/nodegate.js', 'demo', '--no-tor', '--dir', dir.path], { env: { ...process.env, NODEGATE_LOG_LEVEL: 'warn' } });
    running.push(again);
    await again.waitFor(/lndconnect\s+lndconnect:\/\//, DEMO_READY_MS);
    expect(field(again.output(), 'device name')).toBe(name);
    expect(await readFile(join(dir.path, 'node', 'tor', 'onion-key.json'), 'utf8')).toBe(onionKeyBefore);
    await stopDemo(again);
  }, 2 * DEMO_READY_MS + 60_000);
});
