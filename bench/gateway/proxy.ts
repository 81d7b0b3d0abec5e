/**
 * Gateway benchmark: TLS keep-alive proxying of an LND-like ~900-byte JSON reply with the token
 * check and macaroon injection, side by side with nginx (1 worker) and caddy (same certificate,
 * same upstream), plus the alternative engines of bench/gateway/_engines.ts.
 *
 * Upstream: a separate nginx (1 worker) answering GET /v1/getinfo over TLS with a fixed body, its
 * cert pinned by every proxy like LND's tls.cert. Load: wrk, 1 thread, 64 connections and 1
 * connection keep-alive, and 16 connections with `Connection: close` (a TLS handshake per request).
 * Reported: requests/s, p99, the proxy's CPU time per request (utime+stime from /proc/<pid>/stat
 * over the run divided by requests), RSS and its private part idle, right after the runs and 20 s
 * later. All engines run at once and the runs go round-robin over them for BENCH_ROUNDS rounds
 * (default 3); each figure is the median, and each ratio the median of the per-round ratios.
 * Run: node bin/run-ts.js bench/gateway/proxy.ts [seconds-per-run]   (all traffic on 127.0.0.1)
 * While working on one engine: BENCH_ONLY=<name prefixes, comma-separated>, BENCH_CONNS=64,1 (loads by connection
 * count), BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" (node flags for the nodegate engines),
 * BENCH_FLAG_VARIANTS="A;B" (the deployed build once more per V8 flag set, to tune the unit's flags).
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile, readFile, readdir, symlink, cp, mkdtemp } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startProcess, tempDir, freePort, type RunningProcess } from '../../sim/process.ts';
import { makeSelfSignedCert } from '../../sim/self-signed-cert.ts';
import { getinfoBody } from '../../sim/lnd.ts';
import { writeDefaultGatewayConfig } from '../../gateway/config.ts';
import { encodePairFile } from '../../certs/store.ts';
import { TokenService } from '../../gateway/auth/tokens.ts';
import { buildDist } from '../../scripts/build.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLK_TCK = 100;
const NAME = 'bench.test';

interface WrkResult {
  rps: number;
  p99Ms: number;
  requests: number;
  errors: number;
}

interface Row {
  proxy: string;
  load: string;
  /** The round it was measured in (-1 for a median over rounds). */
  round: number;
  rps: number;
  p99Ms: number;
  cpuUsPerReq: number;
  errors: number;
}

function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(value.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

async function wrk(port: number, connections: number, seconds: number, headers: string[]): Promise<WrkResult> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '5s'];
  for (const h of headers) args.push('-H', h);
  args.push(`https://127.0.0.1:${port}/v1/getinfo`);
  const { stdout } = await run('wrk', args, { timeout: (seconds + 20) * 1000 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const p99 = toMs(/\s99%\s+(\S+)/.exec(stdout)?.[1] ?? '');
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const errors = non2xx + (sockErr ? Number(sockErr[1]) + Number(sockErr[3]) + Number(sockErr[4]) : 0);
  return { rps, p99Ms: p99, requests, errors };
}

async function cpuTicks(pids: number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += Number(fields[11]) + Number(fields[12]);
    } catch {
      // the process is gone: it contributes nothing more
    }
  }
  return total;
}

/** The node flags deploy/systemd/nodegate.service runs the daemon with (between node and the script). */
async function deployedNodeFlags(): Promise<string[]> {
  const unit = await readFile(join(ROOT, 'deploy/systemd/nodegate.service'), 'utf8');
  const words = (/^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '').trim().split(/\s+/);
  const script = words.findIndex((w) => w.endsWith('/dist/nodegate.mjs'));
  if (script < 1) throw new Error('deploy/systemd/nodegate.service: ExecStart does not run node .../dist/nodegate.mjs');
  return words.slice(1, script);
}

/**
 * RSS and its private part (RssAnon: heap, stacks, buffers) in MB. The rest of RSS is the program's
 * own file pages (for node, ~40 MB of its executable), shared and evictable.
 */
/** How long after the last run memory is read again (past undici's and nginx's idle timeouts). */
const SETTLE_MS = 20_000;

async function memoryMb(pids: number[]): Promise<{ rss: number; anon: number }> {
  let rss = 0;
  let anon = 0;
  for (const pid of pids) {
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      rss += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      anon += Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return { rss: rss / 1024, anon: anon / 1024 };
}

/** The PIDs of `pid` and its direct children (nginx master + workers). */
async function withChildren(pid: number): Promise<number[]> {
  const pids = [pid];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) pids.push(Number(entry));
    } catch {
      // raced with an exit
    }
  }
  return pids;
}

