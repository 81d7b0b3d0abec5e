/**
 * Registry updates per second with 100,000 devices registered (bulk-created in the store), embedded
 * DNS backend:
 * 1. signed address updates through the HTTP API (fresh EdDSA JWT per request, verified, stored
 *    with synchronous=FULL, published to the embedded server), load from wrk (one thread, 32
 *    connections, bench/registry/wrk-updates.lua) with tokens signed beforehand, each used once;
 * 2. straight store + backend (no HTTP, no JWT): the floor the API sits on;
 * 3. the same with synchronous=NORMAL, to show what the durability choice costs.
 * Also: start-up time to load 100,000 devices into the embedded server.
 * Bounded: fixed counts, every server on loopback, stopped in finally.
 *
 * `node bin/run-ts.js bench/registry/updates.ts [DEVICES]` prints a markdown table.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../../core/log.ts';
import { deviceIdFromPublicKey, generateIdentity } from '../../ddns/client/identity.ts';
import { RegistryClient } from '../../ddns/client/registry-client.ts';
import { startRegistry, REGISTRY_DB_FILE } from '../../ddns/registry/main.ts';
import { SqliteStore, type StoredDevice } from '../../ddns/registry/store.ts';
import { GroupCommitter } from '../../ddns/registry/group-commit.ts';
import { startEmbeddedDns } from '../../ddns/registry/dns/server.ts';
import { queryDns } from '../../ddns/dns-client.ts';
import { tempDir } from '../../sim/process.ts';

const run = promisify(execFile);
const ZONE = 'dyn.bench.example';
const DEVICES = Number(process.argv[2] ?? 100_000);
/** Devices with real keys that send signed updates (the rest only sit in the store and the zone). */
const SIGNING_DEVICES = 200;
/** Pre-signed tokens: more than wrk can send in {@link HTTP_SECONDS} here, so none is reused. */
const HTTP_TOKENS = 40_000;
const HTTP_SECONDS = 5;
const HTTP_CONCURRENCY = 32;
const DIRECT_UPDATES = 5_000;

function fillerDevice(now: number): StoredDevice {
  const raw = randomBytes(32);
  return { id: deviceIdFromPublicKey(raw), publicKey: raw.toString('base64url'), ipv4: '198.51.100.1', ipv6: null, lan: null, acmeTxt: [], updateSecretHash: null, createdAt: now, updatedAt: now };
}

