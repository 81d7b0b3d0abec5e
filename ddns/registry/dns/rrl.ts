/**
 * Response rate limiting (RRL) for the embedded server's UDP answers, the defence BIND, Knot and NSD
 * use against reflection attacks: a spoofed flood of queries would otherwise turn the registry
 * into a traffic amplifier aimed at the victim whose address the queries carry.
 *
 * Each (client network, response) pair gets a token bucket of `responsesPerSecond` tokens. The
 * client network is the /24 (IPv4) or /56 (IPv6) the address is in, as spoofed floods spread
 * over neighbouring addresses. The response is the type and the records answered (see
 * {@link rrlKeyOf}: names made up under a wildcard share one bucket); every NXDOMAIN of a network
 * shares one bucket, and so does every error, so random names cannot make new buckets. Past the
 * rate, answers are dropped, but every `slip`-th one goes out truncated (TC=1, no records): a real resolver behind
 * that address retries over TCP, which a spoofed source cannot, and TCP is never limited.
 *
 * Memory is bounded: the table is cleared when it reaches `maxEntries` (the same as letting every
 * bucket refill, which is what a minute of quiet does anyway).
 *
 * Cost: the server computes a response's key once, when it caches the encoded answer
 * ({@link rrlKeyOf}); per answer the limiter parses the address, checks the exemptions and does
 * two map lookups by number (IPv4) — a string parse per query cost a third of the server's rate.
 */
import { isIP } from 'node:net';
import { NodegateError } from '../../../core/errors.ts';
import { parseCidr } from '../addresses.ts';
import { ipv6Bytes } from './wire.ts';

export interface RrlOptions {
  /** Answers per second for one (client network, response); 0 turns limiting off. Default 20. */
  responsesPerSecond?: number;
  /** Every slip-th limited answer goes out truncated instead of dropped; 0 never, 1 always. Default 2. */
  slip?: number;
  /** Default 24. */
  ipv4PrefixLength?: number;
  /** Default 56. */
  ipv6PrefixLength?: number;
  /** Client networks never limited (CIDR, e.g. the vendor's own resolver). Default loopback. */
  exempt?: string[];
  /** Bucket table size bound. Default 100,000. */
  maxEntries?: number;
  /** Monotonic clock in ms (tests). */
  now?: () => number;
}

const RRL_DEFAULT_RATE = 20;
const RRL_DEFAULT_SLIP = 2;
/** Networks never limited unless told otherwise: loopback (a resolver on the same host). */
export const RRL_DEFAULT_EXEMPT: readonly string[] = ['127.0.0.0/8', '::1/128'];

export type RrlVerdict = 'send' | 'slip' | 'drop';

interface Bucket {
  tokens: number;
  last: number;
  limited: number;
}

export class ResponseRateLimiter {
  readonly #rate: number;
  readonly #slip: number;
  readonly #v4Mask: number;
  readonly #v6Bits: number;
  readonly #exempt4: { net: number; mask: number }[] = [];
  readonly #exempt6: { groups: number[]; bits: number }[] = [];
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** network (IPv4 as a number, IPv6 as text) -> response key -> bucket */
  readonly #table = new Map<number | string, Map<number, Bucket>>();
  #entries = 0;

