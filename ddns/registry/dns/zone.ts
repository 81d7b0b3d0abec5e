/**
 * The zone the embedded server is authoritative for, in memory, and the answer algorithm of
 * RFC 1034 §4.3.2 for a zone without delegations or CNAMEs, with the wildcard rules of RFC 4592
 * (closest encloser, source of synthesis, empty non-terminals exist) and the negative answers of
 * RFC 2308 (SOA in authority, TTL = min(SOA TTL, SOA MINIMUM)). ANY (RFC 8482) returns every
 * RRset of the node, which is small here.
 *
 * Names are wire keys (see wire.ts). A name exists when it owns records or has a descendant that does.
 */
import { isIP } from 'node:net';
import { ACME_CHALLENGE_TTL_S, ACME_DNS_TXT_TTL_S, DEVICE_RECORD_TTL_S, NEGATIVE_TTL_S, type DeviceRecordSet } from '../dns-backend.ts';
import { addressRdata, labelOffsets, RCODE, txtRdata, TYPE, wireKey, type RRset } from './wire.ts';

/** TTL of the apex SOA and NS RRsets and of in-zone nameserver addresses, s: they rarely change. */
export const APEX_TTL_S = 3_600;
/** SOA timers (RFC 1912 §2.2 ranges): refresh 1 h, retry 10 min, expire 14 d; minimum = negative TTL. */
export const SOA_REFRESH_S = 3_600;
export const SOA_RETRY_S = 600;
export const SOA_EXPIRE_S = 1_209_600;

export interface NameserverSpec {
  name: string;
  ipv4?: string;
  ipv6?: string;
}

export interface Section {
  /** Wire key of the owner, or null for "the question name" (wildcard synthesis, direct hits). */
  owner: string | null;
  rrset: RRset;
}

export interface LookupResult {
  rcode: number;
  aa: boolean;
  answer: Section[];
  authority: Section[];
  /** Glue: may be dropped when it does not fit (RFC 2181 §9). */
  additional: Section[];
}

type Node = Map<number, RRset>;

const DEVICE_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

export class Zone {
  readonly apexKey: string;
  private readonly nodes = new Map<string, Node>();
  /** Names that exist (own records or have a descendant that does) → number of nodes at or below. */
  private readonly existence = new Map<string, number>();
  /** The names each device owns, by device label key (`\x10abc...`). */
  private readonly deviceNames = new Map<string, { fingerprint: string; base: string; names: string[] }>();
  private readonly soa: RRset;
  private readonly negativeSoa: RRset;
  serial: number;

  constructor(zone: string, nameservers: NameserverSpec[], hostmaster: string | undefined, initialSerial: number) {
    if (nameservers.length === 0) throw new TypeError('the embedded DNS server needs at least one nameserver name');
    this.apexKey = wireKey(zone);
    this.serial = initialSerial >>> 0;
    const nsKeys = nameservers.map((ns) => wireKey(ns.name));
    const rname = wireKey(hostmaster ?? `hostmaster.${zone}`);
    const soaRdata = { kind: 'soa' as const, mname: nsKeys[0]!, rname, refresh: SOA_REFRESH_S, retry: SOA_RETRY_S, expire: SOA_EXPIRE_S, minimum: NEGATIVE_TTL_S };
    this.soa = { type: TYPE.SOA, ttl: APEX_TTL_S, rdatas: [soaRdata] };
    this.negativeSoa = { type: TYPE.SOA, ttl: Math.min(APEX_TTL_S, NEGATIVE_TTL_S), rdatas: [soaRdata] };
    const apex: Node = new Map();
    apex.set(TYPE.SOA, this.soa);
    apex.set(TYPE.NS, { type: TYPE.NS, ttl: APEX_TTL_S, rdatas: nsKeys.map((name) => ({ kind: 'name' as const, name })) });
    this.addNode(this.apexKey, apex);
    nameservers.forEach((ns, i) => {
      const key = nsKeys[i]!;
      if (!this.isInZone(key)) return;
      const node: Node = this.nodes.get(key) ?? new Map<number, RRset>();
      if (ns.ipv4) node.set(TYPE.A, { type: TYPE.A, ttl: APEX_TTL_S, rdatas: [addressRdata(ns.ipv4)] });
      if (ns.ipv6) node.set(TYPE.AAAA, { type: TYPE.AAAA, ttl: APEX_TTL_S, rdatas: [addressRdata(ns.ipv6)] });
      if (node.size > 0 && !this.nodes.has(key)) this.addNode(key, node);
    });
  }