/** `concurrency` 1: one transaction per update; above 1: that many writers through the group committer. */
async function directUpdates(dataDir: string, synchronous: 'FULL' | 'NORMAL', ids: string[], concurrency = 1): Promise<{ perSecond: number; p99: number }> {
  const store = new SqliteStore(join(dataDir, REGISTRY_DB_FILE), { synchronous });
  const dns = await startEmbeddedDns({ zone: ZONE, nameservers: [{ name: `ns.${ZONE}`, ipv4: '127.0.0.1' }], udp: { host: '127.0.0.1', port: 0 } });
  try {
    const sets = [];
    for (const d of store.devices()) sets.push({ id: d.id, ipv4: d.ipv4, ipv6: d.ipv6, lan: d.lan, acmeTxt: d.acmeTxt });
    await dns.backend.loadAll(sets);
    const lat: number[] = [];
    const writer = new GroupCommitter(store, Date.now);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (;;) {
          const i = next++;
          if (i >= DIRECT_UPDATES) return;
          const s = performance.now();
          const id = ids[(i * 7 + concurrency) % ids.length]!;
          const records = { ipv4: `198.51.100.${i % 250}`, ipv6: null, lan: null, acmeTxt: [] };
          const d = concurrency === 1 ? store.setRecords(id, records, Date.now()) : await writer.setRecords(id, records);
          await dns.backend.putDevice({ id, ipv4: d.ipv4, ipv6: d.ipv6, lan: d.lan, acmeTxt: d.acmeTxt });
          lat.push(performance.now() - s);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    return { perSecond: DIRECT_UPDATES / seconds, p99: lat[Math.floor(lat.length * 0.99)]! };
  } finally {
    await dns.close();
    store.close();
  }
}

/** Requests/s, latency percentiles (ms) and non-2xx count from `wrk --latency` output. */
function parseWrk(out: string): { perSecond: number; p50: number; p99: number; errors: number; requests: number } {
  const ms = (m: RegExpExecArray | null) => {
    if (!m) throw new Error(`unexpected wrk output:\n${out}`);
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const perSecond = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  if (!Number.isFinite(perSecond) || !Number.isFinite(requests)) throw new Error(`unexpected wrk output:\n${out}`);
  return { perSecond, requests, errors, p50: ms(/\s50%\s+([\d.]+)(us|ms|s)/.exec(out)), p99: ms(/\s99%\s+([\d.]+)(us|ms|s)/.exec(out)) };
}

export async function main(): Promise<string> {
  const dir = await tempDir('ng-bench-registry-');
  try {
    const dataDir = join(dir.path, 'registry');
    const now = Date.now();
    const signers = Array.from({ length: SIGNING_DEVICES }, () => generateIdentity());
    const store = new SqliteStore(join(dataDir, REGISTRY_DB_FILE));
    const t0 = performance.now();
    store.insertDevices(
      (function* () {
        for (const s of signers) yield { ...fillerDevice(now), id: s.id, publicKey: s.publicJwk.x };
        for (let i = signers.length; i < DEVICES; i++) yield fillerDevice(now);
      })(),
    );
    const bulkSeconds = (performance.now() - t0) / 1000;
    const count = store.countDevices();
    store.close();

    const startT = performance.now();
    const registry = await startRegistry({
      zone: ZONE,
      dataDir,
      api: { host: '127.0.0.1', port: 0 },
      dns: { host: '127.0.0.1', port: 0 },
      allowAddresses: ['198.51.100.0/24', '2001:db8::/32'],
      rateLimits: { api: { burst: 1e9, perSecond: 1e9 } },
      logger: createLogger({ level: 'warn' }),
    });
    const startSeconds = (performance.now() - startT) / 1000;
    let http: { perSecond: number; p50: number; p99: number; errors: number; requests: number };
    try {
      const clients = signers.map((identity) => new RegistryClient({ url: registry.apiUrl, identity, zone: ZONE }));
      const lines: string[] = [];
      for (let i = 0; i < HTTP_TOKENS; i++) {
        const client = clients[i % clients.length]!;
        lines.push(`${client.identity.id} ${await client.token()}`);
      }
      const tokensFile = join(dir.path, 'tokens.txt');
      await writeFile(tokensFile, lines.join('\n') + '\n', { mode: 0o600 });
      const { stdout } = await run('wrk', ['-t1', `-c${HTTP_CONCURRENCY}`, `-d${HTTP_SECONDS}s`, '--latency', '-s', 'bench/registry/wrk-updates.lua', registry.apiUrl, '--', tokensFile, '1'], { timeout: 120_000 });
      http = parseWrk(stdout);
      const probe = await queryDns(registry.dnsAddress, `${signers[0]!.id}.${ZONE}`, 'A');
      if (probe.answers.length !== 1) throw new Error('the last update is not served');
    } finally {
      await registry.close();
    }
    const ids = signers.map((s) => s.id);
    const full = await directUpdates(dataDir, 'FULL', ids);
    const normal = await directUpdates(dataDir, 'NORMAL', ids);
    const grouped = await directUpdates(dataDir, 'FULL', ids, HTTP_CONCURRENCY);

    const f = (n: number, d = 0) => n.toFixed(d);
    const table = [
      `Registry updates, ${count.toLocaleString('en')} devices registered, embedded DNS backend (${new Date().toISOString().slice(0, 10)})`,
      '',
      '| path | updates/s | p50 ms | p99 ms | vs store+backend (FULL) |',
      '|---|---:|---:|---:|---:|',
      `| HTTP API, signed EdDSA JWT per request, wrk ${HTTP_CONCURRENCY} connections ${HTTP_SECONDS} s, ${http.requests} updates (non-2xx: ${http.errors}) | ${f(http.perSecond)} | ${f(http.p50, 2)} | ${f(http.p99, 2)} | ${f(http.perSecond / full.perSecond, 2)}× |`,
      `| store (SQLite WAL, synchronous=FULL) + embedded backend, sequential, ${DIRECT_UPDATES} | ${f(full.perSecond)} | – | ${f(full.p99, 2)} | 1.00× |`,
      `| store (synchronous=FULL) through group commit, ${HTTP_CONCURRENCY} concurrent writers, + embedded backend, ${DIRECT_UPDATES} | ${f(grouped.perSecond)} | – | ${f(grouped.p99, 2)} | ${f(grouped.perSecond / full.perSecond, 2)}× |`,
      `| store (SQLite WAL, synchronous=NORMAL: not durable on power loss) + embedded backend, sequential, ${DIRECT_UPDATES} | ${f(normal.perSecond)} | – | ${f(normal.p99, 2)} | ${f(normal.perSecond / full.perSecond, 2)}× |`,
      '',
      `Bulk insert of ${count.toLocaleString('en')} devices into the store: ${f(bulkSeconds, 1)} s; registry start-up (open store, load all into the embedded server, listen): ${f(startSeconds, 1)} s.`,
    ].join('\n');
    return table;
  } finally {
    await dir.remove();
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('bench/registry/updates.ts')) {
  process.stdout.write((await main()) + '\n');
}
