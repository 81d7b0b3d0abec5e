/**
 * The embedded authoritative DNS server (UDP and TCP) and its {@link BulkLoadingDnsBackend}.
 *
 * Specs: RFC 1035 (messages, UDP 512-byte limit, TCP length prefix), RFC 7766 (TCP: several
 * queries per connection, idle timeout), RFC 6891 (EDNS0: echo OPT, honour the client's payload
 * size, BADVERS), RFC 2181 §9 (TC only when the required answer does not fit; glue may be dropped),
 * RFC 4592 / RFC 2308 / RFC 8482 (in zone.ts), RFC 5358 (no answers to responses: QR=1 is dropped).
 * UDP answers go through response rate limiting (rrl.ts) so the server cannot be used as a
 * reflector; TCP answers are never limited. It holds no TSIG keys: a signed request gets the
 * unsigned NOTAUTH/BADKEY answer of RFC 8945 §5.2.1.
 *
 * Hot path: the common query (one question, at most an OPT) is parsed by hand, and its answer is
 * served from a cache of pre-encoded, compressed responses keyed by (lowercased name, type, class,
 * EDNS or not); the id, the question's case, RD/CD, DO and the SOA serial are patched into a copy.
 * A change to a device drops the cache entries of that device's names (one group per device).
 * Anything unusual is decoded with dns-packet first (it rejects malformed packets) and answered by
 * the same code without the hand parser.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, type Server, type Socket as TcpSocket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Logger } from '../../../core/log.ts';
import type { BackendCallOptions, BulkLoadingDnsBackend, DeviceRecordSet } from '../dns-backend.ts';
import { NodegateError } from '../../../core/errors.ts';
import { CLASS_ANY, CLASS_IN, HEADER_LEN, OPCODE_QUERY, parseSimpleQuery, RCODE, readQuestionName, ResponseWriter, TYPE, type ParsedQuery } from './wire.ts';
import { Zone, type LookupResult, type NameserverSpec, type Section } from './zone.ts';
import { ResponseRateLimiter, rrlKeyOf, slipResponse, type RrlOptions } from './rrl.ts';
import { badKeyResponse, findTsig, type ParsedTsig } from '../../tsig.ts';
import { frameTcp, tcpMessageReader } from '../../dns-client.ts';

export type { NameserverSpec } from './zone.ts';

/** UDP payload we accept and advertise with EDNS0, bytes: 1232 avoids fragmentation (DNS Flag Day 2020). */
export const EDNS_MAX_UDP_PAYLOAD = 1232;
/** RFC 1035 §4.2.1 limit for UDP without EDNS0, bytes. */
export const PLAIN_UDP_LIMIT = 512;
/** Idle TCP connections are closed after this long, ms (RFC 7766 §6.2.3 suggests seconds). */
export const TCP_IDLE_TIMEOUT_MS = 10_000;
/** Concurrent TCP connections: more are refused so one client cannot exhaust descriptors. */
export const TCP_MAX_CONNECTIONS = 256;
/** A TCP client that does not read its answers is dropped once this many bytes wait, bytes. */
const TCP_MAX_PENDING_WRITE = 256 * 1024;
/** Cached responses: beyond this the whole cache is dropped (bounded memory under random-name floods). */
export const ANSWER_CACHE_MAX_ENTRIES = 200_000;
/** Kernel socket buffers asked for, bytes: absorbs bursts (the kernel may grant less). */
const UDP_SOCKET_BUFFER = 4 * 1024 * 1024;

export interface EmbeddedDnsOptions {
  /** The zone served, e.g. `dyn.example.net`. */
  zone: string;
  /** Apex NS names; those inside the zone get A/AAAA (glue) from ipv4/ipv6. The first is the SOA MNAME. */
  nameservers: NameserverSpec[];
  udp: { host: string; port: number };
  /** Default: the same host and port as `udp` (with port 0: the port UDP got, else a free one). */
  tcp?: { host: string; port: number };
  /** SOA RNAME as a name (`hostmaster.example.net`). Default `hostmaster.<zone>`. */
  hostmaster?: string;
  logger?: Logger;
  /** Clock, ms since the epoch (default Date.now): the initial SOA serial is its unix time in seconds. */
  now?: () => number;
  /** Default {@link TCP_IDLE_TIMEOUT_MS}. */
  tcpIdleTimeoutMs?: number;
  /** Default {@link TCP_MAX_CONNECTIONS}. */
  tcpMaxConnections?: number;
  /**
   * Response rate limiting of UDP answers (rrl.ts): default on, 20 answers per second per client
   * network and response, every second limited answer sent truncated, loopback exempt. `false`
   * or `{ responsesPerSecond: 0 }` turns it off.
   */
  rateLimit?: RrlOptions | false;
  /** While answers are being rate-limited, a summary is logged this often, ms. Default 60,000. */
  rateLimitLogMs?: number;
}

