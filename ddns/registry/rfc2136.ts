/**
 * DnsBackend that pushes device records to a real authoritative server (Knot, BIND, PowerDNS) by
 * RFC 2136 UPDATE signed with TSIG (RFC 8945), for operators whose DNS must scale past one machine.
 *
 * putDevice sends ONE update that deletes every name of the device and adds the new records, so the
 * server applies the change atomically (RFC 2136 §3.4: all or nothing) and bumps its SOA serial.
 * Updates go over TCP (RFC 2136 §6: either transport; TCP has no size limit and no retransmit
 * ambiguity). The reply's TSIG is verified before its rcode is believed.
 */
import { randomInt } from 'node:crypto';
import { isIP } from 'node:net';
import { isNodegateError, NodegateError } from '../../core/errors.ts';
import { ACME_CHALLENGE_TTL_S, ACME_DNS_TXT_TTL_S, DEVICE_RECORD_TTL_S, type BackendCallOptions, type DeviceRecordSet, type DnsBackend } from './dns-backend.ts';
import { tcpRequest, type DnsServerAddress } from '../dns-client.ts';
import { buildUpdate, OPCODE_UPDATE, type UpdateOperation } from '../dns-update.ts';
import { signMessage, verifyMessage, type TsigKey } from '../tsig.ts';

/** Bound on one UPDATE round trip, ms: a server commits a small change in milliseconds. */
export const RFC2136_TIMEOUT_MS = 5_000;

export interface Rfc2136BackendOptions {
  server: DnsServerAddress;
  /** The zone updated (`dyn.example.net`), as configured on the server. */
  zone: string;
  tsig: TsigKey;
  /** Default {@link RFC2136_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Clock for TSIG time-signed, ms since the epoch. */
  now?: () => number;
}

const RCODE_NAMES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 6: 'YXDOMAIN', 7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE' };

export class Rfc2136Backend implements DnsBackend {
  private readonly zone: string;
  private readonly timeoutMs: number;
  private closed = false;

  constructor(private readonly options: Rfc2136BackendOptions) {
    this.zone = options.zone.replace(/\.$/, '').toLowerCase();
    this.timeoutMs = options.timeoutMs ?? RFC2136_TIMEOUT_MS;
    // Fail at construction on a bad key (TypeError: caller misuse), before any socket opens.
    signMessage(Buffer.alloc(12), options.tsig);
  }

  /** The four names a device may own, under `<id>.<zone>`. */
  private names(id: string): { base: string; wildcard: string; lan: string; acme: string } {
    const base = `${id.toLowerCase()}.${this.zone}`;
    return { base, wildcard: `*.${base}`, lan: `lan.${base}`, acme: `_acme-challenge.${base}` };
  }

  private deletions(id: string): UpdateOperation[] {
    const n = this.names(id);
    return [n.base, n.wildcard, n.lan, n.acme].map((name) => ({ op: 'delete-name' as const, name }));
  }

  async putDevice(set: DeviceRecordSet, options: BackendCallOptions = {}): Promise<void> {
    const n = this.names(set.id);
    const ttl = DEVICE_RECORD_TTL_S;
    const ops: UpdateOperation[] = this.deletions(set.id);
    const acmeDns = set.kind === 'acme-dns';
    const txtTtl = acmeDns ? ACME_DNS_TXT_TTL_S : ACME_CHALLENGE_TTL_S;
    const txt = set.acmeTxt.map((data) => ({ op: 'add' as const, record: { type: 'TXT' as const, name: acmeDns ? n.base : n.acme, ttl: txtTtl, data } }));
    if (acmeDns) {
      ops.push(...txt);
    } else {
      for (const name of [n.base, n.wildcard]) {
        if (set.ipv4 !== null) ops.push({ op: 'add', record: { type: 'A', name, ttl, data: set.ipv4 } });
        if (set.ipv6 !== null) ops.push({ op: 'add', record: { type: 'AAAA', name, ttl, data: set.ipv6 } });
      }
      if (set.lan !== null) ops.push({ op: 'add', record: { type: isIP(set.lan) === 6 ? 'AAAA' : 'A', name: n.lan, ttl, data: set.lan } });
      ops.push(...txt);
    }
    await this.send(ops, options);
  }

  async removeDevice(id: string, options: BackendCallOptions = {}): Promise<void> {
    await this.send(this.deletions(id), options);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Signs, sends over TCP, verifies the reply's TSIG, maps its rcode. */
  private async send(ops: UpdateOperation[], options: BackendCallOptions): Promise<void> {
    if (this.closed) throw new TypeError('Rfc2136Backend is closed');
    const { server, tsig } = this.options;
    const now = this.options.now ?? Date.now;
    const id = randomInt(0, 65_536);
    const signed = signMessage(buildUpdate(id, this.zone, ops), tsig, { now });
    const peer = `DNS server ${server.host}:${server.port}`;
    const reply = await tcpRequest(
      server,
      signed.message,
      (msg) => (msg.length >= 12 && msg.readUInt16BE(0) === id && (msg[2]! & 0x80) !== 0 ? msg : null),
      Date.now() + this.timeoutMs,
      options.signal,
      () =>
        new NodegateError('NG_DNS_TIMEOUT', `${peer} did not answer an UPDATE of ${this.zone} within ${this.timeoutMs} ms: check that it runs and listens on TCP`, {
          details: { server: `${server.host}:${server.port}`, zone: this.zone },
        }),
    );
    const opcode = (reply[2]! >> 3) & 0xf;
    if (opcode !== OPCODE_UPDATE) throw new NodegateError('NG_DNS_MALFORMED', `${peer} answered an UPDATE with opcode ${opcode}: it is not a DNS server that supports RFC 2136`);
    const rcode = reply[3]! & 0xf;
    // The TSIG first: an unsigned or forged "NOERROR" must not be believed. An unsigned failure
    // (Knot answers NOTAUTH unsigned for a zone it does not serve) is reported as that failure:
    // believing it cannot make us think a change was applied.
    try {
      verifyMessage(reply, tsig, { requestMac: signed.mac, now, peer });
    } catch (err) {
      if (!(isNodegateError(err, 'NG_DNS_TSIG_MISSING') && rcode !== 0)) throw err;
    }
    if (rcode === 0) return;
    const name = RCODE_NAMES[rcode] ?? String(rcode);
    if (rcode === 5 || rcode === 9 || rcode === 10) {
      throw new NodegateError('NG_DNS_UPDATE_REFUSED', `${peer} refused the UPDATE of zone ${this.zone} (${name}): allow updates with key "${tsig.name}" for that zone in its ACL`, {
        details: { rcode: name, zone: this.zone },
      });
    }
    throw new NodegateError('NG_DNS_UPDATE_FAILED', `${peer} failed the UPDATE of zone ${this.zone} (${name}): see the server's log`, { details: { rcode: name, zone: this.zone } });
  }
}
