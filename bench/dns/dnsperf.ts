/**
 * Queries per second of the embedded authoritative server against Knot DNS (1 UDP worker), both
 * serving the same 10,000 devices, measured with dnsperf (Debian) in one run. The server is pinned
 * to core 0 and dnsperf to core 1 (taskset), same duration each. Before the load, a sample of the
 * query file is asked of both servers and every answer must be identical (rcode, flags, records):
 * a fast server that answers wrongly does not count.
 *
 * Run: `node bin/run-ts.js bench/dns/dnsperf.ts [--seconds 10] [--devices 10000]`. Prints a markdown table.
 * Internal: `--serve-embedded` runs the embedded server in this process (the child that is pinned).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import type { DeviceRecordSet } from '../../ddns/registry/dns-backend.ts';
import { queryDns, rdataText, type DnsAnswer } from '../../ddns/dns-client.ts';
import { startEmbeddedDns } from '../../ddns/registry/dns/server.ts';
import { startKnot } from '../../test/support/knot.ts';
import { startProcess, tempDir } from '../../sim/process.ts';

const run = promisify(execFile);
const ZONE = 'dyn.example.net';
const NAMESERVERS = [{ name: `ns1.${ZONE}`, ipv4: '127.0.0.1' }];
const SERVER_CORE = '0';
const DNSPERF_CORE = '1';
/** Queries in the file dnsperf loops over. */
const QUERY_FILE_LINES = 50_000;
/** Queries asked of both servers to compare answers. */
const VERIFY_SAMPLE = 2_000;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function deviceId(i: number): string {
  const h = createHash('sha256').update(`device-${i}`).digest();
  let id = '';
  for (let j = 0; j < 16; j++) id += BASE32[h[j]! & 31];
  return id;
}

function devices(n: number): DeviceRecordSet[] {
  return Array.from({ length: n }, (_, i) => ({
    id: deviceId(i),
    ipv4: `198.51.${100 + (i >> 8) % 2}.${i & 255}`,
    ipv6: `2001:db8::${i.toString(16)}`,
    lan: `192.168.${(i >> 8) & 255}.${i & 255}`,
    acmeTxt: i % 4 === 0 ? [`txt-${i}-${'x'.repeat(32)}`] : [],
  }));
}

function zoneFileRecords(sets: DeviceRecordSet[]): string {
  const lines: string[] = [];
  for (const d of sets) {
    for (const owner of [d.id, `*.${d.id}`]) {
      lines.push(`${owner} 60 IN A ${d.ipv4}`, `${owner} 60 IN AAAA ${d.ipv6}`);
    }
    lines.push(`lan.${d.id} 60 IN A ${d.lan}`);
    for (const t of d.acmeTxt) lines.push(`_acme-challenge.${d.id} 60 IN TXT "${t}"`);
  }
  return lines.join('\n');
}

/** Mixed queries: 40% A, 20% AAAA, 10% TXT, 20% wildcard A, 10% NXDOMAIN; deterministic. */
function queries(sets: DeviceRecordSet[], n: number): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < n; i++) {
    const d = sets[(i * 7919) % sets.length]!;
    const r = i % 10;
    if (r < 4) out.push([`${d.id}.${ZONE}`, 'A']);
    else if (r < 6) out.push([`${d.id}.${ZONE}`, 'AAAA']);
    else if (r < 7) out.push([`_acme-challenge.${deviceId((i * 4) % sets.length)}.${ZONE}`, 'TXT']);
    else if (r < 9) out.push([`www.${d.id}.${ZONE}`, 'A']);
    else out.push([`nx${i}.${ZONE}`, 'A']);
  }
  return out;
}

interface PerfResult {
  qps: number;
  sent: number;
  completed: number;
  lost: number;
  avgLatencyMs: number;
  stddevLatencyMs: number;
  responseBytes: number;
}

async function dnsperf(port: number, file: string, seconds: number): Promise<PerfResult> {
  const { stdout } = await run('taskset', ['-c', DNSPERF_CORE, 'dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(seconds), '-T', '1', '-c', '4', '-q', '200', '-e'], {
    timeout: (seconds + 30) * 1000,
  });
  const num = (re: RegExp) => {
    const m = re.exec(stdout);
    if (!m) throw new Error(`dnsperf output lacks ${re}:\n${stdout}`);
    return Number(m[1]);
  };
  return {
    qps: num(/Queries per second:\s+([\d.]+)/),
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    stddevLatencyMs: num(/Latency StdDev \(s\):\s+([\d.]+)/) * 1000,
    responseBytes: num(/Average packet size:\s+request \d+, response (\d+)/),
  };
}

function fingerprint(r: DnsAnswer): string {
  const rr = (list: DnsAnswer['answers']) => list.map((a) => `${a.name.toLowerCase()} ${'ttl' in a ? a.ttl : 0} ${a.type} ${rdataText(a).replace(/^(\S+ \S+) \d+/, '$1 SERIAL')}`).sort();
  return JSON.stringify([r.rcode, r.flags.aa, r.flags.tc, rr(r.answers), rr(r.authorities)]);
}