export interface EmbeddedDnsStats {
  queries: number;
  udpQueries: number;
  tcpQueries: number;
  /** Responses by rcode name ('NOERROR', 'NXDOMAIN', ...). */
  answers: Record<string, number>;
  /** Packets that could not be parsed (answered FORMERR when a header was readable, else dropped). */
  malformed: number;
  /** Responses (QR=1) received and dropped. */
  droppedResponses: number;
  truncated: number;
  cacheHits: number;
  cacheEntries: number;
  /** UDP answers not sent because their (client network, response) was over the rate. */
  rateLimitedDropped: number;
  /** UDP answers sent truncated instead (TC=1) so a real resolver retries over TCP. */
  rateLimitedSlipped: number;
}

export interface EmbeddedDns {
  backend: BulkLoadingDnsBackend;
  address(): { host: string; udpPort: number; tcpPort: number };
  stats(): EmbeddedDnsStats;
  /** The current SOA serial. */
  serial(): number;
  close(): Promise<void>;
}

interface CacheEntry {
  full: Buffer;
  /** Same answer without glue, or null when there is no glue. */
  noGlue: Buffer | null;
  truncated: Buffer;
  rcode: number;
  /** Offsets of the SOA serial in `full`/`noGlue` (-1: none), patched when the serial moves. */
  serialOffset: number;
  serialOffsetNoGlue: number;
  serial: number;
  /** Offset of the OPT flags (DO bit) in each buffer, or -1. */
  optFlags: [number, number, number];
  /** Response rate limiting's key for this answer (rrl.ts), computed once. */
  rrlKey: number;
}

const RCODE_NAMES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 9: 'NOTAUTH', 16: 'BADVERS' };

/** Flags of a response: QR, opcode echoed, AA, TC, RD and CD echoed, rcode (low 4 bits). */
function responseFlags(queryFlags: number, aa: boolean, tc: boolean, rcode: number): number {
  return 0x8000 | (queryFlags & 0x7800) | (aa ? 0x0400 : 0) | (tc ? 0x0200 : 0) | (queryFlags & 0x0100) | (queryFlags & 0x0010) | (rcode & 0xf);
}