  isInZone(key: string): boolean {
    if (key.length < this.apexKey.length || !key.endsWith(this.apexKey)) return false;
    if (key.length === this.apexKey.length) return true;
    // The apex must start at a label boundary of key.
    return labelOffsets(key).includes(key.length - this.apexKey.length);
  }

  /**
   * The cache group of a name: the label right below the apex (a device id), '' for the apex,
   * '!' for names outside the zone. A device change invalidates exactly its group.
   */
  groupOf(key: string): string {
    if (!this.isInZone(key)) return '!';
    const prefixLen = key.length - this.apexKey.length;
    if (prefixLen === 0) return '';
    const offsets = labelOffsets(key);
    let last = 0;
    for (const o of offsets) {
      if (o >= prefixLen) break;
      last = o;
    }
    return key.slice(last, prefixLen);
  }

  /** The name and its ancestors up to the apex (each counted once in `existence`). */
  private lineage(key: string): string[] {
    const apexAt = key.length - this.apexKey.length;
    const out: string[] = [];
    for (const o of labelOffsets(key)) {
      if (o > apexAt) break;
      out.push(o === 0 ? key : o === apexAt ? this.apexKey : key.slice(o));
    }
    return out;
  }

  private addNode(key: string, node: Node, lineage = this.lineage(key)): void {
    this.nodes.set(key, node);
    for (const name of lineage) this.existence.set(name, (this.existence.get(name) ?? 0) + 1);
  }

  private removeNode(key: string, lineage = this.lineage(key)): void {
    if (!this.nodes.delete(key)) return;
    for (const name of lineage) {
      const n = (this.existence.get(name) ?? 1) - 1;
      if (n <= 0) this.existence.delete(name);
      else this.existence.set(name, n);
    }
  }

  /** Replaces every record of device `set.id`. Returns its group key and whether anything changed. */
  putDevice(set: DeviceRecordSet): { group: string; changed: boolean } {
    const fingerprint = JSON.stringify([set.kind ?? 'device', set.ipv4, set.ipv6, set.lan, set.acmeTxt]);
    const { base, nodes } = this.buildDevice(set);
    const group = base.slice(0, base.length - this.apexKey.length);
    const old = this.deviceNames.get(group);
    if (old && old.fingerprint === fingerprint) return { group, changed: false };
    if (old) this.removeDeviceNodes(old.base, old.names);
    // Device names sit one or two labels below the apex: their lineage is known without parsing.
    for (const [name, node] of nodes) this.addNode(name, node, name === base ? [base, this.apexKey] : [name, base, this.apexKey]);
    this.deviceNames.set(group, { fingerprint, base, names: [...nodes.keys()] });
    return { group, changed: true };
  }

  private removeDeviceNodes(base: string, names: string[]): void {
    for (const name of names) this.removeNode(name, name === base ? [base, this.apexKey] : [name, base, this.apexKey]);
  }

  removeDevice(id: string): { group: string; changed: boolean } {
    const group = wireKey(id).slice(0, -1);
    const old = this.deviceNames.get(group);
    if (!old) return { group, changed: false };
    this.removeDeviceNodes(old.base, old.names);
    this.deviceNames.delete(group);
    return { group, changed: true };
  }

  get deviceCount(): number {
    return this.deviceNames.size;
  }