async function serveEmbedded(count: number): Promise<void> {
  // Response rate limiting on for every answer, as on the internet (loopback is exempt by default),
  // at a rate no client reaches: the limiter's cost is measured, its drops are not.
  const dns = await startEmbeddedDns({ zone: ZONE, nameservers: NAMESERVERS, udp: { host: '127.0.0.1', port: 0 }, rateLimit: { responsesPerSecond: 1e9, exempt: [] } });
  await dns.backend.loadAll(devices(count));
  process.stdout.write(`READY ${dns.address().udpPort}\n`);
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
  await dns.close();
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { seconds: { type: 'string', default: '10' }, devices: { type: 'string', default: '10000' }, 'serve-embedded': { type: 'boolean', default: false } } });
  const count = Number(values.devices);
  if (values['serve-embedded']) return serveEmbedded(count);
  const seconds = Number(values.seconds);
  const sets = devices(count);
  const tmp = await tempDir('nodegate-dnsperf-');
  try {
    const qs = queries(sets, QUERY_FILE_LINES);
    const file = join(tmp.path, 'queries.txt');
    await writeFile(file, qs.map(([n, t]) => `${n} ${t}`).join('\n') + '\n');

    const embedded = startProcess('taskset', ['-c', SERVER_CORE, process.execPath, 'bin/run-ts.js', 'bench/dns/dnsperf.ts', '--serve-embedded', '--devices', String(count)]);
    const knot = await startKnot({ zone: ZONE, nameservers: NAMESERVERS, zoneRecords: zoneFileRecords(sets), udpWorkers: 1, wrap: ['taskset', '-c', SERVER_CORE] });
    try {
      const ready = await embedded.waitFor(/READY (\d+)/, 60_000);
      const embeddedPort = Number(/READY (\d+)/.exec(ready)![1]);

      // Same answers from both, on a sample (sequential, bounded).
      let mismatches = 0;
      const firstMismatch: string[] = [];
      for (let i = 0; i < VERIFY_SAMPLE; i++) {
        const [name, type] = qs[(i * 25) % qs.length]!;
        const [a, b] = await Promise.all([queryDns({ host: '127.0.0.1', port: embeddedPort }, name, type), queryDns({ host: knot.host, port: knot.port }, name, type)]);
        if (fingerprint(a) !== fingerprint(b)) {
          mismatches++;
          if (firstMismatch.length < 3) firstMismatch.push(`${name} ${type}: embedded ${fingerprint(a)} knot ${fingerprint(b)}`);
        }
      }
      const sizeE = (await queryDns({ host: '127.0.0.1', port: embeddedPort }, `${sets[0]!.id}.${ZONE}`, 'A')).raw.length;
      const sizeK = (await queryDns({ host: knot.host, port: knot.port }, `${sets[0]!.id}.${ZONE}`, 'A')).raw.length;

      const k = await dnsperf(knot.port, file, seconds);
      const e = await dnsperf(embeddedPort, file, seconds);
      const row = (name: string, r: PerfResult, size: number) =>
        `| ${name} | ${Math.round(r.qps).toLocaleString('en')} | ${r.avgLatencyMs.toFixed(3)} | ${r.stddevLatencyMs.toFixed(3)} | ${r.completed.toLocaleString('en')} | ${r.lost} | ${r.responseBytes} | ${size} |`;
      const lines = [
        `dnsperf ${seconds} s each, ${count.toLocaleString('en')} devices, ${QUERY_FILE_LINES.toLocaleString('en')}-query mix (40% A, 20% AAAA, 10% TXT, 20% wildcard, 10% NXDOMAIN), EDNS0, server on core ${SERVER_CORE}, dnsperf on core ${DNSPERF_CORE} (-T 1 -c 4 -q 200).`,
        '',
        '| server | qps | avg latency ms | latency stddev ms | completed | lost | avg response bytes | A answer bytes |',
        '|---|---|---|---|---|---|---|---|',
        row('knot 3.2 (udp-workers: 1)', k, sizeK),
        row('nodegate embedded (1 Node process)', e, sizeE),
        '',
        `Ratio embedded/knot: **${(e.qps / k.qps).toFixed(2)}×** qps. Answers compared on ${VERIFY_SAMPLE} sample queries: ${mismatches} mismatches.`,
        ...firstMismatch.map((m) => `- mismatch: ${m}`),
        '',
      ];
      process.stdout.write(lines.join('\n'));
      if (mismatches > 0 || e.lost > 0) process.exitCode = 1;
    } finally {
      try {
        await embedded.stop();
      } finally {
        await knot.stop();
      }
    }
  } finally {
    await tmp.remove();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