export async function startEmbeddedDns(opts: EmbeddedDnsOptions): Promise<EmbeddedDns> {
  const now = opts.now ?? Date.now;
  const zone = new Zone(opts.zone, opts.nameservers, opts.hostmaster, Math.floor(now() / 1000));
  const log = opts.logger;
  const writer = new ResponseWriter();
  const cache = new Map<string, CacheEntry>();
  const groups = new Map<string, string[]>();
  const stats: EmbeddedDnsStats = { queries: 0, udpQueries: 0, tcpQueries: 0, answers: {}, malformed: 0, droppedResponses: 0, truncated: 0, cacheHits: 0, cacheEntries: 0, rateLimitedDropped: 0, rateLimitedSlipped: 0 };
  const limiter = opts.rateLimit === false ? undefined : new ResponseRateLimiter(opts.rateLimit ?? {});
  const rrl = limiter?.enabled ? limiter : undefined;
  /** The rate-limit key of the answer handle() returned last (handling is synchronous). */
  let lastKey = 0;
  // An operator should see an attack: one warning per period while answers are limited, with the
  // counts and the last address limited (BIND and Knot log the same, rate-limited themselves).
  let limitedLogged = 0;
  let lastLimited = '';
  const limitLog = rrl
    ? setInterval(() => {
        const limited = stats.rateLimitedDropped + stats.rateLimitedSlipped;
        if (limited === limitedLogged) return;
        log?.warn(
          { code: 'NG_DNS_RATE_LIMITED', dropped: stats.rateLimitedDropped, truncated: stats.rateLimitedSlipped, since: limited - limitedLogged, lastAddress: lastLimited },
          'embedded DNS: answers over the rate limit were dropped or sent truncated (a reflection attack, or a busy resolver to exempt with --dns-exempt)',
        );
        limitedLogged = limited;
      }, opts.rateLimitLogMs ?? 60_000).unref()
    : undefined;
  const count = (rcode: number) => {
    const name = RCODE_NAMES[rcode] ?? String(rcode);
    stats.answers[name] = (stats.answers[name] ?? 0) + 1;
  };

  const invalidate = (group: string) => {
    const keys = groups.get(group);
    if (!keys) return;
    for (const k of keys) cache.delete(k);
    groups.delete(group);
  };
  const bumpSerial = () => {
    zone.serial = (zone.serial + 1) >>> 0;
  };

  /** Encodes one response for the (lowercased) question; `withGlue` false drops the additional RRs. */
  const encode = (q: ParsedQuery, result: LookupResult, withGlue: boolean, truncated: boolean, extRcode: number): { buf: Buffer; serialOffset: number; optFlags: number } => {
    const w = writer;
    w.reset();
    const answer = truncated ? [] : result.answer;
    const authority = truncated ? [] : result.authority;
    const additional = truncated || !withGlue ? [] : result.additional;
    const rrCount = (sections: Section[]) => sections.reduce((n, s) => n + s.rrset.rdatas.length, 0);
    w.header(0, responseFlags(q.flags, result.aa, truncated, result.rcode), 1, rrCount(answer), rrCount(authority), rrCount(additional) + (q.edns ? 1 : 0));
    w.question(q.qkey, q.qtype, q.qclass);
    for (const list of [answer, authority, additional]) {
      for (const s of list) for (const r of s.rrset.rdatas) w.rr(s.owner ?? q.qkey, s.rrset, r, zone.serial);
    }
    let optFlags = -1;
    if (q.edns) {
      optFlags = w.offset + 7;
      w.opt(EDNS_MAX_UDP_PAYLOAD, extRcode, false);
    }
    return { buf: w.bytes(), serialOffset: w.serialOffset, optFlags };
  };

  const buildEntry = (q: ParsedQuery): CacheEntry => {
    let result: LookupResult;
    let extRcode = 0;
    if (q.edns && q.edns.version > 0) {
      // RFC 6891 §6.1.3: BADVERS (16) = extended rcode 1, header rcode 0.
      result = { rcode: 0, aa: false, answer: [], authority: [], additional: [] };
      extRcode = RCODE.BADVERS >> 4;
    } else if (q.opcode !== OPCODE_QUERY) {
      result = { rcode: RCODE.NOTIMP, aa: false, answer: [], authority: [], additional: [] };
    } else if (q.qtype === TYPE.OPT || q.qtype === 0) {
      result = { rcode: RCODE.FORMERR, aa: false, answer: [], authority: [], additional: [] };
    } else if (q.qclass !== CLASS_IN && q.qclass !== CLASS_ANY) {
      result = { rcode: RCODE.REFUSED, aa: false, answer: [], authority: [], additional: [] };
    } else if (q.qtype === TYPE.AXFR || q.qtype === TYPE.IXFR) {
      // Zone transfers are not offered: secondaries use the RFC 2136 backend with a real server.
      result = { rcode: RCODE.REFUSED, aa: false, answer: [], authority: [], additional: [] };
    } else if (q.qtype === TYPE.MAILA || q.qtype === TYPE.MAILB) {
      result = { rcode: RCODE.NOTIMP, aa: false, answer: [], authority: [], additional: [] };
    } else {
      result = zone.lookup(q.qkey, q.qtype);
    }
    const full = encode(q, result, true, false, extRcode);
    const noGlue = result.additional.length > 0 ? encode(q, result, false, false, extRcode) : null;
    const trunc = encode(q, result, false, true, extRcode);
    return {
      full: full.buf,
      noGlue: noGlue?.buf ?? null,
      truncated: trunc.buf,
      rcode: extRcode ? RCODE.BADVERS : result.rcode,
      serialOffset: full.serialOffset,
      serialOffsetNoGlue: noGlue?.serialOffset ?? -1,
      serial: zone.serial,
      optFlags: [full.optFlags, noGlue?.optFlags ?? -1, trunc.optFlags],
      rrlKey: rrlKeyOf(full.buf),
    };
  };

  /** Answers a parsed query; `limit` is the UDP size limit or 65535 for TCP. */
  const answer = (q: ParsedQuery, msg: Buffer, limit: number): Buffer => {
    const key = `${q.qkey}|${q.qtype}|${q.qclass}|${q.edns ? (q.edns.version > 0 ? 2 : 1) : 0}|${q.opcode}`;
    let entry = cache.get(key);
    if (entry) stats.cacheHits++;
    else {
      entry = buildEntry(q);
      if (cache.size >= ANSWER_CACHE_MAX_ENTRIES) {
        cache.clear();
        groups.clear();
      }
      cache.set(key, entry);
      const group = zone.groupOf(q.qkey);
      const list = groups.get(group);
      if (list) list.push(key);
      else groups.set(group, [key]);
    }
    if (entry.serial !== zone.serial) {
      if (entry.serialOffset >= 0) entry.full.writeUInt32BE(zone.serial, entry.serialOffset);
      if (entry.noGlue && entry.serialOffsetNoGlue >= 0) entry.noGlue.writeUInt32BE(zone.serial, entry.serialOffsetNoGlue);
      entry.serial = zone.serial;
    }
    let template = entry.full;
    let which = 0;
    if (template.length > limit) {
      if (entry.noGlue && entry.noGlue.length <= limit) {
        template = entry.noGlue;
        which = 1;
      } else {
        template = entry.truncated;
        which = 2;
        stats.truncated++;
      }
    }
    const out = Buffer.allocUnsafe(template.length);
    template.copy(out);
    out[0] = msg[0]!;
    out[1] = msg[1]!;
    // RD and CD are echoed from the query (the template was built from the same bits).
    out[2] = (out[2]! & 0xfe) | (msg[2]! & 0x01);
    out[3] = (out[3]! & 0xef) | (msg[3]! & 0x10);
    msg.copy(out, HEADER_LEN, HEADER_LEN, HEADER_LEN + q.qnameLen);
    lastKey = entry.rrlKey;
    const optAt = entry.optFlags[which]!;
    if (optAt >= 0 && q.edns?.dnssecOk) out[optAt] = out[optAt]! | 0x80;
    count(entry.rcode);
    return out;
  };

  const formerr = (msg: Buffer): Buffer => {
    const out = Buffer.alloc(HEADER_LEN);
    out[0] = msg[0]!;
    out[1] = msg[1]!;
    out.writeUInt16BE(responseFlags((msg[2]! << 8) | msg[3]!, false, false, RCODE.FORMERR), 2);
    count(RCODE.FORMERR);
    lastKey = rrlKeyOf(out);
    return out;
  };

  /** The slow path: dns-packet validates the whole message, then the question is read by hand. */
  const slowParse = (msg: Buffer): ParsedQuery | 'formerr' | 'notimp' => {
    let packet: dnsPacket.DecodedPacket;
    try {
      packet = dnsPacket.decode(msg);
    } catch {
      return 'formerr';
    }
    const flags = (msg[2]! << 8) | msg[3]!;
    const opcode = (flags >> 11) & 0xf;
    if (opcode !== OPCODE_QUERY && (packet.questions?.length ?? 0) !== 1) return 'notimp';
    if ((packet.questions?.length ?? 0) !== 1) return 'formerr';
    const qn = readQuestionName(msg);
    if (!qn || qn.end + 4 > msg.length) return 'formerr';
    const opts = (packet.additionals ?? []).filter((a) => a.type === 'OPT');
    if (opts.length > 1) return 'formerr';
    const opt = opts[0];
    return {
      id: (msg[0]! << 8) | msg[1]!,
      flags,
      opcode,
      qkey: qn.qkey,
      qnameLen: qn.qnameLen,
      qtype: msg.readUInt16BE(qn.end),
      qclass: msg.readUInt16BE(qn.end + 2),
      edns: opt && opt.type === 'OPT' ? { udpPayloadSize: opt.udpPayloadSize, version: opt.ednsVersion, dnssecOk: opt.flag_do } : null,
    };
  };

  /**
   * A request signed with TSIG gets NOTAUTH/BADKEY, unsigned (RFC 8945 §5.2.1): this server holds
   * no keys, and an unsigned normal answer would be rejected by the client anyway. Null when the
   * message carries no TSIG (or is too malformed to tell: the slow parser answers that).
   */
  const signedWithTsig = (msg: Buffer): Buffer | null => {
    let tsig: ParsedTsig | null;
    let qEnd: number;
    try {
      tsig = findTsig(msg);
      qEnd = msg.readUInt16BE(4) === 1 ? (readQuestionName(msg)?.end ?? -1) + 4 : 12;
    } catch {
      return null;
    }
    if (!tsig || qEnd < 12 || qEnd > msg.length) return null;
    log?.info({ key: tsig.keyName, algorithm: tsig.algorithm }, 'embedded DNS: a request signed with a TSIG key this server does not have (answered BADKEY)');
    count(RCODE.NOTAUTH);
    const out = badKeyResponse(msg, tsig, qEnd, responseFlags(msg.readUInt16BE(2), false, false, RCODE.NOTAUTH));
    lastKey = rrlKeyOf(out);
    return out;
  };

  const notimp = (msg: Buffer): Buffer => {
    const out = Buffer.alloc(HEADER_LEN);
    out[0] = msg[0]!;
    out[1] = msg[1]!;
    out.writeUInt16BE(responseFlags((msg[2]! << 8) | msg[3]!, false, false, RCODE.NOTIMP), 2);
    count(RCODE.NOTIMP);
    lastKey = rrlKeyOf(out);
    return out;
  };

  /** One message in, at most one message out. */
  const handle = (msg: Buffer, tcp: boolean): Buffer | null => {
    stats.queries++;
    if (tcp) stats.tcpQueries++;
    else stats.udpQueries++;
    if (msg.length < HEADER_LEN) {
      stats.malformed++;
      return null;
    }
    if ((msg[2]! & 0x80) !== 0) {
      stats.droppedResponses++;
      return null;
    }
    let q: ParsedQuery | 'formerr' | 'notimp' | null = parseSimpleQuery(msg);
    if (!q) {
      const signed = signedWithTsig(msg);
      if (signed) return signed;
      q = slowParse(msg);
    }
    if (q === 'formerr') {
      stats.malformed++;
      return formerr(msg);
    }
    if (q === 'notimp') return notimp(msg);
    const limit = tcp ? 65_535 : q.edns ? Math.max(PLAIN_UDP_LIMIT, Math.min(q.edns.udpPayloadSize, EDNS_MAX_UDP_PAYLOAD)) : PLAIN_UDP_LIMIT;
    return answer(q, msg, limit);
  };

  const safeHandle = (msg: Buffer, tcp: boolean): Buffer | null => {
    try {
      return handle(msg, tcp);
    } catch (err) {
      // A bug must not stop the server: answer SERVFAIL and log.
      log?.error({ err }, 'embedded DNS: failed to answer a query');
      if (msg.length < HEADER_LEN) return null;
      const out = Buffer.alloc(HEADER_LEN);
      out[0] = msg[0]!;
      out[1] = msg[1]!;
      out.writeUInt16BE(responseFlags((msg[2]! << 8) | msg[3]!, false, false, RCODE.SERVFAIL), 2);
      count(RCODE.SERVFAIL);
      lastKey = rrlKeyOf(out);
      return out;
    }
  };

  // --- sockets -------------------------------------------------------------------------------
  const udp: UdpSocket = createSocket({ type: isIP(opts.udp.host) === 6 ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(opts.udp.port, opts.udp.host, () => {
      udp.off('error', reject);
      resolve();
    });
  });
  try {
    udp.setRecvBufferSize(UDP_SOCKET_BUFFER);
    udp.setSendBufferSize(UDP_SOCKET_BUFFER);
  } catch (err) {
    log?.debug({ err }, 'embedded DNS: could not enlarge UDP socket buffers');
  }
  udp.on('error', (err) => log?.warn({ err }, 'embedded DNS: UDP socket error'));
  udp.on('message', (msg, rinfo) => {
    let out = safeHandle(msg, false);
    if (!out) return;
    if (rrl) {
      const verdict = rrl.check(rinfo.address, lastKey);
      if (verdict === 'drop') {
        stats.rateLimitedDropped++;
        lastLimited = rinfo.address;
        return;
      }
      if (verdict === 'slip') {
        stats.rateLimitedSlipped++;
        lastLimited = rinfo.address;
        out = slipResponse(out);
      }
    }
    udp.send(out, rinfo.port, rinfo.address);
  });
  const udpPort = udp.address().port;

  const tcpConnections = new Set<TcpSocket>();
  const tcpServer: Server = createServer((socket) => {
    tcpConnections.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(opts.tcpIdleTimeoutMs ?? TCP_IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('close', () => tcpConnections.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on(
      'data',
      tcpMessageReader((msg) => {
        if (socket.destroyed) return; // dropped below for not reading its answers: the rest of the chunk goes unanswered
        const out = safeHandle(msg, true);
        if (!out) return;
        socket.write(frameTcp(out));
        if (socket.writableLength > TCP_MAX_PENDING_WRITE) socket.destroy();
      }),
    );
  });
  tcpServer.maxConnections = opts.tcpMaxConnections ?? TCP_MAX_CONNECTIONS;
  const tcpHost = opts.tcp?.host ?? opts.udp.host;
  const tcpWanted = opts.tcp?.port ?? udpPort;
  try {
    await listen(tcpServer, tcpHost, tcpWanted);
  } catch (err) {
    if (opts.tcp?.port !== undefined || opts.udp.port !== 0) {
      udp.close();
      throw err;
    }
    // Port 0 for UDP: the same number was taken on TCP; any free TCP port will do.
    await listen(tcpServer, tcpHost, 0);
  }
  const tcpAddr = tcpServer.address();
  const tcpPort = typeof tcpAddr === 'object' && tcpAddr ? tcpAddr.port : 0;

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    clearInterval(limitLog);
    for (const c of tcpConnections) c.destroy();
    await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcpServer.close(() => r()))]);
  };

  const checkSignal = (options?: BackendCallOptions) => {
    if (options?.signal?.aborted) throw new NodegateError('NG_ABORTED', 'DNS change cancelled');
  };

  const backend: BulkLoadingDnsBackend = {
    // async: invalid input becomes a rejected promise, as the port's contract says.
    // eslint-disable-next-line @typescript-eslint/require-await
    async putDevice(set: DeviceRecordSet, options?: BackendCallOptions): Promise<void> {
      checkSignal(options);
      const { group, changed } = zone.putDevice(set);
      if (changed) {
        invalidate(group);
        bumpSerial();
      }
    },
    // eslint-disable-next-line @typescript-eslint/require-await
    async removeDevice(id: string, options?: BackendCallOptions): Promise<void> {
      checkSignal(options);
      const { group, changed } = zone.removeDevice(id);
      if (changed) {
        invalidate(group);
        bumpSerial();
      }
    },
    // eslint-disable-next-line @typescript-eslint/require-await
    async loadAll(sets: Iterable<DeviceRecordSet>): Promise<void> {
      let changed = false;
      try {
        for (const set of sets) changed = zone.putDevice(set).changed || changed;
      } finally {
        // Even when one set is invalid, those before it are served: never from a stale cache.
        if (changed) {
          cache.clear();
          groups.clear();
          bumpSerial();
        }
      }
    },
    close,
  };

  return {
    backend,
    address: () => ({ host: opts.udp.host, udpPort, tcpPort }),
    stats: () => ({ ...stats, answers: { ...stats.answers }, cacheEntries: cache.size }),
    serial: () => zone.serial,
    close,
  };
}