  constructor(options: RrlOptions = {}) {
    this.#rate = options.responsesPerSecond ?? RRL_DEFAULT_RATE;
    this.#slip = options.slip ?? RRL_DEFAULT_SLIP;
    const v4Bits = options.ipv4PrefixLength ?? 24;
    this.#v6Bits = options.ipv6PrefixLength ?? 56;
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#now = options.now ?? (() => performance.now());
    if (!Number.isFinite(this.#rate) || this.#rate < 0) throw new NodegateError('NG_USAGE', `The DNS rate limit must be a number of answers per second, 0 for none; got ${this.#rate}.`);
    if (!Number.isInteger(this.#slip) || this.#slip < 0) throw new NodegateError('NG_USAGE', `The DNS rate limit's slip must be a whole number (0: never send truncated answers); got ${this.#slip}.`);
    if (!Number.isInteger(v4Bits) || v4Bits < 8 || v4Bits > 32) throw new NodegateError('NG_USAGE', 'The IPv4 prefix length for DNS rate limiting must be 8 to 32.');
    if (!Number.isInteger(this.#v6Bits) || this.#v6Bits < 16 || this.#v6Bits > 128) throw new NodegateError('NG_USAGE', 'The IPv6 prefix length for DNS rate limiting must be 16 to 128.');
    this.#v4Mask = mask4(v4Bits);
    for (const cidr of options.exempt ?? RRL_DEFAULT_EXEMPT) {
      let block: ReturnType<typeof parseCidr>;
      try {
        block = parseCidr(cidr.includes('/') ? cidr : `${cidr}/${isIP(cidr) === 6 ? 128 : 32}`); // a bare address is its own network
      } catch {
        throw new NodegateError('NG_USAGE', `A DNS rate-limit exemption must be an address or CIDR (for example 192.0.2.0/24), got "${cidr}".`);
      }
      if (block.family === 'ipv4') this.#exempt4.push({ net: (parse4(block.address) & mask4(block.prefix)) >>> 0, mask: mask4(block.prefix) });
      else this.#exempt6.push({ groups: expand6(block.address), bits: block.prefix });
    }
  }

  get enabled(): boolean {
    return this.#rate > 0;
  }

  /** Buckets held (for stats and tests). */
  get size(): number {
    return this.#entries;
  }

  /**
   * What to do with a UDP answer to `address` whose response key ({@link rrlKeyOf}) is `key`:
   * send it, send it truncated (slip) or drop it.
   */
  check(address: string, key: number): RrlVerdict {
    if (this.#rate <= 0) return 'send';
    let network: number | string;
    const v4 = parse4(address);
    if (v4 >= 0) {
      for (const e of this.#exempt4) if (((v4 & e.mask) >>> 0) === e.net) return 'send';
      network = (v4 & this.#v4Mask) >>> 0;
    } else {
      if (isIP(address) !== 6) return 'send';
      const groups = expand6(address);
      for (const e of this.#exempt6) if (sameNetwork6(groups, e.groups, e.bits)) return 'send';
      network = prefix6(groups, this.#v6Bits);
    }
    const now = this.#now();
    let buckets = this.#table.get(network);
    let bucket = buckets?.get(key);
    if (bucket === undefined) {
      if (this.#entries >= this.#maxEntries) {
        this.#table.clear();
        this.#entries = 0;
        buckets = undefined;
      }
      if (buckets === undefined) {
        buckets = new Map();
        this.#table.set(network, buckets);
      }
      bucket = { tokens: this.#rate, last: now, limited: 0 };
      buckets.set(key, bucket);
      this.#entries++;
    } else {
      bucket.tokens = Math.min(this.#rate, bucket.tokens + ((now - bucket.last) / 1000) * this.#rate);
      bucket.last = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 'send';
    }
    bucket.limited++;
    return this.#slip > 0 && bucket.limited % this.#slip === 0 ? 'slip' : 'drop';
  }
}

/** The truncated form of `response`: same id, flags with TC, the question only. */
export function slipResponse(response: Buffer): Buffer {
  const end = questionEnd(response);
  const out = Buffer.from(response.subarray(0, end));
  out[2] = out[2]! | 0x02; // TC
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}

/** Offset just past the (single) question, or the header's end when there is none. */
function questionEnd(msg: Buffer): number {
  if (msg.length < 12 || msg.readUInt16BE(4) === 0) return Math.min(12, msg.length);
  let i = 12;
  while (i < msg.length) {
    const len = msg[i]!;
    if (len === 0) return Math.min(i + 5, msg.length);
    if ((len & 0xc0) !== 0) return Math.min(i + 6, msg.length); // a pointer ends the name
    i += len + 1;
  }
  return msg.length;
}

/** Keys of the two shared buckets. */
const KEY_NXDOMAIN = 1;
const KEY_ERROR = 2;

/**
 * The rate-limit key of an encoded response: every NXDOMAIN shares one, every error one; other
 * answers go by type and the records sent (a 32-bit FNV-1a hash of them). The records, not the
 * name asked: answers refer to the question's name by a compression pointer, so names made up
 * under a wildcard (one answer for all) and empty answers (the same SOA) share a bucket instead
 * of each getting their own. Computed once per cached answer by the server.
 */
export function rrlKeyOf(msg: Buffer): number {
  const rcode = msg.length >= 4 ? msg[3]! & 0x0f : 2;
  if (rcode === 3) return KEY_NXDOMAIN;
  if (rcode !== 0) return KEY_ERROR;
  const end = questionEnd(msg);
  if (end < 16) return KEY_ERROR;
  let h = 0x811c9dc5;
  const add = (byte: number) => {
    h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  };
  add(msg[end - 4]!);
  add(msg[end - 3]!); // the type asked
  for (let i = end; i < msg.length; i++) add(msg[i]!);
  return h < 16 ? h + 16 : h; // never one of the shared keys
}

/** Dotted IPv4 text to its 32-bit value, or -1 when it is not one. */
function parse4(text: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 46 && digits > 0 && dots < 3) {
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else return -1;
  }
  return dots === 3 && digits > 0 ? value * 256 + part : -1;
}

function mask4(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function sameNetwork6(a: number[], b: number[], bits: number): boolean {
  for (let g = 0; g < 8 && bits > 0; g++, bits -= 16) {
    const keep = Math.min(16, bits);
    const mask = (0xffff << (16 - keep)) & 0xffff;
    if ((a[g]! & mask) !== (b[g]! & mask)) return false;
  }
  return true;
}

function prefix6(groups: number[], bits: number): string {
  let out = '';
  for (let g = 0; g < 8; g++) {
    const keep = Math.max(0, Math.min(16, bits - g * 16));
    if (keep === 0) break;
    const mask = keep === 16 ? 0xffff : (0xffff << (16 - keep)) & 0xffff;
    out += (groups[g]! & mask).toString(16) + ':';
  }
  return out;
}

/** The eight 16-bit groups of an IPv6 address. */
function expand6(address: string): number[] {
  const bytes = ipv6Bytes(address);
  return Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2));
}
