/**
 * TSIG: secret-key transaction authentication for DNS (RFC 8945), for signing RFC 2136 UPDATE
 * requests and VERIFYING the server's signed reply. No maintained npm package does this.
 *
 * - Request MAC (§4.3.3): HMAC(key, message without TSIG || TSIG variables).
 * - Response MAC (§4.3.3, §5.3): HMAC(key, request MAC length (16 bit) || request MAC ||
 *   response without TSIG (ARCOUNT one less, Original ID in place of the id) || TSIG variables).
 * - TSIG variables (§4.3.3): key name (canonical: lowercase, uncompressed), class ANY, TTL 0,
 *   algorithm name (canonical), time signed (48 bit), fudge, error, other len, other data.
 * - The TSIG RR must be the last record of the additional section (§5.1).
 * - Errors (§5.2): BADSIG 16, BADKEY 17, BADTIME 18, BADTRUNC 22; the server answers NOTAUTH
 *   and, for BADSIG/BADKEY, an unsigned TSIG (MAC size 0).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { NodegateError } from '../core/errors.ts';

export const TSIG_ALGORITHMS = {
  'hmac-sha1': 'sha1',
  'hmac-sha224': 'sha224',
  'hmac-sha256': 'sha256',
  'hmac-sha384': 'sha384',
  'hmac-sha512': 'sha512',
} as const;
export type TsigAlgorithm = keyof typeof TSIG_ALGORITHMS;

/** A TSIG key as configured on the server (`key: - id: NAME algorithm: ALG secret: BASE64`). */
export interface TsigKey {
  /** Key name, a DNS name (`nodegate-registry`). */
  name: string;
  algorithm: TsigAlgorithm;
  /** The shared secret, base64. */
  secret: string;
}

