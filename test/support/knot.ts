/**
 * Knot DNS (knotd, Debian package `knot`) as a child process for tests and benchmarks: a temp
 * directory with its config, zone file and database, one loopback port (UDP and TCP), a TSIG key
 * and an ACL that allows UPDATE with that key. Stopped by its PID.
 */
import { startProcess } from '../../sim/process.ts';
import { startAuthoritative, type AuthoritativeOptions, type AuthoritativeServer } from './dns-server.ts';

/** How long knotd may take to start and load its zone, ms (10k records load in well under a second). */
const KNOT_START_TIMEOUT_MS = 20_000;

export interface KnotOptions extends AuthoritativeOptions {
  /** Extra zone-file lines (relative or absolute names), e.g. 10,000 devices for a benchmark. */
  zoneRecords?: string;
  /** Default 1 (`udp-workers: 1`, the benchmark's setting). */
  udpWorkers?: number;
  /** A command knotd is run under, e.g. `['taskset', '-c', '0']` (it must exec knotd, keeping the PID). */
  wrap?: string[];
}

export type KnotServer = AuthoritativeServer;

export function startKnot(options: KnotOptions): Promise<KnotServer> {
  return startAuthoritative(options, {
    name: 'knotd',
    dirPrefix: 'nodegate-knot-',
    zoneRecords: options.zoneRecords,
    configFile: 'knot.conf',
    config: ({ dir, host, port, zone, tsig }) => `server:
    rundir: "${dir}"
    listen: ${host}@${port}
    udp-workers: ${options.udpWorkers ?? 1}
    tcp-workers: 1
    background-workers: 1

database:
    storage: "${dir}/db"

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
    storage: "${dir}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off

zone:
  - domain: ${zone}
    file: "${zone}.zone"
    acl: nodegate-update
`,
    launch: (configPath) => {
      const wrap = options.wrap ?? [];
      return wrap.length > 0 ? startProcess(wrap[0]!, [...wrap.slice(1), 'knotd', '-c', configPath]) : startProcess('knotd', ['-c', configPath]);
    },
    loaded: /loaded, serial|zone file parsed|serial \d+/i,
    startTimeoutMs: KNOT_START_TIMEOUT_MS,
  });
}
