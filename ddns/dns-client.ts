/**
 * A stub DNS client that asks ONE given server directly (no recursion, no resolver, no cache):
 * RFC 1035 §4.2 (UDP, then TCP with a two-byte length prefix when the reply has TC=1), RFC 6891
 * (EDNS0 UDP payload size), RFC 5452 (a random id and source port per query; the reply must match
 * id, source and question, anything else is ignored as a possible spoof).
 *
 * Used by certs/ to confirm a TXT record at every authoritative server of a zone
 * ({@link authoritativeServers}), and by the tests to ask the embedded server and Knot.
 *
 * @example
 *   const r = await queryDns({ host: '127.0.0.1', port: 5353 }, 'abc.example.net', 'A');
 *   r.rcode === 'NOERROR' && r.flags.aa; r.answers[0]?.data === '198.51.100.7'
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIP, type Socket as TcpSocket } from 'node:net';
import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, RecordType } from 'dns-packet';
import { NodegateError } from '../core/errors.ts';

/** Default bound on one query (UDP try plus any TCP retry), ms: a loopback or LAN server answers in µs. */
export const DNS_QUERY_TIMEOUT_MS = 3_000;
/** EDNS0 UDP payload size we advertise: 1232 avoids IP fragmentation (DNS Flag Day 2020). */
export const DNS_CLIENT_EDNS_SIZE = 1232;
/** Largest DNS message over TCP (two-byte length). */
const TCP_MAX_MESSAGE = 65_535;

export interface DnsServerAddress {
  host: string;
  port: number;
}

export interface QueryOptions {
  /** Ask over TCP straight away (default false: UDP, then TCP if truncated). */
  tcp?: boolean;
  /** Bound on the whole query, ms. Default {@link DNS_QUERY_TIMEOUT_MS}. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** EDNS0 UDP payload size to advertise, or `false` for a plain RFC 1035 query. Default 1232. */
  edns?: number | false;
  /** Set RD (default false: we talk to authoritative servers). */
  recursionDesired?: boolean;
}

export interface DnsAnswer {
  id: number;
  /** 'NOERROR', 'NXDOMAIN', 'REFUSED', 'SERVFAIL', 'FORMERR', 'NOTIMP', ... (dns-packet's names). */
  rcode: string;
  flags: { aa: boolean; tc: boolean; rd: boolean; ra: boolean };
  answers: Answer[];
  authorities: Answer[];
  /** The additional section without the OPT record. */
  additionals: Answer[];
  /** The EDNS0 OPT record of the reply, if any. */
  opt: { udpPayloadSize: number } | null;
  /** Which transport produced this answer. */
  transport: 'udp' | 'tcp';
  /** The reply's wire bytes. */
  raw: Buffer;
}

function timeoutError(server: DnsServerAddress, name: string, type: string, ms: number): NodegateError {
  return new NodegateError(
    'NG_DNS_TIMEOUT',
    `DNS server ${server.host}:${server.port} did not answer ${type} ${name} within ${ms} ms: check that it runs and is reachable`,
    { details: { server: `${server.host}:${server.port}`, name, type } },
  );
}

function malformed(server: DnsServerAddress, why: string, cause?: unknown): NodegateError {
  return new NodegateError(
    'NG_DNS_MALFORMED',
    `DNS server ${server.host}:${server.port} sent a reply that cannot be used (${why}): it is broken or not a DNS server`,
    { cause, details: { server: `${server.host}:${server.port}` } },
  );
}

function abortedError(): NodegateError {
  return new NodegateError('NG_ABORTED', 'DNS query cancelled');
}

function normaliseName(name: string): string {
  const n = name.endsWith('.') && name.length > 1 ? name.slice(0, -1) : name;
  return n.toLowerCase();
}

/** The query bytes (exported for tests and the fuzzer). */
export function buildQuery(id: number, name: string, type: string, options: QueryOptions = {}): Buffer {
  const edns = options.edns ?? DNS_CLIENT_EDNS_SIZE;
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: options.recursionDesired ? dnsPacket.RECURSION_DESIRED : 0,
    questions: [{ name, type: type as RecordType, class: 'IN' }],
    additionals:
      edns === false
        ? []
        : [{ type: 'OPT', name: '.', udpPayloadSize: edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
  });
}

/**
 * Decodes `raw` and checks it answers query `id` for (`name`, `type`): returns null when it is a
 * different message (ignore it), throws NG_DNS_MALFORMED when it claims to be the answer but is broken.
 */
