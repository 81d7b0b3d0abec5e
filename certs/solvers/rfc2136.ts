/**
 * DNS-01 through the user's own authoritative server: RFC 2136 (DNS UPDATE) signed with TSIG
 * (RFC 8945), as Knot, BIND and PowerDNS accept it.
 *
 * present: one UPDATE that adds `_acme-challenge.<name> TXT "<value>"` (RFC 2136 §2.5.1).
 * cleanup: one UPDATE that deletes that one RR (class NONE, §2.5.4), leaving other values.
 * The message is encoded here (dns-packet cannot write class NONE); the reply's rcode is checked,
 * its TSIG is not verified (a forged "NOERROR" only makes certs/propagation.ts wait and fail).
 */
import { createSocket } from 'node:dgram';
import { createHmac, randomInt } from 'node:crypto';
import { NodegateError } from '../../core/errors.ts';
import { parseHostPort } from '../../core/cli.ts';
import type { Rfc2136SolverConfig } from '../config.ts';
import { challengeRecordName, type Dns01Solver } from '../solver.ts';

/** An UPDATE is answered by a primary on the path at once; 5 s is generous. */
export const UPDATE_TIMEOUT_MS = 5000;
/** TTL of the challenge record: short, so resolvers forget it soon after. */
export const CHALLENGE_TTL_S = 60;
/** TSIG fudge (RFC 8945 §5.2.3 recommends 300 s). */
const TSIG_FUDGE_S = 300;

const OPCODE_UPDATE = 5;
const TYPE_SOA = 6;
const TYPE_TXT = 16;
const TYPE_TSIG = 250;
const CLASS_IN = 1;
const CLASS_NONE = 254;
const CLASS_ANY = 255;

const RCODES: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 6: 'YXDOMAIN', 7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE' };

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').toLowerCase().split('.').filter((l) => l.length > 0);
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'ascii');
    if (bytes.length > 63) throw new TypeError(`DNS label too long in ${name}`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}

function txtRdata(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length || i === 0; i += 255) {
    const part = bytes.subarray(i, i + 255);
    chunks.push(Buffer.from([part.length]), part);
    if (bytes.length === 0) break;
  }
  return Buffer.concat(chunks);
}

/** Encodes an RFC 2136 UPDATE for one TXT RR; `add` false deletes exactly that RR. */
export function encodeTxtUpdate(id: number, zone: string, owner: string, value: string, add: boolean): Buffer {
  const rdata = txtRdata(value);
  return Buffer.concat([
    u16(id),
    u16(OPCODE_UPDATE << 11),
    u16(1), // ZOCOUNT
    u16(0), // PRCOUNT
    u16(1), // UPCOUNT
    u16(0), // ADCOUNT
    encodeName(zone),
    u16(TYPE_SOA),
    u16(CLASS_IN),
    encodeName(owner),
    u16(TYPE_TXT),
    u16(add ? CLASS_IN : CLASS_NONE),
    u32(add ? CHALLENGE_TTL_S : 0),
    u16(rdata.length),
    rdata,
  ]);
}

const HASHES = { 'hmac-sha256': 'sha256', 'hmac-sha512': 'sha512', 'hmac-sha1': 'sha1' } as const;

/** Appends a TSIG RR (RFC 8945 §4.2, MAC over message + variables of §4.3.3). */
export function signTsig(message: Buffer, key: { name: string; algorithm: keyof typeof HASHES; secret: string }, timeSignedS: number): Buffer {
  const keyName = encodeName(key.name);
  const alg = encodeName(key.algorithm);
  const variables = Buffer.concat([keyName, u16(CLASS_ANY), u32(0), alg, u48(timeSignedS), u16(TSIG_FUDGE_S), u16(0), u16(0)]);
  const mac = createHmac(HASHES[key.algorithm], Buffer.from(key.secret, 'base64')).update(message).update(variables).digest();
  const rdata = Buffer.concat([alg, u48(timeSignedS), u16(TSIG_FUDGE_S), u16(mac.length), mac, message.subarray(0, 2), u16(0), u16(0)]);
  const signed = Buffer.concat([message, keyName, u16(TYPE_TSIG), u16(CLASS_ANY), u32(0), u16(rdata.length), rdata]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10); // ARCOUNT += 1
  return signed;
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
    const message = signTsig(encodeTxtUpdate(id, this.#config.zone, owner, value, add), this.#config.tsig, Math.floor(this.#now() / 1000));
    const reply = await this.#send(message, id, signal);
    const rcode = reply.readUInt16BE(2) & 0xf;
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