async function waitPort(port: number, timeoutMs = 15_000): Promise<void> {
  const { connect } = await import('node:net');
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<string> {
  const seconds = Number(argv[0] ?? 5);
  const dir = await tempDir('ng-bench-gw-');
  const procs: RunningProcess[] = [];
  try {
    const lndDir = join(dir.path, 'lnd');
    const macDir = join(lndDir, 'data', 'chain', 'bitcoin', 'mainnet');
    await mkdir(macDir, { recursive: true });
    const upCert = makeSelfSignedCert(['localhost'], ['127.0.0.1']);
    await writeFile(join(lndDir, 'tls.cert'), upCert.certPem);
    await writeFile(join(lndDir, 'tls.key'), upCert.keyPem);
    const macaroon = randomBytes(160);
    for (const s of ['admin', 'readonly', 'invoice']) await writeFile(join(macDir, `${s}.macaroon`), macaroon);
    const macHex = macaroon.toString('hex');
    const body = getinfoBody('bench-node');

    // upstream: nginx answering like LND's getinfo
    const upPort = await freePort();
    const upConf = join(dir.path, 'upstream.conf');
    await writeFile(
      upConf,
      `worker_processes 1; daemon off; pid ${dir.path}/up.pid; error_log ${dir.path}/up-error.log warn;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:${upPort} ssl; ssl_certificate ${lndDir}/tls.cert; ssl_certificate_key ${lndDir}/tls.key;
    location / { default_type application/json; return 200 '${body}'; } } }
`,
    );
    procs.push(startProcess('nginx', ['-c', upConf, '-p', dir.path, '-e', join(dir.path, 'up-error.log')]));
    await waitPort(upPort);

    const cert = makeSelfSignedCert([NAME], ['127.0.0.1']);
    await writeFile(join(dir.path, 'cert.pem'), cert.certPem);
    await writeFile(join(dir.path, 'key.pem'), cert.keyPem);

    // the gateway, as shipped: `nodegate start`
    const dataDir = join(dir.path, 'data');
    const gwPort = await freePort();
    await writeDefaultGatewayConfig(dataDir, { https: `127.0.0.1:${gwPort}`, serverNames: [NAME], lndRestUrl: `https://127.0.0.1:${upPort}`, lndDir });
    await mkdir(join(dataDir, 'certs'), { recursive: true });
    await writeFile(join(dataDir, 'certs', 'current.pem'), encodePairFile(cert.keyPem, cert.certPem));
    await writeFile(join(dataDir, 'bench-cert.pem'), cert.certPem);
    await writeFile(join(dataDir, 'bench-key.pem'), cert.keyPem);
    const token = (await (await TokenService.open(dataDir)).create({ scope: 'readonly', name: 'bench' })).token;

    // nginx, 1 worker, as the reference proxy (no token check: nginx cannot verify an EdDSA JWT)
    const ngPort = await freePort();
    const ngConf = join(dir.path, 'nginx.conf');
    await writeFile(
      ngConf,
      `worker_processes 1; daemon off; pid ${dir.path}/ng.pid; error_log ${dir.path}/ng-error.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  upstream lnd { server 127.0.0.1:${upPort}; keepalive 64; }
  server { listen 127.0.0.1:${ngPort} ssl; ssl_certificate ${dir.path}/cert.pem; ssl_certificate_key ${dir.path}/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { proxy_pass https://lnd; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Authorization ""; proxy_set_header Grpc-Metadata-macaroon ${macHex};
      proxy_ssl_trusted_certificate ${lndDir}/tls.cert; proxy_ssl_verify on; proxy_ssl_name localhost; proxy_ssl_session_reuse on; } } }
`,
    );

    // caddy, same cert, same upstream
    const cdPort = await freePort();
    const caddyfile = join(dir.path, 'Caddyfile');
    await writeFile(
      caddyfile,
      `{
  admin off
  auto_https off
  default_sni ${NAME}
  storage file_system ${dir.path}/caddy
}
https://${NAME}:${cdPort} {
  bind 127.0.0.1
  tls ${dir.path}/cert.pem ${dir.path}/key.pem
  log {
    output discard
  }
  reverse_proxy https://127.0.0.1:${upPort} {
    header_up -Authorization
    header_up Grpc-Metadata-macaroon ${macHex}
    transport http {
      tls_trusted_ca_certs ${lndDir}/tls.cert
      tls_server_name localhost
      keepalive_idle_conns 64
    }
  }
}
`,
    );

    // BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the nodegate engines.
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const headers = [`Host: ${NAME}`, `Authorization: Bearer ${token}`];
    // As deployed: the distribution build (scripts/build.ts) run by plain node with the flags of
    // deploy/systemd/nodegate.service, so the benchmark measures exactly what a node runs. Built once.
    let built: Promise<string> | undefined;
    const deployedEngine = (name: string, flags: () => Promise<string[]>) => ({
      name,
      start: async () => {
        built ??= (async () => {
          const entry = await buildDist(join(dir.path, 'dist'));
          await symlink(join(ROOT, 'node_modules'), join(dir.path, 'node_modules')); // dist/ resolves packages from its parent
          return entry;
        })();
        const entry = await built;
        // its own copy of the data dir (same token key, same cert) on its own port: all run at once
        const distData = await mkdtemp(join(dir.path, 'data-dist-'));
        await cp(dataDir, distData, { recursive: true, filter: (src) => !src.endsWith('.sock') }); // not the running daemon's socket
        const port = await freePort();
        await writeDefaultGatewayConfig(distData, { https: `127.0.0.1:${port}`, serverNames: [NAME], lndRestUrl: `https://127.0.0.1:${upPort}`, lndDir });
        const p = startProcess(process.execPath, [...(await flags()), ...nodeArgs, entry, 'start', '--data', distData], { env: { ...process.env, NODEGATE_LOG_LEVEL: 'warn' } });
        await p.waitFor(/listening on/, 20_000);
        return { proc: p, port, pids: () => Promise.resolve([p.pid]) };
      },
    });
    const engines: { name: string; start: () => Promise<{ pids: () => Promise<number[]>; port: number; proc: RunningProcess }> }[] = [
      {
        name: 'nodegate (node https + undici Pool)',
        start: async () => {
          const p = startProcess(process.execPath, [...nodeArgs, join(ROOT, 'bin/nodegate.js'), 'start', '--data', dataDir], { env: { ...process.env, NODEGATE_LOG_LEVEL: 'warn' } });
          await p.waitFor(/listening on/, 20_000);
          return { proc: p, port: gwPort, pids: () => Promise.resolve([p.pid]) };
        },
      },
      deployedEngine('nodegate as deployed (dist build)', () => deployedNodeFlags()),
      // BENCH_FLAG_VARIANTS="--max-semi-space-size=4;--single-threaded-gc" adds the deployed build
      // once per flag set (';'-separated), to tune the unit's V8 flags against the same load.
      ...(process.env.BENCH_FLAG_VARIANTS ?? '')
        .split(';')
        .filter((v) => v.trim() !== '')
        .map((v) => deployedEngine(`dist build with [${v.trim()}]`, () => Promise.resolve(v.split(' ').filter(Boolean)))),
      {
        name: 'nginx 1 worker',
        start: async () => {
          const p = startProcess('nginx', ['-c', ngConf, '-p', dir.path, '-e', join(dir.path, 'ng-error.log')]);
          await waitPort(ngPort);
          return { proc: p, port: ngPort, pids: () => withChildren(p.pid) };
        },
      },
      {
        name: 'caddy',
        start: async () => {
          const p = startProcess('caddy', ['run', '--config', caddyfile, '--adapter', 'caddyfile'], { env: { ...process.env, HOME: dir.path, XDG_DATA_HOME: dir.path, XDG_CONFIG_HOME: dir.path } });
          await waitPort(cdPort);
          return { proc: p, port: cdPort, pids: () => Promise.resolve([p.pid]) };
        },
      },
      ...(
        [
          ['https-agent', 'alt: node https + https.Agent'],
          ['fastify-undici', 'alt: fastify + undici Pool'],
          ['fastify-reply-from', 'alt: fastify + @fastify/reply-from'],
          ['http-proxy', 'alt: node https + http-proxy'],
          ['floor', 'floor: node https + undici, no checks'],
        ] as const
      ).map(([mode, name]) => ({
        name,
        start: async () => {
          const port = await freePort();
          const p = startProcess(process.execPath, [join(ROOT, 'bin/run-ts.js'), join(ROOT, 'bench/gateway/_engines.ts'), mode, dataDir, String(port), `https://127.0.0.1:${upPort}`, lndDir]);
          await p.waitFor(/engine ready/, 20_000);
          return { proc: p, port, pids: () => Promise.resolve([p.pid]) };
        },
      })),
    ];

    // Every engine runs at once (idle while another is measured), and the loads go round-robin over
    // the engines for several rounds; each figure is the median over the rounds. On a shared machine
    // whose speed drifts by ±30 % over minutes, this keeps the ratios between engines steady.
    const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
    const only = process.env.BENCH_ONLY;
    const loads = (
      [
        ['64 conns keep-alive', 64, headers],
        ['1 conn keep-alive', 1, headers],
        ['16 conns Connection: close', 16, [...headers, 'Connection: close']],
      ] as [string, number, string[]][]
    ).filter(([, conns]) => !process.env.BENCH_CONNS || process.env.BENCH_CONNS.split(',').includes(String(conns)));
    const running: { name: string; port: number; proc: RunningProcess; pids: () => Promise<number[]> }[] = [];
    const samples = new Map<string, Row[]>();
    const rss: Record<string, { rss: number; anon: number }> = {};
    const rssIdle: Record<string, { rss: number; anon: number }> = {};
    const settled: Record<string, { rss: number; anon: number }> = {};
    try {
      for (const engine of engines) {
        if (only && !only.split(',').some((prefix) => engine.name.startsWith(prefix))) continue;
        const started = await engine.start();
        running.push({ name: engine.name, ...started });
        rssIdle[engine.name] = await memoryMb(await started.pids());
        await wrk(started.port, 16, 1, headers); // warm-up: JIT, connection pools, TLS session caches
      }
      for (let round = 0; round < rounds; round++) {
        for (const [load, conns, h] of loads) {
          for (const { name, port, proc, pids } of running) {
            const ids = await pids();
            const before = await cpuTicks(ids);
            let r: WrkResult;
            try {
              r = await wrk(port, conns, seconds, h);
            } catch (err) {
              process.stderr.write(`${name}, ${load}: wrk failed (${(err as Error).message.split('\n')[0]})\n${proc.output().slice(-2000)}\n`);
              r = { rps: NaN, p99Ms: NaN, requests: 0, errors: -1 };
            }
            const after = await cpuTicks(ids);
            const key = `${name}\u0000${load}`;
            const list = samples.get(key) ?? [];
            list.push({ proxy: name, load, round, rps: r.rps, p99Ms: r.p99Ms, cpuUsPerReq: r.requests > 0 ? (((after - before) / CLK_TCK) * 1e6) / r.requests : NaN, errors: r.errors });
            samples.set(key, list);
          }
        }
      }
      for (const { name, pids } of running) rss[name] = await memoryMb(await pids());
      // and once idle connections have timed out and the garbage collectors have caught up
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      for (const { name, pids } of running) settled[name] = await memoryMb(await pids());
    } finally {
      for (const { proc } of running) await proc.stop().catch(() => undefined);
    }
    const median = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)] ?? NaN;
    };
    // Ratios to a peer are taken per round (the two ran back to back, on the machine as it was then)
    // and the median of those is reported: steadier than a ratio of two medians on a drifting machine.
    const ratio = (name: string, load: string, peer: string, field: 'rps' | 'cpuUsPerReq'): string => {
      const mine = samples.get(`${name}\u0000${load}`) ?? [];
      const theirs = samples.get(`${peer}\u0000${load}`) ?? [];
      const per = mine.map((m) => m[field] / (theirs.find((t) => t.round === m.round)?.[field] ?? NaN)).filter((x) => Number.isFinite(x));
      return per.length === 0 ? '-' : median(per).toFixed(2);
    };
    const rows: Row[] = [];
    for (const { name } of running) {
      for (const [load] of loads) {
        const list = samples.get(`${name}\u0000${load}`) ?? [];
        rows.push({ proxy: name, load, round: -1, rps: median(list.map((r) => r.rps)), p99Ms: median(list.map((r) => r.p99Ms)), cpuUsPerReq: median(list.map((r) => r.cpuUsPerReq)), errors: list.reduce((n, r) => n + r.errors, 0) });
      }
    }

    const lines = [
      `| proxy | load | req/s | vs nginx req/s | vs caddy req/s | p99 ms | CPU µs/req | vs nginx CPU | RSS MB (idle → after load → ${SETTLE_MS / 1000} s later) | private MB (same) | errors |`,
      `|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
    ];
    for (const r of rows) {
      const idle = rssIdle[r.proxy];
      const after = rss[r.proxy];
      const later = settled[r.proxy];
      const mb = (x: number | undefined) => (x ?? NaN).toFixed(0);
      lines.push(
        `| ${r.proxy} | ${r.load} | ${r.rps.toFixed(0)} | ${ratio(r.proxy, r.load, 'nginx 1 worker', 'rps')}× | ${ratio(r.proxy, r.load, 'caddy', 'rps')}× | ${r.p99Ms.toFixed(2)} | ${r.cpuUsPerReq.toFixed(0)} | ${ratio(r.proxy, r.load, 'nginx 1 worker', 'cpuUsPerReq')}× | ${mb(idle?.rss)} → ${mb(after?.rss)} → ${mb(later?.rss)} | ${mb(idle?.anon)} → ${mb(after?.anon)} → ${mb(later?.anon)} | ${r.errors} |`,
      );
    }
    const table = `Response body ${Buffer.byteLength(body)} bytes; wrk 1 thread, ${seconds} s per run, median of ${rounds} rounds (engines interleaved); 2 shared cores.\n\n${lines.join('\n')}\n`;
    process.stdout.write(table);
    return table;
  } finally {
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    await dir.remove();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  await main();
}
