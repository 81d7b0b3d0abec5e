/**
 * What the Knot and BIND harnesses share once their daemon is launched: a bounded wait until the
 * zone is served (SOA answered NOERROR with AA), then the handle that stops the daemon by PID and
 * removes its directory.
 */
import { queryDns } from '../../ddns/dns-client.ts';
import type { TsigKey } from '../../ddns/tsig.ts';
import { stopThenRemove, type RunningProcess } from './process.ts';

/** Pause between readiness queries. */
const READY_POLL_MS = 100;

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

export async function whenServing(
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