function matchReply(server: DnsServerAddress, raw: Buffer, id: number, name: string, type: string, transport: 'udp' | 'tcp'): DnsAnswer | null {
  if (raw.length < 12) {
    if (transport === 'tcp') throw malformed(server, 'shorter than a DNS header');
    return null;
  }
  if (raw.readUInt16BE(0) !== id) {
    if (transport === 'tcp') throw malformed(server, 'id does not match the query');
    return null;
  }
  if ((raw[2]! & 0x80) === 0) {
    if (transport === 'tcp') throw malformed(server, 'QR bit not set');
    return null;
  }
  let packet: DecodedPacket;
  try {
    packet = dnsPacket.decode(raw);
  } catch (err) {
    throw malformed(server, 'undecodable', err);
  }
  const q = packet.questions?.[0];
  const rcode = (packet as DecodedPacket & { rcode?: string }).rcode ?? 'NOERROR';
  // FORMERR/NOTIMP replies may legally omit the question.
  if ((packet.questions?.length ?? 0) === 0 && (rcode === 'FORMERR' || rcode === 'NOTIMP')) {
    // fall through with no question check
  } else if (!q || packet.questions!.length !== 1 || normaliseName(q.name) !== normaliseName(name) || q.type !== type.toUpperCase()) {
    if (transport === 'tcp') throw malformed(server, 'question does not match the query');
    return null;
  }
  const additionals: Answer[] = [];
  let opt: DnsAnswer['opt'] = null;
  for (const a of packet.additionals ?? []) {
    if (a.type === 'OPT') opt = { udpPayloadSize: a.udpPayloadSize };
    else additionals.push(a);
  }
  return {
    id,
    rcode,
    flags: { aa: packet.flag_aa, tc: packet.flag_tc, rd: packet.flag_rd, ra: packet.flag_ra },
    answers: packet.answers ?? [],
    authorities: packet.authorities ?? [],
    additionals,
    opt,
    transport,
    raw,
  };
}

function udpExchange(server: DnsServerAddress, query: Buffer, id: number, name: string, type: string, deadline: number, signal: AbortSignal | undefined): Promise<DnsAnswer> {
  return new Promise((resolve, reject) => {
    const family = isIP(server.host) === 6 ? 'udp6' : 'udp4';
    const socket: UdpSocket = createSocket(family);
    let done = false;
    const finish = (err: Error | null, value?: DnsAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.close();
      if (err) reject(err);
      else resolve(value!);
    };
    const onAbort = () => finish(abortedError());
    const timer = setTimeout(() => finish(timeoutError(server, name, type, Math.max(0, deadline - Date.now()))), Math.max(0, deadline - Date.now()));
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (err) => finish(err));
    socket.on('message', (msg, rinfo) => {
      if (rinfo.port !== server.port || normaliseAddress(rinfo.address) !== normaliseAddress(server.host)) return;
      try {
        const r = matchReply(server, msg, id, name, type, 'udp');
        if (r) finish(null, r);
      } catch (err) {
        finish(err as Error);
      }
    });
    // bind(0): the kernel picks a random ephemeral source port (RFC 5452 §9.2).
    socket.bind(0, () => {
      socket.send(query, server.port, server.host, (err) => {
        if (err) finish(err);
      });
    });
  });
}

function normaliseAddress(a: string): string {
  const lower = a.toLowerCase();
  if (lower === 'localhost') return '127.0.0.1';
  return lower.startsWith('::ffff:') ? lower.slice(7) : lower;
}

/** Reads length-prefixed messages from a TCP stream; calls `onMessage` for each complete one. */
export function tcpMessageReader(onMessage: (msg: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const len = pending.readUInt16BE(0);
      if (pending.length < 2 + len) break;
      const msg = pending.subarray(2, 2 + len);
      pending = pending.subarray(2 + len);
      onMessage(msg);
    }
  };
}

/** Frames `msg` for TCP (RFC 1035 §4.2.2: two-byte length prefix). */
export function frameTcp(msg: Buffer): Buffer {
  if (msg.length > TCP_MAX_MESSAGE) throw new TypeError('DNS message too large for TCP');
  const framed = Buffer.allocUnsafe(2 + msg.length);
  framed.writeUInt16BE(msg.length, 0);
  msg.copy(framed, 2);
  return framed;
}

/**
 * Sends one framed request over a fresh TCP connection and resolves with the first complete reply
 * (or the first one `accept` returns non-null for).
 */
export function tcpRequest<T>(server: DnsServerAddress, request: Buffer, accept: (reply: Buffer) => T | null, deadline: number, signal: AbortSignal | undefined, onTimeout: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const socket: TcpSocket = connect({ host: server.host, port: server.port });
    let done = false;
    const finish = (err: Error | null, value?: T) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(value as T);
    };
    const onAbort = () => finish(abortedError());
    const timer = setTimeout(() => finish(onTimeout()), Math.max(0, deadline - Date.now()));
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(malformedClosed(server)));
    socket.on(
      'data',
      tcpMessageReader((msg) => {
        try {
          const r = accept(msg);
          if (r !== null) finish(null, r);
        } catch (err) {
          finish(err as Error);
        }
      }),
    );
    socket.on('connect', () => socket.write(frameTcp(request)));
  });
}

