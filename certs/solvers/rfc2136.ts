/**
 * DNS-01 through the user's own authoritative server: RFC 2136 (DNS UPDATE) signed with TSIG
 * (RFC 8945), as Knot, BIND and PowerDNS accept it.
 *
 * present: one UPDATE that adds `_acme-challenge.<name> TXT "<value>"` (RFC 2136 §2.5.1).
 * cleanup: one UPDATE that deletes that one RR (class NONE, §2.5.4), leaving other values.
 * Messages come from ddns/dns-update.ts, signatures from ddns/tsig.ts; the reply's TSIG is verified
 * (chained to our request's MAC) before its rcode is believed.
 */
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { buildUpdate } from '../../ddns/dns-update.ts';
import { signMessage, verifyMessage } from '../../ddns/tsig.ts';
import { NodegateError } from '../../core/errors.ts';
import { parseHostPort } from '../../core/cli.ts';
import type { Rfc2136SolverConfig } from '../config.ts';
import { challengeRecordName, type Dns01Solver } from '../solver.ts';

/** An UPDATE is answered by a primary on the path at once; 5 s is generous. */
export const UPDATE_TIMEOUT_MS = 5000;
/** TTL of the challenge record: short, so resolvers forget it soon after. */
export const CHALLENGE_TTL_S = 60;
const RCODES: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 6: 'YXDOMAIN', 7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE' };

/** The UPDATE adding (or deleting exactly) one TXT value, unsigned (ddns/dns-update.ts encodes it). */
export function txtUpdate(id: number, zone: string, owner: string, value: string, add: boolean): Buffer {
  const record = { type: 'TXT' as const, name: owner, ttl: CHALLENGE_TTL_S, data: value };
  return buildUpdate(id, zone, [add ? { op: 'add', record } : { op: 'delete-rr', record }]);
}

export interface Rfc2136SolverOptions {
  now?: () => number;
}

export class Rfc2136Solver implements Dns01Solver {
  readonly kind = 'rfc2136';
  readonly #config: Rfc2136SolverConfig;
  readonly #server: { host: string; port: number };
  readonly #now: () => number;

  constructor(config: Rfc2136SolverConfig, options: Rfc2136SolverOptions = {}) {
    this.#config = config;
    this.#server = parseHostPort(config.server, 'acme.solver.server');
    this.#now = options.now ?? Date.now;
  }

  present(name: string, value: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#update(name, value, true, options.signal);
  }

  cleanup(name: string, value: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#update(name, value, false, options.signal);
  }

  async #update(name: string, value: string, add: boolean, signal: AbortSignal | undefined): Promise<void> {
    const id = randomInt(0, 0x10000);
    const owner = challengeRecordName(name);
    const signed = signMessage(txtUpdate(id, this.#config.zone, owner, value, add), this.#config.tsig, { now: this.#now });
    const reply = await this.#send(signed.message, id, signal);
    const rcode = reply.readUInt16BE(2) & 0xf;
    const peer = `${this.#server.host}:${this.#server.port}`;
    if (rcode !== 9) verifyMessage(reply, this.#config.tsig, { now: this.#now, requestMac: signed.mac, peer }); // NOTAUTH replies to a bad key come unsigned (RFC 8945 §5.3.2)
    if (rcode !== 0) {
      const what = RCODES[rcode] ?? `rcode ${rcode}`;
      const hint = rcode === 9 || rcode === 5 ? 'Check the TSIG key name, algorithm and secret, and that the server allows this key to update the zone.' : `Check that ${this.#config.zone} is a zone the server is primary for.`;
      throw new NodegateError('NG_DNS_UPDATE_REFUSED', `${this.#server.host}:${this.#server.port} refused the UPDATE of ${owner} TXT (${what}). ${hint}`, { details: { rcode: what } });
    }
  }

  #send(message: Buffer, id: number, signal: AbortSignal | undefined): Promise<Buffer> {
    const socket = createSocket(this.#server.host.includes(':') ? 'udp6' : 'udp4');
    return new Promise<Buffer>((resolve, reject) => {
      const finish = (err: Error | undefined, reply?: Buffer) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.close();
        if (err) reject(err);
        else resolve(reply!);
      };
      const onAbort = () => finish(new NodegateError('NG_ABORTED', 'DNS UPDATE cancelled.'));
      const timer = setTimeout(
        () => finish(new NodegateError('NG_DNS_TIMEOUT', `No answer to the DNS UPDATE from ${this.#server.host}:${this.#server.port} within ${UPDATE_TIMEOUT_MS} ms. Check acme.solver.server and that the server runs.`)),
        UPDATE_TIMEOUT_MS,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.on('error', (err) => finish(new NodegateError('NG_DNS_UPDATE_FAILED', `DNS UPDATE to ${this.#server.host}:${this.#server.port} failed: ${err.message}.`, { cause: err })));
      socket.on('message', (msg) => {
        if (msg.length >= 12 && msg.readUInt16BE(0) === id) finish(undefined, msg);
      });
      socket.send(message, this.#server.port, this.#server.host);
    });
  }
}
