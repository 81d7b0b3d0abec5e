/**
 * Record changes per second through each DnsBackend with 100,000 devices already published:
 * the embedded server (in-process putDevice: zone change + cache invalidation + serial) and Knot
 * fed by Rfc2136Backend (one TSIG-signed UPDATE over TCP per change, 8 in flight). Each change is
 * checked afterwards on a sample by querying the server.
 *
 * Run: `node bin/run-ts.js bench/dns/updates.ts [--devices 100000]`. Prints a markdown table.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import type { DeviceRecordSet, DnsBackend } from '../../ddns/registry/dns-backend.ts';
import { queryDns, rdataText } from '../../ddns/dns-client.ts';
import { startEmbeddedDns } from '../../ddns/registry/dns/server.ts';
import { Rfc2136Backend } from '../../ddns/registry/rfc2136.ts';
import { startKnot } from '../../test/support/knot.ts';

const ZONE = 'dyn.example.net';
const NAMESERVERS = [{ name: `ns1.${ZONE}`, ipv4: '127.0.0.1' }];
/** Bounds per backend: at most this many changes, for at most this long. */
const MAX_CHANGES = { embedded: 50_000, knot: 5_000 };
const MAX_SECONDS = 10;
const IN_FLIGHT = 8;

const id = (i: number) => `dev${i.toString(36).padStart(13, '0')}`;
const device = (i: number, generation: number): DeviceRecordSet => ({
  id: id(i),
  ipv4: `198.51.100.${(i + generation) & 255}`,
  ipv6: null,
  lan: `192.168.${(i >> 8) & 255}.${i & 255}`,
  acmeTxt: [],
});

async function measure(backend: DnsBackend, devices: number, max: number): Promise<{ changes: number; perSecond: number; lastIndex: number }> {
  const start = performance.now();
  const deadline = start + MAX_SECONDS * 1000;
  let next = 0;
  const worker = async () => {
    while (next < max && performance.now() < deadline) {
      const i = next++;
      await backend.putDevice(device((i * 7919) % devices, 1));
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - start) / 1000;
  return { changes: next, perSecond: next / seconds, lastIndex: next - 1 };
}

async function verify(server: { host: string; port: number }, devices: number, changes: number): Promise<number> {
  let wrong = 0;
  for (let k = 0; k < Math.min(changes, 200); k++) {
    const i = (k * 7919) % devices;
    const r = await queryDns(server, `${id(i)}.${ZONE}`, 'A');
    if (r.answers.map(rdataText).join() !== device(i, 1).ipv4) wrong++;
  }
  return wrong;
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { devices: { type: 'string', default: '100000' } } });
  const count = Number(values.devices);
  const all = Array.from({ length: count }, (_, i) => device(i, 0));

  const dns = await startEmbeddedDns({ zone: ZONE, nameservers: NAMESERVERS, udp: { host: '127.0.0.1', port: 0 } });
  let embedded: Awaited<ReturnType<typeof measure>>;
  let embeddedWrong: number;
  const loadStart = performance.now();
  try {
    await dns.backend.loadAll(all);
    const loadMs = performance.now() - loadStart;
    process.stdout.write(`embedded: loaded ${count.toLocaleString('en')} devices in ${Math.round(loadMs)} ms\n`);
    embedded = await measure(dns.backend, count, MAX_CHANGES.embedded);
    embeddedWrong = await verify({ host: '127.0.0.1', port: dns.address().udpPort }, count, embedded.changes);
  } finally {
    await dns.close();
  }

  const zoneRecords = all.map((d) => `${d.id} 60 IN A ${d.ipv4}\n*.${d.id} 60 IN A ${d.ipv4}\nlan.${d.id} 60 IN A ${d.lan}`).join('\n');
  const knot = await startKnot({ zone: ZONE, nameservers: NAMESERVERS, zoneRecords, udpWorkers: 1 });
  let viaKnot: Awaited<ReturnType<typeof measure>>;
  let knotWrong: number;
  try {
    const backend = new Rfc2136Backend({ server: { host: knot.host, port: knot.port }, zone: ZONE, tsig: knot.tsig });
    viaKnot = await measure(backend, count, MAX_CHANGES.knot);
    knotWrong = await verify({ host: knot.host, port: knot.port }, count, viaKnot.changes);
  } finally {
    await knot.stop();
  }
  const rows = [
    '',
    `Device record changes with ${count.toLocaleString('en')} devices published, ${IN_FLIGHT} in flight, at most ${MAX_SECONDS} s each.`,
    '',
    '| backend | changes | changes/s | wrong answers after (sample of 200) |',
    '|---|---|---|---|',
    `| embedded (putDevice in process) | ${embedded.changes.toLocaleString('en')} | ${Math.round(embedded.perSecond).toLocaleString('en')} | ${embeddedWrong} |`,
    `| knot 3.2 via Rfc2136Backend (TSIG UPDATE over TCP) | ${viaKnot.changes.toLocaleString('en')} | ${Math.round(viaKnot.perSecond).toLocaleString('en')} | ${knotWrong} |`,
    '',
  ];
  process.stdout.write(rows.join('\n'));
  if (embeddedWrong > 0 || knotWrong > 0) process.exitCode = 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