function malformedClosed(server: DnsServerAddress): NodegateError {
  return malformed(server, 'TCP connection closed before a complete reply');
}

/**
 * Asks `server` one question. UDP first (unless `tcp`), retried once over TCP when the reply is
 * truncated. Rejects with NG_DNS_TIMEOUT (no matching reply in time), NG_DNS_MALFORMED (a reply
 * with our id and source that cannot be decoded), NG_ABORTED, or a socket error.
 * An rcode other than NOERROR is NOT an error: it is in the result.
 */
export async function queryDns(server: DnsServerAddress, name: string, type: string, opts: QueryOptions = {}): Promise<DnsAnswer> {
  if (!Number.isInteger(server.port) || server.port <= 0 || server.port > 65_535) throw new TypeError(`bad DNS server port ${server.port}`);
  if (opts.signal?.aborted) throw abortedError();
  const timeoutMs = opts.timeoutMs ?? DNS_QUERY_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const upperType = type.toUpperCase();
  const id = randomInt(0, 65_536);
  const query = buildQuery(id, name, upperType, opts);
  if (!opts.tcp) {
    const udp = await udpExchange(server, query, id, name, upperType, deadline, opts.signal);
    if (!udp.flags.tc) return udp;
  }
  const tcpId = randomInt(0, 65_536);
  const tcpQuery = buildQuery(tcpId, name, upperType, opts);
  return tcpRequest(
    server,
    tcpQuery,
    (msg) => matchReply(server, msg, tcpId, name, upperType, 'tcp'),
    deadline,
    opts.signal,
    () => timeoutError(server, name, upperType, timeoutMs),
  );
}

/**
 * A record's data as text, for comparisons and logs: addresses and names as is, TXT as its strings
 * joined with a space after each is JSON-quoted (`"a" "b"`), SOA as its seven fields, OPT as ''.
 */
export function rdataText(a: Answer): string {
  switch (a.type) {
    case 'OPT':
      return '';
    case 'A':
    case 'AAAA':
    case 'NS':
    case 'CNAME':
    case 'DNAME':
    case 'PTR':
      return a.data;
    case 'TXT': {
      const parts = Array.isArray(a.data) ? a.data : [a.data];
      return parts.map((p) => JSON.stringify(typeof p === 'string' ? p : p.toString('utf8'))).join(' ');
    }
    case 'SOA': {
      const d = a.data;
      return `${d.mname} ${d.rname} ${d.serial ?? 0} ${d.refresh ?? 0} ${d.retry ?? 0} ${d.expire ?? 0} ${d.minimum ?? 0}`;
    }
    default:
      return Buffer.isBuffer(a.data) ? a.data.toString('hex') : JSON.stringify(a.data);
  }
}

export interface AuthoritativeServer {
  /** The NS target name (lower case, no trailing dot). */
  name: string;
  /** One address of it (IPv4 or IPv6). */
  host: string;
  port: number;
}

/**
 * The authoritative servers of `zone`: its NS set as answered by `via`, each NS name resolved to
 * its addresses (glue in the reply first, else A/AAAA asked of `via`). One entry per address.
 * `port` of each entry defaults to `via.port` (production: 53; tests: the loopback port).
 * Rejects with NG_DNS_ZONE_UNKNOWN when `via` has no NS set for the zone.
 */
export async function authoritativeServers(
  zone: string,
  via: DnsServerAddress,
  opts: { port?: number; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<AuthoritativeServer[]> {
  const q = { ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}), ...(opts.signal ? { signal: opts.signal } : {}) };
  const ns = await queryDns(via, zone, 'NS', q);
  const names = [...new Set(ns.answers.filter((a) => a.type === 'NS').map((a) => normaliseName(rdataText(a))))];
  if (ns.rcode !== 'NOERROR' || names.length === 0) {
    throw new NodegateError('NG_DNS_ZONE_UNKNOWN', `${via.host}:${via.port} has no NS records for ${zone} (rcode ${ns.rcode}): check the zone name and the server`, {
      details: { zone, rcode: ns.rcode },
    });
  }
  const port = opts.port ?? via.port;
  const out: AuthoritativeServer[] = [];
  for (const nsName of names.sort()) {
    const glue = ns.additionals.filter((a) => (a.type === 'A' || a.type === 'AAAA') && normaliseName(a.name) === nsName).map(rdataText);
    let addresses = glue;
    if (addresses.length === 0) {
      const [a, aaaa] = await Promise.all([queryDns(via, nsName, 'A', q), queryDns(via, nsName, 'AAAA', q)]);
      addresses = [...a.answers, ...aaaa.answers].filter((r) => r.type === 'A' || r.type === 'AAAA').map(rdataText);
    }
    for (const host of [...new Set(addresses)]) out.push({ name: nsName, host, port });
  }
  return out;
}
