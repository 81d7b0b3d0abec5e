/**
 * Onion start-up benchmark on the private Tor network (sim/tor-network.ts).
 *
 *   ours:  TorProcess (our torrc, cookie auth, control connection) + OnionService (ADD_ONION with
 *          the stored key) — what `nodegate start` does for Tor.
 *   peer:  the same tor binary publishing the same kind of service from a plain torrc with
 *          `HiddenServiceDir` + `HiddenServicePort` (how most node distributions configure it).
 *
 * Measured: wall time from launching tor to the first successful HTTP answer through a separate
 * client's SOCKS port (same polling loop for both), cold (fresh DataDirectory, fresh key), median
 * of RUNS alternating runs; and resident memory: tor's RSS after publishing, and what our library
 * adds to the Node process.
 *
 *   node bin/run-ts.js bench/tor/onion.ts
 */
import { createServer, type Server } from 'node:http';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startTorNetwork, type TorClient, type TorNetwork } from '../../sim/tor-network.ts';
import { startProcess, tempDir } from '../../sim/process.ts';
import { TorProcess } from '../../tor/process.ts';
import { OnionService } from '../../tor/onion.ts';
import { socksConnect } from '../../tor/socks.ts';
import { TorControl } from '../../tor/control.ts';

const RUNS = 5;
/** Per-run bound: a cold tor bootstraps in ~5 s here; a minute means something is broken. */
const RUN_TIMEOUT_MS = 120_000;
const POLL_MS = 250;

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
}

async function answered(client: TorClient, address: string): Promise<boolean> {
  try {
    const s = await socksConnect({ host: '127.0.0.1', port: client.socksPort }, address, 80, { timeoutMs: 20_000 });
    s.write(`GET / HTTP/1.0\r\nHost: ${address}\r\n\r\n`);
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString()));
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    return text.startsWith('HTTP/1.1 200');
  } catch {
    await client.control.signal('NEWNYM').catch(() => undefined); // forget HSDirs a failed fetch now avoids
    return false;
  }
}