/**
 * Parses a `--ns` value: `NAME`, `NAME=IP` or `NAME=IPV4,IPV6` (addresses only matter for names
 * inside the zone: they become glue). Throws NG_USAGE with the fix.
 *
 * @example parseNameserverSpec('ns1.dyn.example.net=192.0.2.53,2001:db8::53')
 */
export function parseNameserverSpec(spec: string): NameserverSpec {
  const [name, addresses, extra] = spec.split('=');
  const usage = `--ns expects NAME, NAME=IP or NAME=IPV4,IPV6 (for example ns1.dyn.example.net=192.0.2.53), got "${spec}"`;
  if (!name || extra !== undefined || !/^(?=.{1,253}$)([a-zA-Z0-9_-]{1,63}\.)*[a-zA-Z0-9_-]{1,63}\.?$/.test(name)) throw new NodegateError('NG_USAGE', usage);
  const out: NameserverSpec = { name: name.replace(/\.$/, '').toLowerCase() };
  for (const ip of addresses === undefined ? [] : addresses.split(',')) {
    const family = isIP(ip);
    if (family === 4 && out.ipv4 === undefined) out.ipv4 = ip;
    else if (family === 6 && out.ipv6 === undefined) out.ipv6 = ip;
    else throw new NodegateError('NG_USAGE', usage);
  }
  return out;
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