  private buildDevice(set: DeviceRecordSet): { base: string; nodes: Map<string, Node> } {
    const id = set.id.toLowerCase();
    if (!DEVICE_LABEL.test(id)) throw new TypeError(`device id "${set.id}" is not a DNS label`);
    const base = String.fromCharCode(id.length) + id + this.apexKey;
    const nodes = new Map<string, Node>();
    const rrset = (type: number, rdatas: RRset['rdatas'], ttl = DEVICE_RECORD_TTL_S): RRset => ({ type, ttl, rdatas });
    const txtTtl = set.kind === 'acme-dns' ? ACME_DNS_TXT_TTL_S : ACME_CHALLENGE_TTL_S;
    const txt = set.acmeTxt.length > 0 ? rrset(TYPE.TXT, set.acmeTxt.map(txtRdata), txtTtl) : null;
    if (set.kind === 'acme-dns') {
      if (txt) nodes.set(base, new Map([[TYPE.TXT, txt]]));
      return { base, nodes };
    }
    // One RRset object serves both <id> and *.<id>.
    const address = new Map<number, RRset>();
    if (set.ipv4 !== null) address.set(TYPE.A, rrset(TYPE.A, [v4(set.ipv4)]));
    if (set.ipv6 !== null) address.set(TYPE.AAAA, rrset(TYPE.AAAA, [v6(set.ipv6)]));
    if (address.size > 0) {
      nodes.set(base, address);
      nodes.set('\x01*' + base, address);
    }
    if (set.lan !== null) {
      const type = isIP(set.lan) === 6 ? TYPE.AAAA : TYPE.A;
      nodes.set('\x03lan' + base, new Map([[type, rrset(type, [addressRdata(set.lan)])]]));
    }
    if (txt) nodes.set('\x0f_acme-challenge' + base, new Map([[TYPE.TXT, txt]]));
    return { base, nodes };
  }

  /** Answers (qkey, qtype); qclass is checked by the caller. */
  lookup(qkey: string, qtype: number): LookupResult {
    if (!this.isInZone(qkey)) return { rcode: RCODE.REFUSED, aa: false, answer: [], authority: [], additional: [] };
    let node = this.nodes.get(qkey);
    if (!node && !this.existence.has(qkey)) {
      // RFC 4592 §4: find the closest encloser, then its wildcard child (the source of synthesis).
      const offsets = labelOffsets(qkey);
      for (let i = 1; i < offsets.length; i++) {
        const candidate = qkey.slice(offsets[i]);
        if (this.existence.has(candidate)) {
          node = this.nodes.get('\x01*' + candidate);
          break;
        }
      }
      if (!node) return { rcode: RCODE.NXDOMAIN, aa: true, answer: [], authority: [{ owner: this.apexKey, rrset: this.negativeSoa }], additional: [] };
    }
    const answer: Section[] = [];
    if (node) {
      if (qtype === TYPE.ANY) for (const rrset of node.values()) answer.push({ owner: null, rrset });
      else {
        const rrset = node.get(qtype);
        if (rrset) answer.push({ owner: null, rrset });
      }
    }
    if (answer.length === 0) return { rcode: RCODE.NOERROR, aa: true, answer, authority: [{ owner: this.apexKey, rrset: this.negativeSoa }], additional: [] };
    const additional: Section[] = [];
    for (const s of answer) {
      if (s.rrset.type !== TYPE.NS) continue;
      for (const r of s.rrset.rdatas) {
        if (r.kind !== 'name') continue;
        const target = this.nodes.get(r.name);
        const a = target?.get(TYPE.A);
        const aaaa = target?.get(TYPE.AAAA);
        if (a) additional.push({ owner: r.name, rrset: a });
        if (aaaa) additional.push({ owner: r.name, rrset: aaaa });
      }
    }
    return { rcode: RCODE.NOERROR, aa: true, answer, authority: [], additional };
  }
}

function v4(ip: string) {
  if (isIP(ip) !== 4) throw new TypeError(`"${ip}" is not an IPv4 address`);
  return addressRdata(ip);
}

function v6(ip: string) {
  if (isIP(ip) !== 6) throw new TypeError(`"${ip}" is not an IPv6 address`);
  return addressRdata(ip);
}