async function untilAnswered(client: TorClient, address: () => string | undefined, started: number): Promise<number> {
  for (;;) {
    const a = address();
    if (a && (await answered(client, a))) return Date.now() - started;
    if (Date.now() - started > RUN_TIMEOUT_MS) throw new Error('the onion did not answer in time');
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

interface Run {
  /** launch → first answer through the client */
  ms: number;
  /** launch → tor reports the descriptor uploaded (HS_DESC UPLOADED) */
  uploadedMs: number;
  torRss: number;
}

async function runOurs(network: TorNetwork, client: TorClient, port: number): Promise<Run & { nodeRssDelta: number }> {
  const dir = await tempDir('ngbench-ours-');
  const rssBefore = process.memoryUsage().rss;
  const started = Date.now();
  const tor = new TorProcess({ dir: join(dir.path, 'tor'), extraTorrc: network.torrcLines });
  let address: string | undefined;
  const onion = new OnionService({ dir: join(dir.path, 'tor'), source: tor, ports: [{ virtualPort: 80, target: `127.0.0.1:${port}` }] });
  try {
    await tor.start();
    address = await onion.start();
    let uploadedMs = 0;
    void onion.waitPublished(RUN_TIMEOUT_MS).then(() => (uploadedMs = Date.now() - started), () => undefined);
    const ms = await untilAnswered(client, () => address, started);
    await onion.waitPublished(RUN_TIMEOUT_MS);
    const torRss = await rssKiB(tor.pid!);
    const nodeRssDelta = Math.max(0, process.memoryUsage().rss - rssBefore) / 1024;
    return { ms, uploadedMs, torRss, nodeRssDelta };
  } finally {
    await onion.stop();
    await tor.stop();
    await dir.remove();
  }
}

async function runPeer(network: TorNetwork, client: TorClient, port: number): Promise<Run> {
  const dir = await tempDir('ngbench-peer-');
  const hsDir = join(dir.path, 'hs');
  await mkdir(hsDir, { mode: 0o700 });
  const torrc = join(dir.path, 'torrc');
  const portFile = join(dir.path, 'control-port');
  await writeFile(
    torrc,
    [
      ...network.torrcLines,
      `DataDirectory ${join(dir.path, 'data')}`,
      'SocksPort 0',
      `HiddenServiceDir ${hsDir}`,
      `HiddenServicePort 80 127.0.0.1:${port}`,
      'Log notice stdout',
      // only to observe HS_DESC UPLOADED; the service itself comes from the torrc lines above
      'ControlPort 127.0.0.1:auto',
      `ControlPortWriteToFile ${portFile}`,
      'CookieAuthentication 1',
    ].join('\n') + '\n',
  );
  const started = Date.now();
  const tor = startProcess('/usr/sbin/tor', ['-f', torrc, '--defaults-torrc', '/dev/null']);
  let address: string | undefined;
  const readHostname = async () => {
    address = (await readFile(join(hsDir, 'hostname'), 'utf8').catch(() => '')).trim() || undefined;
  };
  let control: TorControl | undefined;
  let uploadedMs = 0;
  try {
    await tor.waitFor(/Opened Control listener/, 20_000);
    let m: RegExpExecArray | null = null;
    for (let i = 0; i < 100 && !m; i++) {
      m = /PORT=([\d.]+):(\d+)/.exec(await readFile(portFile, 'utf8').catch(() => ''));
      if (!m) await new Promise((r) => setTimeout(r, 50));
    }
    control = await TorControl.connect({ host: m![1]!, port: Number(m![2]) });
    await control.authenticate();
    control.on('event', (ev) => {
      if (ev.type === 'HS_DESC' && 'action' in ev && ev.action === 'UPLOADED' && uploadedMs === 0) uploadedMs = Date.now() - started;
    });
    await control.setEvents(['HS_DESC']);
    const ms = await untilAnswered(
      client,
      () => {
        void readHostname();
        return address;
      },
      started,
    );
    const until = Date.now() + RUN_TIMEOUT_MS;
    while (uploadedMs === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, POLL_MS));
    return { ms, uploadedMs, torRss: await rssKiB(tor.pid) };
  } finally {
    control?.close();
    await tor.stop();
    await dir.remove();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function main(): Promise<string> {
  const server: Server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const network = await startTorNetwork();
  try {
    const client = await network.startClient('benchclient');
    const ours: Array<Run & { nodeRssDelta: number }> = [];
    const peer: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      ours.push(await runOurs(network, client, port));
      peer.push(await runPeer(network, client, port));
    }
    const oursMs = median(ours.map((r) => r.ms));
    const peerMs = median(peer.map((r) => r.ms));
    const rows = [
      '| measure (private Tor network, cold start, median of ' + RUNS + ') | nodegate (TorProcess + OnionService) | plain torrc HiddenServiceDir | ratio nodegate/peer |',
      '|---|---|---|---|',
      `| launch → onion answers through a client (ms) | ${oursMs} | ${peerMs} | ${(oursMs / peerMs).toFixed(2)} |`,
      `| launch → descriptor uploaded, HS_DESC UPLOADED (ms) | ${median(ours.map((r) => r.uploadedMs))} | ${median(peer.map((r) => r.uploadedMs))} | ${(median(ours.map((r) => r.uploadedMs)) / median(peer.map((r) => r.uploadedMs))).toFixed(2)} |`,
      `| tor RSS after publishing (MiB) | ${(median(ours.map((r) => r.torRss)) / 1024).toFixed(1)} | ${(median(peer.map((r) => r.torRss)) / 1024).toFixed(1)} | ${(median(ours.map((r) => r.torRss)) / median(peer.map((r) => r.torRss))).toFixed(2)} |`,
      `| Node process RSS added by tor/ (MiB) | ${(median(ours.map((r) => r.nodeRssDelta)) / 1024).toFixed(1)} | – | – |`,
      '',
      `Network ready (consensus listing all relays, relays bootstrapped) in ${network.consensusMs} ms. Runs, answer/uploaded (ms): ours ${ours.map((r) => `${r.ms}/${r.uploadedMs}`).join(', ')}; peer ${peer.map((r) => `${r.ms}/${r.uploadedMs}`).join(', ')}.`,
    ];
    return rows.join('\n');
  } finally {
    await network.stop();
    server.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    (table) => process.stdout.write(table + '\n'),
    (err: unknown) => {
      process.stderr.write(`bench/tor/onion: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
