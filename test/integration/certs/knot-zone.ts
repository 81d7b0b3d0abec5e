/**
 * The certs tests' view of the DNS part's Knot harness (test/support/knot.ts): one zone on
 * 127.0.0.1 accepting TSIG-signed UPDATEs, plus its "HOST:PORT" for configs.
 */
import { startKnot, type KnotServer } from '../../support/knot.ts';

export interface KnotZone extends KnotServer {
  /** "127.0.0.1:PORT" */
  readonly address: string;
}

export async function startKnotZone(zone: string): Promise<KnotZone> {
  const knot = await startKnot({ zone });
  return Object.assign(knot, { address: `${knot.host}:${knot.port}` });
}
