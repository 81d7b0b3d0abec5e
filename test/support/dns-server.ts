/**
 * What the Knot and BIND harnesses share: the options they take, a temp directory with the zone file
 * (SOA, apex NS, glue for in-zone nameservers) and the daemon's config, a free loopback port, a
 * bounded wait until the zone is served (SOA answered NOERROR with AA), then the handle that stops
 * the daemon by PID and removes its directory.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { queryDns } from '../../ddns/dns-client.ts';
import type { TsigKey } from '../../ddns/tsig.ts';
import { freePort, stopThenRemove, tempDir, type RunningProcess } from '../../sim/process.ts';

/** Pause between readiness queries. */
const READY_POLL_MS = 100;

export interface AuthoritativeOptions {
  zone: string;
  /** Apex NS names (the first is the SOA MNAME); in-zone names get A/AAAA records. */
  nameservers?: Array<{ name: string; ipv4?: string; ipv6?: string }>;
  /** SOA RNAME as a name. Default `hostmaster.<zone>`. */
  hostmaster?: string;
  /** Default: a fresh random hmac-sha256 key named `nodegate-test`. */
  tsig?: TsigKey;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface AuthoritativeServer {
  host: string;
  port: number;
  zone: string;
  tsig: TsigKey;
  pid: number;
  dir: string;
  process: RunningProcess;
  stop(): Promise<void>;
}

/** How one daemon is configured and launched: what `startAuthoritative` leaves to bind.ts and knot.ts. */
export interface AuthoritativeDaemon {
  /** Named in errors, e.g. `knotd`. */
  name: string;
  /** Prefix of the temp directory. */
  dirPrefix: string;
  /** Extra zone-file lines after the apex and glue records. */
  zoneRecords?: string;
  /** The config file's name in the temp directory, and its text. */
  configFile: string;
  config(c: { dir: string; host: string; port: number; zone: string; tsig: TsigKey }): string;
  launch(configPath: string): RunningProcess;
  /** A line the daemon prints once it has loaded the zone. */
  loaded: RegExp;
  /** Bound on start-up and on the wait for the zone to be served, ms. */
  startTimeoutMs: number;
}

/** Starts `daemon` serving `options.zone`; on any failure it is stopped and its directory removed. */
export async function startAuthoritative(options: AuthoritativeOptions, daemon: AuthoritativeDaemon): Promise<AuthoritativeServer> {
  const zone = options.zone.replace(/\.$/, '').toLowerCase();
  const host = options.host ?? '127.0.0.1';
  const nameservers = options.nameservers ?? [{ name: `ns1.${zone}`, ipv4: '127.0.0.1' }];
  const tsig: TsigKey = options.tsig ?? { name: 'nodegate-test', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('base64') };
  const dir = await tempDir(daemon.dirPrefix);
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
      ...(daemon.zoneRecords === undefined ? [] : [daemon.zoneRecords]),
      '',
    ];
    await writeFile(join(dir.path, `${zone}.zone`), zoneLines.join('\n'));
    const configPath = join(dir.path, daemon.configFile);
    await writeFile(configPath, daemon.config({ dir: dir.path, host, port, zone, tsig }));
    proc = daemon.launch(configPath);
    await proc.waitFor(daemon.loaded, daemon.startTimeoutMs);
    return await whenServing(daemon.name, { host, port, zone, tsig, process: proc, dir, timeoutMs: daemon.startTimeoutMs });
  } catch (err) {
    try {
      await proc?.stop();
    } finally {
      await dir.remove();
    }
    throw err;
  }
}

async function whenServing(
  name: string,
  o: { host: string; port: number; zone: string; tsig: TsigKey; process: RunningProcess; dir: { path: string; remove(): Promise<void> }; timeoutMs: number },
): Promise<AuthoritativeServer> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    try {
      const r = await queryDns({ host: o.host, port: o.port }, o.zone, 'SOA', { timeoutMs: 500 });
      if (r.rcode === 'NOERROR' && r.flags.aa) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} did not serve ${o.zone} within ${o.timeoutMs} ms:\n${o.process.output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
  const { process: running, dir } = o;
  return {
    host: o.host,
    port: o.port,
    zone: o.zone,
    tsig: o.tsig,
    pid: running.pid,
    dir: dir.path,
    process: running,
    stop: () => stopThenRemove(running, dir),
  };
}
