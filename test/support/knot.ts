/**
 * Knot DNS (knotd, Debian package `knot`) as a child process for tests and benchmarks: a temp
 * directory with its config, zone file and database, one loopback port (UDP and TCP), a TSIG key
 * and an ACL that allows UPDATE with that key. Stopped by its PID.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TsigKey } from '../../ddns/tsig.ts';
import { freePort, startProcess, tempDir, type RunningProcess } from './process.ts';
import { whenServing, type AuthoritativeServer } from './dns-server.ts';

/** How long knotd may take to start and load its zone, ms (10k records load in well under a second). */
const KNOT_START_TIMEOUT_MS = 20_000;

export interface KnotOptions {
  zone: string;
  /** Apex NS names (the first is the SOA MNAME); in-zone names get A/AAAA records. */
  nameservers?: Array<{ name: string; ipv4?: string; ipv6?: string }>;
  /** SOA RNAME as a name. Default `hostmaster.<zone>`. */
  hostmaster?: string;
  /** Default: a fresh random hmac-sha256 key named `nodegate-test`. */
  tsig?: TsigKey;
  /** Extra zone-file lines (relative or absolute names), e.g. 10,000 devices for a benchmark. */
  zoneRecords?: string;
  /** Default 1 (`udp-workers: 1`, the benchmark's setting). */
  udpWorkers?: number;
  host?: string;
  /** A command knotd is run under, e.g. `['taskset', '-c', '0']` (it must exec knotd, keeping the PID). */
  wrap?: string[];
}

export type KnotServer = AuthoritativeServer;

export async function startKnot(options: KnotOptions): Promise<KnotServer> {
  const zone = options.zone.replace(/\.$/, '').toLowerCase();
  const host = options.host ?? '127.0.0.1';
  const nameservers = options.nameservers ?? [{ name: `ns1.${zone}`, ipv4: '127.0.0.1' }];
  const tsig: TsigKey = options.tsig ?? { name: 'nodegate-test', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('base64') };
  const dir = await tempDir('nodegate-knot-');
  let proc: RunningProcess | undefined;
  try {
    const port = await freePort(host);
    const hostmaster = options.hostmaster ?? `hostmaster.${zone}`;
    const zoneLines = [
      `$ORIGIN ${zone}.`,
      `@ 3600 IN SOA ${nameservers[0]!.name}. ${hostmaster}. 1 3600 600 1209600 30`,
      ...nameservers.map((ns) => `@ 3600 IN NS ${ns.name}.`),
      ...nameservers.flatMap((ns) => {
        const inZone = ns.name === zone || ns.name.endsWith(`.${zone}`);
        if (!inZone) return [];
        return [...(ns.ipv4 ? [`${ns.name}. 3600 IN A ${ns.ipv4}`] : []), ...(ns.ipv6 ? [`${ns.name}. 3600 IN AAAA ${ns.ipv6}`] : [])];
      }),
      options.zoneRecords ?? '',
      '',
    ];
    await writeFile(join(dir.path, `${zone}.zone`), zoneLines.join('\n'));
    const conf = `server:
    rundir: "${dir.path}"
    listen: ${host}@${port}
    udp-workers: ${options.udpWorkers ?? 1}
    tcp-workers: 1
    background-workers: 1

database:
    storage: "${dir.path}/db"

log:
  - target: stderr
    any: info

key:
  - id: ${tsig.name}
    algorithm: ${tsig.algorithm}
    secret: ${tsig.secret}

acl:
  - id: nodegate-update
    key: ${tsig.name}
    action: update

template:
  - id: default
    storage: "${dir.path}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off

zone:
  - domain: ${zone}
    file: "${zone}.zone"
    acl: nodegate-update
`;
    const confPath = join(dir.path, 'knot.conf');
    await writeFile(confPath, conf);
    const wrap = options.wrap ?? [];
    proc = wrap.length > 0 ? startProcess(wrap[0]!, [...wrap.slice(1), 'knotd', '-c', confPath]) : startProcess('knotd', ['-c', confPath]);
    await proc.waitFor(/loaded, serial|zone file parsed|serial \d+/i, KNOT_START_TIMEOUT_MS);
    return await whenServing('knotd', { host, port, zone, tsig, process: proc, dir, timeoutMs: KNOT_START_TIMEOUT_MS });
  } catch (err) {
    try {
      await proc?.stop();
    } finally {
      await dir.remove();
    }
    throw err;
  }
}
