/**
 * DNS wire format for the embedded server: the query parser of the hot path and a response writer
 * with name compression. RFC 1035 §4.1 (message format), §4.1.4 (compression), RFC 6891 §6 (OPT),
 * RFC 4343 (case-insensitive, ASCII-only case folding).
 *
 * Names are handled in "wire keys": the uncompressed wire form, ASCII-lowercased, as a latin1
 * string (`\x03abc\x07example\x03net\x00`). A wire key is unambiguous (a label holding a dot stays
 * one label) and cheap to build from packet bytes. dns-packet still decodes anything unusual
 * (see server.ts); it cannot write compressed names, so responses are written here.
 */
import { isIP } from 'node:net';

export const TYPE = { A: 1, NS: 2, SOA: 6, TXT: 16, AAAA: 28, OPT: 41, IXFR: 251, AXFR: 252, MAILB: 253, MAILA: 254, ANY: 255 } as const;
export const CLASS_IN = 1;
export const CLASS_ANY = 255;
export const OPCODE_QUERY = 0;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, NOTAUTH: 9, BADVERS: 16 } as const;
/** Longest name on the wire (RFC 1035 §2.3.4). */
export const MAX_NAME_WIRE = 255;
/** Longest label (RFC 1035 §2.3.4). */
export const MAX_LABEL = 63;
/** A DNS header. */
export const HEADER_LEN = 12;
/** Largest offset a compression pointer can reach (14 bits). */
const MAX_POINTER_OFFSET = 0x3fff;

/** Wire key of a dotted presentation name (`Example.NET.` → `\x07example\x03net\x00`). */
export function wireKey(name: string): string {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (trimmed === '') return '\x00';
  let out = '';
  for (const label of trimmed.split('.')) {
    if (label.length === 0 || label.length > MAX_LABEL || !/^[\x21-\x7e]+$/.test(label)) {
      throw new TypeError(`"${name}" is not a valid DNS name (label "${label}")`);
    }
    out += String.fromCharCode(label.length) + label.toLowerCase();
  }
  out += '\x00';
  if (out.length > MAX_NAME_WIRE) throw new TypeError(`"${name}" is longer than 255 bytes on the wire`);
  return out;
}

/** Dotted name of a wire key (for logs and tests; labels are not escaped). */
export function keyToName(key: string): string {
  const labels: string[] = [];
  let i = 0;
  while (i < key.length) {
    const len = key.charCodeAt(i);
    if (len === 0) break;
    labels.push(key.slice(i + 1, i + 1 + len));
    i += 1 + len;
  }
  return labels.length === 0 ? '.' : labels.join('.');
}

/** Offsets at which each label of a wire key starts (the last entry is the root `\0`). */
export function labelOffsets(key: string): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < key.length) {
    out.push(i);
    const len = key.charCodeAt(i);
    if (len === 0) break;
    i += 1 + len;
  }
  return out;
}

export type Rdata =
  /** Raw rdata as a latin1 string (one char per byte): far lighter than a Buffer per record. */
  | { kind: 'bytes'; bytes: string }
  | { kind: 'name'; name: string }
  | { kind: 'soa'; mname: string; rname: string; refresh: number; retry: number; expire: number; minimum: number };

export interface RRset {
  type: number;
  ttl: number;
  rdatas: Rdata[];
}

export function addressRdata(ip: string): Rdata {
  const family = isIP(ip);
  if (family === 4) return { kind: 'bytes', bytes: String.fromCharCode(...ip.split('.').map(Number)) };
  if (family === 6) return { kind: 'bytes', bytes: ipv6Bytes(ip).toString('latin1') };
  throw new TypeError(`"${ip}" is not an IP address`);
}