/** Allowed clock difference, s (RFC 8945 §10 recommends 300). */
export const TSIG_FUDGE_S = 300;
const TYPE_TSIG = 250;
const CLASS_ANY = 255;
export const TSIG_ERROR = { NOERROR: 0, BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;

/** Canonical wire form of a name: lowercase labels, no compression. */
export function canonicalName(name: string): Buffer {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const parts: Buffer[] = [];
  if (trimmed !== '') {
    for (const label of trimmed.toLowerCase().split('.')) {
      const bytes = Buffer.from(label, 'utf8');
      if (bytes.length === 0 || bytes.length > 63) throw new TypeError(`"${name}" is not a valid DNS name`);
      parts.push(Buffer.from([bytes.length]), bytes);
    }
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function keyBytes(key: TsigKey): Buffer {
  const secret = Buffer.from(key.secret, 'base64');
  if (secret.length === 0) throw new TypeError(`TSIG key "${key.name}" has an empty or non-base64 secret`);
  return secret;
}

function hashOf(key: TsigKey): string {
  const h = (TSIG_ALGORITHMS as Record<string, string>)[key.algorithm];
  if (!h) throw new TypeError(`unsupported TSIG algorithm "${key.algorithm}" (use one of ${Object.keys(TSIG_ALGORITHMS).join(', ')})`);
  return h;
}

interface TsigVariables {
  keyName: Buffer;
  algorithm: Buffer;
  timeSigned: number;
  fudge: number;
  error: number;
  otherData: Buffer;
}

function variablesBytes(v: TsigVariables): Buffer {
  const fixed = Buffer.alloc(2 + 4);
  fixed.writeUInt16BE(CLASS_ANY, 0);
  fixed.writeUInt32BE(0, 2);
  const tail = Buffer.alloc(6 + 2 + 2 + 2);
  writeUint48(tail, v.timeSigned, 0);
  tail.writeUInt16BE(v.fudge, 6);
  tail.writeUInt16BE(v.error, 8);
  tail.writeUInt16BE(v.otherData.length, 10);
  return Buffer.concat([v.keyName, fixed, v.algorithm, tail, v.otherData]);
}

function writeUint48(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt16BE(Math.floor(value / 2 ** 32) & 0xffff, offset);
  buf.writeUInt32BE(value >>> 0, offset + 2);
}

function readUint48(buf: Buffer, offset: number): number {
  return buf.readUInt16BE(offset) * 2 ** 32 + buf.readUInt32BE(offset + 2);
}

function computeMac(key: TsigKey, parts: Buffer[]): Buffer {
  const hmac = createHmac(hashOf(key), keyBytes(key));
  for (const p of parts) hmac.update(p);
  return hmac.digest();
}

function macPrefix(requestMac: Buffer | undefined): Buffer[] {
  if (!requestMac) return [];
  const len = Buffer.alloc(2);
  len.writeUInt16BE(requestMac.length, 0);
  return [len, requestMac];
}

export interface SignOptions {
  /** Clock, ms since the epoch. */
  now?: () => number;
  fudgeS?: number;
  /** When signing a response: the MAC of the request it answers. */
  requestMac?: Buffer;
  /** TSIG error to put in the record (responses only). */
  error?: number;
}

/**
 * Appends a TSIG RR to `message` (a complete DNS message without TSIG) and returns the signed
 * message and its MAC (keep it: the reply's MAC is chained to it).
 */
export function signMessage(message: Buffer, key: TsigKey, opts: SignOptions = {}): { message: Buffer; mac: Buffer } {
  if (message.length < 12) throw new TypeError('not a DNS message');
  const vars: TsigVariables = {
    keyName: canonicalName(key.name),
    algorithm: canonicalName(key.algorithm),
    timeSigned: Math.floor((opts.now ?? Date.now)() / 1000),
    fudge: opts.fudgeS ?? TSIG_FUDGE_S,
    error: opts.error ?? 0,
    otherData: Buffer.alloc(0),
  };
  const mac = computeMac(key, [...macPrefix(opts.requestMac), message, variablesBytes(vars)]);
  const signed = Buffer.concat([message, tsigRecord({ ...vars, mac, originalId: message.readUInt16BE(0) })]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { message: signed, mac };
}

/** Skips a (possibly compressed) name; returns the offset after it. */
function skipName(buf: Buffer, offset: number): number {
  let i = offset;
  for (let guard = 0; guard < 128; guard++) {
    if (i >= buf.length) throw new RangeError('name past end');
    const l = buf[i]!;
    if (l === 0) return i + 1;
    if ((l & 0xc0) === 0xc0) {
      if (i + 2 > buf.length) throw new RangeError('pointer past end');
      return i + 2;
    }
    if ((l & 0xc0) !== 0) throw new RangeError('bad label type');
    i += 1 + l;
  }
  throw new RangeError('name too long');
}

/** Reads an uncompressed name as lowercase dotted text (TSIG names must not be compressed). */
function readPlainName(buf: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = offset;
  for (let guard = 0; guard < 128; guard++) {
    if (i >= buf.length) throw new RangeError('name past end');
    const l = buf[i]!;
    if (l === 0) return { name: labels.join('.').toLowerCase(), end: i + 1 };
    if (l > 63 || i + 1 + l > buf.length) throw new RangeError('bad label in TSIG');
    labels.push(buf.toString('latin1', i + 1, i + 1 + l));
    i += 1 + l;
  }
  throw new RangeError('name too long');
}

export interface ParsedTsig {
  /** Offset where the TSIG RR starts (the signed message ends there). */
  start: number;
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  otherData: Buffer;
}

/** Finds and parses the TSIG RR (last additional record); null when the message has none. */
export function findTsig(message: Buffer): ParsedTsig | null {
  if (message.length < 12) throw new RangeError('shorter than a header');
  const qd = message.readUInt16BE(4);
  const rrs = message.readUInt16BE(6) + message.readUInt16BE(8) + message.readUInt16BE(10);
  if (message.readUInt16BE(10) === 0) return null;
  let i = 12;
  for (let q = 0; q < qd; q++) i = skipName(message, i) + 4;
  let lastStart = -1;
  let lastType = -1;
  for (let r = 0; r < rrs; r++) {
    lastStart = i;
    i = skipName(message, i);
    if (i + 10 > message.length) throw new RangeError('record past end');
    lastType = message.readUInt16BE(i);
    const rdlen = message.readUInt16BE(i + 8);
    i += 10 + rdlen;
    if (i > message.length) throw new RangeError('rdata past end');
  }
  if (lastType !== TYPE_TSIG) return null;
  const owner = readPlainName(message, lastStart);
  const rdataAt = owner.end + 10;
  const alg = readPlainName(message, rdataAt);
  let p = alg.end;
  const timeSigned = readUint48(message, p);
  const fudge = message.readUInt16BE(p + 6);
  const macSize = message.readUInt16BE(p + 8);
  p += 10;
  const mac = message.subarray(p, p + macSize);
  p += macSize;
  const originalId = message.readUInt16BE(p);
  const error = message.readUInt16BE(p + 2);
  const otherLen = message.readUInt16BE(p + 4);
  const otherData = message.subarray(p + 6, p + 6 + otherLen);
  if (p + 6 + otherLen !== i) throw new RangeError('TSIG rdata length mismatch');
  return { start: lastStart, keyName: owner.name, algorithm: alg.name, timeSigned, fudge, mac, originalId, error, otherData };
}

/**
 * The unsigned BADKEY answer (RFC 8945 §5.2.1, §5.3.2) to a request signed with a key this server
 * does not have: NOTAUTH, the question, and a TSIG RR with the request's key and algorithm, an empty
 * MAC and error BADKEY. A server without TSIG keys answers every signed request this way.
 * `responseFlags` is the header's flags word, made by the server as for every answer (so RD and CD
 * are echoed alike everywhere).
 */
export function badKeyResponse(request: Buffer, tsig: ParsedTsig, questionEnd: number, responseFlags: number): Buffer {
  const header = Buffer.from(request.subarray(0, 12));
  header.writeUInt16BE(responseFlags, 2);
  header.writeUInt16BE(questionEnd > 12 ? 1 : 0, 4);
  header.writeUInt16BE(0, 6);
  header.writeUInt16BE(0, 8);
  header.writeUInt16BE(1, 10);
  // MAC size 0: an error answer is never signed
  const record = tsigRecord({ keyName: canonicalName(tsig.keyName), algorithm: canonicalName(tsig.algorithm), timeSigned: tsig.timeSigned, fudge: tsig.fudge, mac: Buffer.alloc(0), originalId: tsig.originalId, error: TSIG_ERROR.BADKEY });
  return Buffer.concat([header, request.subarray(12, questionEnd), record]);
}

/** A TSIG RR on the wire (RFC 8945 §4.2): owner (the key name), type, class ANY, TTL 0, rdata. */
function tsigRecord(r: { keyName: Buffer; algorithm: Buffer; timeSigned: number; fudge: number; mac: Buffer; originalId: number; error: number }): Buffer {
  const rdataHead = Buffer.alloc(6 + 2 + 2);
  writeUint48(rdataHead, r.timeSigned, 0);
  rdataHead.writeUInt16BE(r.fudge, 6);
  rdataHead.writeUInt16BE(r.mac.length, 8);
  const rdataTail = Buffer.alloc(6);
  rdataTail.writeUInt16BE(r.originalId, 0);
  rdataTail.writeUInt16BE(r.error, 2);
  rdataTail.writeUInt16BE(0, 4); // no other data
  const rdataLength = r.algorithm.length + rdataHead.length + r.mac.length + rdataTail.length;
  const rrHead = Buffer.alloc(10);
  rrHead.writeUInt16BE(TYPE_TSIG, 0);
  rrHead.writeUInt16BE(CLASS_ANY, 2);
  rrHead.writeUInt32BE(0, 4);
  rrHead.writeUInt16BE(rdataLength, 8);
  return Buffer.concat([r.keyName, rrHead, r.algorithm, rdataHead, r.mac, rdataTail]);
}

function tsigError(code: 'NG_DNS_TSIG_BADSIG' | 'NG_DNS_TSIG_BADKEY' | 'NG_DNS_TSIG_BADTIME' | 'NG_DNS_TSIG_MISSING', who: string, key: TsigKey, why: string): NodegateError {
  const fix =
    code === 'NG_DNS_TSIG_BADTIME'
      ? 'synchronise the clocks (NTP) of this host and the DNS server'
      : code === 'NG_DNS_TSIG_BADKEY'
        ? 'configure the same key name and algorithm on both sides'
        : code === 'NG_DNS_TSIG_MISSING'
          ? 'configure the key on the DNS server and allow updates with it'
          : 'use the same secret on both sides';
  return new NodegateError(code, `TSIG check failed for key "${key.name}" (${key.algorithm}): ${who} ${why}; ${fix}`, {
    details: { key: key.name, algorithm: key.algorithm },
  });
}

export interface VerifyOptions {
  /** Clock, ms since the epoch. */
  now?: () => number;
  /** When verifying a response: the MAC of our request. */
  requestMac?: Buffer;
  /** Who sent the message, for error messages. */
  peer?: string;
}

/**
 * Verifies the TSIG of `message` with `key`. When the peer reports a TSIG error (its reply says
 * BADSIG/BADKEY/BADTIME about OUR request) that error is thrown; then our own check of its MAC
 * and time. Throws NG_DNS_TSIG_MISSING when there is no TSIG, NG_DNS_MALFORMED when it cannot
 * be parsed. Returns the verified MAC.
 */
export function verifyMessage(message: Buffer, key: TsigKey, opts: VerifyOptions = {}): { mac: Buffer; error: number } {
  const who = opts.peer ?? 'the DNS server';
  let tsig: ParsedTsig | null;
  try {
    tsig = findTsig(message);
  } catch (err) {
    throw new NodegateError('NG_DNS_MALFORMED', `${who} sent a DNS message whose records cannot be parsed: it is broken or not a DNS server`, { cause: err });
  }
  if (!tsig) throw tsigError('NG_DNS_TSIG_MISSING', who, key, 'sent no TSIG record');
  if (tsig.error === TSIG_ERROR.BADSIG) throw tsigError('NG_DNS_TSIG_BADSIG', who, key, 'rejected our signature (BADSIG)');
  if (tsig.error === TSIG_ERROR.BADKEY) throw tsigError('NG_DNS_TSIG_BADKEY', who, key, 'does not know this key (BADKEY)');
  if (tsig.error === TSIG_ERROR.BADTIME) throw tsigError('NG_DNS_TSIG_BADTIME', who, key, 'finds our clock too far off (BADTIME)');
  if (tsig.keyName !== normalise(key.name)) {
    throw tsigError('NG_DNS_TSIG_BADKEY', who, key, `signed with another key ("${tsig.keyName}")`);
  }
  if (tsig.algorithm !== key.algorithm) throw tsigError('NG_DNS_TSIG_BADKEY', who, key, `signed with another algorithm ("${tsig.algorithm}")`);
  const unsigned = Buffer.from(message.subarray(0, tsig.start));
  unsigned.writeUInt16BE(message.readUInt16BE(10) - 1, 10);
  unsigned.writeUInt16BE(tsig.originalId, 0);
  const expected = computeMac(key, [
    ...macPrefix(opts.requestMac),
    unsigned,
    variablesBytes({ keyName: canonicalName(key.name), algorithm: canonicalName(key.algorithm), timeSigned: tsig.timeSigned, fudge: tsig.fudge, error: tsig.error, otherData: tsig.otherData }),
  ]);
  // RFC 8945 §5.2.2.1: a truncated MAC must keep at least half the hash and at least 10 bytes.
  const minLen = Math.max(10, expected.length / 2);
  if (tsig.mac.length < minLen || tsig.mac.length > expected.length || !timingSafeEqual(tsig.mac, expected.subarray(0, tsig.mac.length))) {
    throw tsigError('NG_DNS_TSIG_BADSIG', who, key, 'sent a reply whose MAC does not verify (BADSIG)');
  }
  const nowS = Math.floor((opts.now ?? Date.now)() / 1000);
  if (Math.abs(nowS - tsig.timeSigned) > tsig.fudge) throw tsigError('NG_DNS_TSIG_BADTIME', who, key, `signed at ${tsig.timeSigned}, ${nowS - tsig.timeSigned} s from our clock (BADTIME)`);
  return { mac: Buffer.from(tsig.mac), error: tsig.error };
}

function normalise(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}

/**
 * Parses `NAME:ALG:SECRET` (the `--tsig` flag), e.g. `nodegate:hmac-sha256:c2VjcmV0...`.
 * The secret may itself contain no ':'; base64 never does. Throws NG_USAGE with the fix.
 */
export function parseTsigSpec(spec: string): TsigKey {
  const parts = spec.split(':');
  const usage = 'expected --tsig NAME:ALGORITHM:BASE64SECRET, for example nodegate:hmac-sha256:$(openssl rand -base64 32)';
  if (parts.length !== 3 || parts.some((p) => p === '')) throw new NodegateError('NG_USAGE', `--tsig "${redact(spec)}" is not NAME:ALGORITHM:SECRET; ${usage}`);
  const [name, algorithm, secret] = parts as [string, string, string];
  const alg = algorithm.toLowerCase();
  if (!(alg in TSIG_ALGORITHMS)) throw new NodegateError('NG_USAGE', `--tsig algorithm "${algorithm}" is not supported; use one of ${Object.keys(TSIG_ALGORITHMS).join(', ')}`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(secret) || Buffer.from(secret, 'base64').length < 16) {
    throw new NodegateError('NG_USAGE', `--tsig secret is not base64 of at least 16 bytes; ${usage}`);
  }
  try {
    canonicalName(name);
  } catch {
    throw new NodegateError('NG_USAGE', `--tsig key name "${name}" is not a DNS name; ${usage}`);
  }
  return { name, algorithm: alg as TsigAlgorithm, secret };
}

function redact(spec: string): string {
  const i = spec.lastIndexOf(':');
  return i >= 0 ? `${spec.slice(0, i)}:***` : '***';
}