/** The 16 bytes of an IPv6 address (with `::`, a dotted IPv4 tail and a zone id). */
export function ipv6Bytes(ip: string): Buffer {
  let text = ip.split('%')[0]!;
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const p = last.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${(((p[0]! << 8) | p[1]!) >>> 0).toString(16)}:${(((p[2]! << 8) | p[3]!) >>> 0).toString(16)}`;
  }
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  let groups: number[];
  const gap = text.indexOf('::');
  if (gap >= 0) {
    const head = parse(text.slice(0, gap));
    const tail = parse(text.slice(gap + 2));
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    groups = parse(text);
  }
  const buf = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) buf.writeUInt16BE(groups[i] ?? 0, i * 2);
  return buf;
}

/** TXT rdata: one <character-string> per value (each at most 255 bytes, RFC 1035 §3.3.14). */
export function txtRdata(value: string): Rdata {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > 255) throw new TypeError('TXT value longer than 255 bytes');
  return { kind: 'bytes', bytes: String.fromCharCode(bytes.length) + bytes.toString('latin1') };
}

/**
 * Writes a response into a scratch buffer, compressing names against everything written before.
 * Owner names may be given as the special value `QNAME` to point at the question (offset 12).
 */
export class ResponseWriter {
  readonly buf: Buffer;
  offset = 0;
  private readonly names = new Map<string, number>();
  /** Offset of the SOA serial written last, or -1. */
  serialOffset = -1;

  constructor(capacity = 65_535) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  reset(): void {
    this.offset = 0;
    this.names.clear();
    this.serialOffset = -1;
  }

  header(id: number, flags: number, qd: number, an: number, ns: number, ar: number): void {
    const b = this.buf;
    b.writeUInt16BE(id, 0);
    b.writeUInt16BE(flags, 2);
    b.writeUInt16BE(qd, 4);
    b.writeUInt16BE(an, 6);
    b.writeUInt16BE(ns, 8);
    b.writeUInt16BE(ar, 10);
    this.offset = HEADER_LEN;
  }

  setCount(section: 'an' | 'ns' | 'ar', n: number): void {
    this.buf.writeUInt16BE(n, section === 'an' ? 6 : section === 'ns' ? 8 : 10);
  }

  setFlags(flags: number): void {
    this.buf.writeUInt16BE(flags, 2);
  }

  /** Writes a name given as wire key, compressing against earlier names. */
  name(key: string): void {
    let i = 0;
    for (;;) {
      const len = key.charCodeAt(i);
      if (len === 0 || Number.isNaN(len)) {
        this.buf[this.offset++] = 0;
        return;
      }
      const suffix = i === 0 ? key : key.slice(i);
      const at = this.names.get(suffix);
      if (at !== undefined) {
        this.buf.writeUInt16BE(0xc000 | at, this.offset);
        this.offset += 2;
        return;
      }
      if (this.offset <= MAX_POINTER_OFFSET) this.names.set(suffix, this.offset);
      this.buf.write(key.slice(i, i + 1 + len), this.offset, 'latin1');
      this.offset += 1 + len;
      i += 1 + len;
    }
  }

  question(key: string, qtype: number, qclass: number): void {
    this.name(key);
    this.buf.writeUInt16BE(qtype, this.offset);
    this.buf.writeUInt16BE(qclass, this.offset + 2);
    this.offset += 4;
  }

  rr(ownerKey: string, rrset: RRset, rdata: Rdata, serial: number): void {
    this.name(ownerKey);
    const b = this.buf;
    b.writeUInt16BE(rrset.type, this.offset);
    b.writeUInt16BE(CLASS_IN, this.offset + 2);
    b.writeUInt32BE(rrset.ttl, this.offset + 4);
    const rdlenAt = this.offset + 8;
    this.offset += 10;
    const start = this.offset;
    switch (rdata.kind) {
      case 'bytes':
        this.offset += b.write(rdata.bytes, this.offset, 'latin1');
        break;
      case 'name':
        this.name(rdata.name);
        break;
      case 'soa':
        this.name(rdata.mname);
        this.name(rdata.rname);
        this.serialOffset = this.offset;
        b.writeUInt32BE(serial >>> 0, this.offset);
        b.writeUInt32BE(rdata.refresh, this.offset + 4);
        b.writeUInt32BE(rdata.retry, this.offset + 8);
        b.writeUInt32BE(rdata.expire, this.offset + 12);
        b.writeUInt32BE(rdata.minimum, this.offset + 16);
        this.offset += 20;
        break;
    }
    b.writeUInt16BE(this.offset - start, rdlenAt);
  }

  /** The EDNS0 OPT pseudo-RR (RFC 6891 §6.1.2): our payload size, extended rcode, DO. */
  opt(udpPayloadSize: number, extendedRcode: number, dnssecOk: boolean): void {
    const b = this.buf;
    b[this.offset] = 0;
    b.writeUInt16BE(TYPE.OPT, this.offset + 1);
    b.writeUInt16BE(udpPayloadSize, this.offset + 3);
    b[this.offset + 5] = extendedRcode;
    b[this.offset + 6] = 0;
    b.writeUInt16BE(dnssecOk ? 0x8000 : 0, this.offset + 7);
    b.writeUInt16BE(0, this.offset + 9);
    this.offset += 11;
  }

  bytes(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.offset));
  }
}

/** What the hot path extracts from a query. */
export interface ParsedQuery {
  id: number;
  /** Byte 2 and 3 of the header as received. */
  flags: number;
  opcode: number;
  /** Question name as a wire key (lowercased) and its length on the wire. */
  qkey: string;
  qnameLen: number;
  qtype: number;
  qclass: number;
  /** EDNS0: null when the query has no OPT. */
  edns: { udpPayloadSize: number; version: number; dnssecOk: boolean } | null;
}

/** Outcome of the hand parser: a query it fully understood, or `null` (let the slow path decide). */
const scratch = Buffer.allocUnsafe(MAX_NAME_WIRE + 1);

/**
 * Parses the common query by hand: one question, no answer/authority records, at most one
 * additional record that is an OPT, nothing after it, plain (non-compressed, ASCII) name.
 * Anything else returns null, including valid-but-unusual messages.
 */
export function parseSimpleQuery(msg: Buffer): ParsedQuery | null {
  const len = msg.length;
  if (len < HEADER_LEN + 5) return null;
  if (msg[4] !== 0 || msg[5] !== 1 || msg[6] !== 0 || msg[7] !== 0 || msg[8] !== 0 || msg[9] !== 0 || msg[10] !== 0) return null;
  const arcount = msg[11]!;
  if (arcount > 1) return null;
  const flags = (msg[2]! << 8) | msg[3]!;
  let i = HEADER_LEN;
  let n = 0;
  for (;;) {
    if (i >= len) return null;
    const l = msg[i]!;
    if (l === 0) break;
    if (l > MAX_LABEL) return null;
    if (i + 1 + l >= len || n + 1 + l >= MAX_NAME_WIRE) return null;
    scratch[n++] = l;
    for (let j = i + 1; j <= i + l; j++) {
      const c = msg[j]!;
      if (c >= 0x80) return null;
      scratch[n++] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    }
    i += 1 + l;
  }
  scratch[n++] = 0;
  const qnameLen = i + 1 - HEADER_LEN;
  i += 1;
  if (i + 4 > len) return null;
  const qtype = (msg[i]! << 8) | msg[i + 1]!;
  const qclass = (msg[i + 2]! << 8) | msg[i + 3]!;
  i += 4;
  let edns: ParsedQuery['edns'] = null;
  if (arcount === 1) {
    if (i + 11 > len || msg[i] !== 0 || msg[i + 1] !== 0 || msg[i + 2] !== TYPE.OPT) return null;
    const rdlen = (msg[i + 9]! << 8) | msg[i + 10]!;
    if (i + 11 + rdlen !== len) return null;
    edns = { udpPayloadSize: (msg[i + 3]! << 8) | msg[i + 4]!, version: msg[i + 6]!, dnssecOk: (msg[i + 7]! & 0x80) !== 0 };
  } else if (i !== len) {
    return null;
  }
  return {
    id: (msg[0]! << 8) | msg[1]!,
    flags,
    opcode: (flags >> 11) & 0xf,
    qkey: scratch.toString('latin1', 0, n),
    qnameLen,
    qtype,
    qclass,
    edns,
  };
}

/**
 * Reads the question name at offset 12 of a message dns-packet already accepted: no compression
 * allowed there (a pointer in the first name could only point into the header). Returns null when
 * the name is unusable.
 */
export function readQuestionName(msg: Buffer): { qkey: string; qnameLen: number; end: number } | null {
  let i = HEADER_LEN;
  let key = '';
  for (;;) {
    if (i >= msg.length) return null;
    const l = msg[i]!;
    if (l === 0) break;
    if (l > MAX_LABEL || i + 1 + l > msg.length) return null;
    let label = '';
    for (let j = i + 1; j <= i + l; j++) {
      const c = msg[j]!;
      label += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
    }
    key += String.fromCharCode(l) + label;
    i += 1 + l;
  }
  key += '\x00';
  if (key.length > MAX_NAME_WIRE) return null;
  return { qkey: key, qnameLen: i + 1 - HEADER_LEN, end: i + 1 };
}
