/** Behaviour of the embedded server that the conformance suite does not cover (wire-level details). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { buildQuery, frameTcp, queryDns, rdataText, tcpMessageReader } from '../../../../../ddns/dns-client.ts';
import { parseNameserverSpec, startEmbeddedDns, type EmbeddedDns } from '../../../../../ddns/registry/dns/server.ts';
import { findTsig, signMessage } from '../../../../../ddns/tsig.ts';
import { createLogger } from '../../../../../core/log.ts';

const ZONE = 'dyn.example.net';
const D1 = 'aaaabbbbccccdddd';
// Ten nameservers with both address families: the NS answer with glue exceeds 512 bytes.
const MANY_NS = Array.from({ length: 10 }, (_, i) => ({ name: `a-rather-long-nameserver-label-number-${i}-of-ten.${ZONE}`, ipv4: `127.0.0.${i + 1}`, ipv6: `::${i + 1}` }));

let dns: EmbeddedDns;
let server: { host: string; port: number };

/** Sends raw bytes over UDP; resolves with the reply or null after `waitMs`. */
function rawUdp(msg: Buffer, waitMs = 300): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(null);
    }, waitMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(msg, server.port, server.host);
  });
}

beforeAll(async () => {
  dns = await startEmbeddedDns({ zone: ZONE, nameservers: MANY_NS, udp: { host: '127.0.0.1', port: 0 }, now: () => 1_700_000_000_000 });
  server = { host: '127.0.0.1', port: dns.address().udpPort };
  await dns.backend.loadAll([{ id: D1, ipv4: '198.51.100.7', ipv6: '2001:db8::7', lan: '192.168.1.10', acmeTxt: ['tok-one', 'tok-two'] }]);
});
afterAll(async () => {
  await dns?.close();
});

describe('embedded DNS server', () => {
  it('listens on UDP and TCP with port 0 and starts the serial at the clock', () => {
    const a = dns.address();
    expect(a.udpPort).toBeGreaterThan(0);
    expect(a.tcpPort).toBeGreaterThan(0);
    expect(dns.serial()).toBe(1_700_000_001); // loadAll changed the zone once
  });

  it('compresses names: an A answer with EDNS is 77 bytes, like knot', async () => {
    const r = await queryDns(server, `${D1}.${ZONE}`, 'A');
    expect(r.raw.length).toBe(77);
    const plain = await queryDns(server, `${D1}.${ZONE}`, 'A', { edns: false });
    expect(plain.raw.length).toBe(66);
    expect(plain.opt).toBeNull();
    expect(r.opt).toEqual({ udpPayloadSize: 1232 });
    const mixed = `AaAaBbBbCcCcDdDd.Dyn.EXAMPLE.net`;
    expect((await queryDns(server, mixed, 'A')).answers.map((a) => a.name)).toEqual([mixed]); // owner points at the question
  });

  it('truncates at 512 bytes without EDNS (TC=1, empty answer) and answers fully over TCP', async () => {
    const udp = await rawUdp(buildQuery(7, ZONE, 'NS', { edns: false }));
    const d = dnsPacket.decode(udp!);
    expect([d.flag_tc, d.flag_aa, d.answers!.length, udp!.length <= 512]).toEqual([true, true, 0, true]);
    const full = await queryDns(server, ZONE, 'NS', { edns: false });
    expect(full.transport).toBe('tcp');
    expect(full.answers).toHaveLength(10);
    expect(full.additionals).toHaveLength(20);
  });

  it('drops glue instead of truncating when only the glue does not fit', async () => {
    // With EDNS 1232 everything fits; at 700 the NS RRset fits but not the glue.
    const withEdns = await queryDns(server, ZONE, 'NS', { edns: 1232 });
    expect([withEdns.transport, withEdns.answers.length, withEdns.additionals.length]).toEqual(['udp', 10, 20]);
    const small = await rawUdp(buildQuery(8, ZONE, 'NS', { edns: 700 }));
    const d = dnsPacket.decode(small!);
    expect(small!.length).toBeLessThanOrEqual(700);
    expect([d.flag_tc, d.answers!.length, d.additionals!.map((a) => a.type)]).toEqual([false, 10, ['OPT']]);
  });

  it('answers ANY with every RRset of the name', async () => {
    const r = await queryDns(server, `${D1}.${ZONE}`, 'ANY');
    expect(r.answers.map((a) => `${a.type} ${rdataText(a)}`).sort()).toEqual(['A 198.51.100.7', 'AAAA 2001:db8::7']);
  });

  it('echoes id, RD, CD and the DO bit', async () => {
    const q = dnsPacket.encode({
      type: 'query',
      id: 0xabcd,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED,
      questions: [{ name: `${D1}.${ZONE}`, type: 'A' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: dnsPacket.DNSSEC_OK, flag_do: true, options: [] }],
    });
    const d = dnsPacket.decode((await rawUdp(q))!);
    expect([d.id, d.flag_rd, d.flag_cd, d.flag_ra, d.flag_aa]).toEqual([0xabcd, true, true, false, true]);
    expect(d.additionals).toMatchObject([{ type: 'OPT', udpPayloadSize: 1232, flag_do: true }]);
  });

  it('answers FORMERR to garbage after a header, NOTIMP to other opcodes, BADVERS to EDNS version 1', async () => {
    const garbage = Buffer.concat([Buffer.from('123401000001000000000000', 'hex'), Buffer.from([0xc0, 0xff, 0xff])]);
    const fe = dnsPacket.decode((await rawUdp(garbage))!) as dnsPacket.DecodedPacket & { rcode: string };
    expect([fe.id, fe.rcode, fe.flag_qr]).toEqual([0x1234, 'FORMERR', true]);

    const notify = dnsPacket.encode({ type: 'query', id: 9, flags: 4 << 11, questions: [{ name: ZONE, type: 'SOA' }] });
    const ni = dnsPacket.decode((await rawUdp(notify))!) as dnsPacket.DecodedPacket & { rcode: string; opcode: string };
    expect([ni.rcode, ni.opcode, ni.flag_aa]).toEqual(['NOTIMP', 'NOTIFY', false]);

    const v1 = dnsPacket.encode({
      type: 'query',
      id: 10,
      questions: [{ name: ZONE, type: 'SOA' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 1, flags: 0, flag_do: false, options: [] }],
    });
    const bv = dnsPacket.decode((await rawUdp(v1))!);
    expect(bv.answers).toEqual([]);
    expect(bv.additionals).toMatchObject([{ type: 'OPT', extendedRcode: 1, ednsVersion: 0 }]);
  });

  it('does not answer responses (QR=1) or runts, and counts them', async () => {
    const before = dns.stats();
    const response = dnsPacket.encode({ type: 'response', id: 11, questions: [{ name: ZONE, type: 'SOA' }] });
    expect(await rawUdp(response, 150)).toBeNull();
    expect(await rawUdp(Buffer.from([1, 2, 3]), 150)).toBeNull();
    const after = dns.stats();
    expect(after.droppedResponses - before.droppedResponses).toBe(1);
    expect(after.malformed - before.malformed).toBe(1);
  });

  it('refuses other classes and zone transfers', async () => {
    const ch = dnsPacket.decode((await rawUdp(dnsPacket.encode({ type: 'query', id: 12, questions: [{ name: ZONE, type: 'TXT', class: 'CH' }] })))!) as dnsPacket.DecodedPacket & { rcode: string };
    expect(ch.rcode).toBe('REFUSED');
    expect((await queryDns(server, ZONE, 'AXFR', { tcp: true })).rcode).toBe('REFUSED');
  });

  it('answers several pipelined queries on one TCP connection, in order', async () => {
    const names = [`${D1}.${ZONE}`, `lan.${D1}.${ZONE}`, `x.${D1}.${ZONE}`];
    const replies = await new Promise<dnsPacket.DecodedPacket[]>((resolve, reject) => {
      const out: dnsPacket.DecodedPacket[] = [];
      const sock = connect(dns.address().tcpPort, '127.0.0.1');
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error('timeout'));
      }, 2000);
      sock.on('data', tcpMessageReader((m) => {
        out.push(dnsPacket.decode(m));
        if (out.length === names.length) {
          clearTimeout(timer);
          sock.destroy();
          resolve(out);
        }
      }));
      sock.on('connect', () => sock.write(Buffer.concat(names.map((n, i) => frameTcp(buildQuery(100 + i, n, 'A'))))));
    });
    expect(replies.map((r) => [r.id, r.answers!.map((a) => rdataText(a))])).toEqual([
      [100, ['198.51.100.7']],
      [101, ['192.168.1.10']],
      [102, ['198.51.100.7']],
    ]);
  });

  it('serves changes at once: cached answers of a changed device are dropped, negative answers carry the new serial', async () => {
    const name = `${D1}.${ZONE}`;
    await queryDns(server, name, 'A');
    const nx1 = await queryDns(server, `nope.${ZONE}`, 'A');
    await dns.backend.putDevice({ id: D1, ipv4: '198.51.100.99', ipv6: null, lan: null, acmeTxt: [] });
    expect((await queryDns(server, name, 'A')).answers.map(rdataText)).toEqual(['198.51.100.99']);
    expect((await queryDns(server, name, 'AAAA')).answers).toEqual([]);
    const nx2 = await queryDns(server, `nope.${ZONE}`, 'A');
    const serialOf = (r: typeof nx1) => (r.authorities[0]?.type === 'SOA' ? r.authorities[0].data.serial! : -1);
    expect(serialOf(nx2)).toBe(serialOf(nx1) + 1);
    expect(serialOf(nx2)).toBe(dns.serial());
    // An identical put changes nothing, not even the serial.
    await dns.backend.putDevice({ id: D1, ipv4: '198.51.100.99', ipv6: null, lan: null, acmeTxt: [] });
    expect(serialOf(await queryDns(server, `nope.${ZONE}`, 'A'))).toBe(serialOf(nx2));
  });

  it('rejects record sets that are not valid with a TypeError and keeps serving', async () => {
    await expect(dns.backend.putDevice({ id: 'bad id', ipv4: null, ipv6: null, lan: null, acmeTxt: [] })).rejects.toThrow(TypeError);
    await expect(dns.backend.putDevice({ id: 'okid', ipv4: '2001:db8::1', ipv6: null, lan: null, acmeTxt: [] })).rejects.toThrow(TypeError);
    expect((await queryDns(server, ZONE, 'SOA')).rcode).toBe('NOERROR');
    // A bulk load that stops at a bad set still serves (fresh, not cached) what it loaded before it.
    const name = `qqqqrrrrsssstttt.${ZONE}`;
    expect((await queryDns(server, name, 'A')).rcode).toBe('NXDOMAIN');
    const bulk = [{ id: 'qqqqrrrrsssstttt', ipv4: '198.51.100.44', ipv6: null, lan: null, acmeTxt: [] }, { id: '-bad-', ipv4: null, ipv6: null, lan: null, acmeTxt: [] }];
    await expect(dns.backend.loadAll(bulk)).rejects.toThrow(TypeError);
    expect((await queryDns(server, name, 'A')).answers.map(rdataText)).toEqual(['198.51.100.44']);
  });

  it('counts queries and answers by rcode', () => {
    const s = dns.stats();
    expect(s.queries).toBe(s.udpQueries + s.tcpQueries);
    expect(s.answers.NOERROR).toBeGreaterThan(0);
    expect(s.answers.NXDOMAIN).toBeGreaterThan(0);
    expect(s.cacheHits).toBeGreaterThan(0);
  });

  it('serves on IPv6 loopback too', async () => {
    const v6 = await startEmbeddedDns({ zone: ZONE, nameservers: MANY_NS, udp: { host: '::1', port: 0 } });
    try {
      await v6.backend.putDevice({ id: D1, ipv4: null, ipv6: '2001:db8::1', lan: null, acmeTxt: [] });
      const a = v6.address();
      expect((await queryDns({ host: '::1', port: a.udpPort }, `${D1}.${ZONE}`, 'AAAA')).answers.map(rdataText)).toEqual(['2001:db8::1']);
      expect((await queryDns({ host: '::1', port: a.tcpPort }, `${D1}.${ZONE}`, 'AAAA', { tcp: true })).answers.map(rdataText)).toEqual(['2001:db8::1']);
    } finally {
      await v6.close();
    }
  });

  it('bounds how many TCP connections are open, and closes idle ones', async () => {
    // Idle timeout far above the 3 s wait: a close of the third connection can only be the bound.
    const bounded = await startEmbeddedDns({ zone: ZONE, nameservers: MANY_NS, udp: { host: '127.0.0.1', port: 0 }, tcpMaxConnections: 2, tcpIdleTimeoutMs: 60_000 });
    const idling = await startEmbeddedDns({ zone: ZONE, nameservers: MANY_NS, udp: { host: '127.0.0.1', port: 0 }, tcpIdleTimeoutMs: 100 });
    const sockets: Array<ReturnType<typeof connect>> = [];
    const closed = (s: ReturnType<typeof connect>) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('not closed by the server')), 3000);
        s.on('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    const open = async (port: number) => {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      sockets.push(s);
      await new Promise<void>((r) => s.on('connect', () => r()));
      return s;
    };
    try {
      const a = await open(bounded.address().tcpPort);
      await open(bounded.address().tcpPort);
      await closed(await open(bounded.address().tcpPort));
      const reply = await new Promise<dnsPacket.DecodedPacket>((resolve) => {
        a.on('data', tcpMessageReader((m) => resolve(dnsPacket.decode(m))));
        a.write(frameTcp(buildQuery(5, `${D1}.${ZONE}`, 'A')));
      });
      expect([reply.id, a.destroyed]).toEqual([5, false]);
      await closed(await open(idling.address().tcpPort));
    } finally {
      for (const s of sockets) s.destroy();
      await bounded.close();
      await idling.close();
    }
  });

  it('parses --ns specs', () => {
    expect(parseNameserverSpec('NS1.dyn.example.net.=192.0.2.53,2001:db8::53')).toEqual({ name: 'ns1.dyn.example.net', ipv4: '192.0.2.53', ipv6: '2001:db8::53' });
    expect(parseNameserverSpec('ns.example.org')).toEqual({ name: 'ns.example.org' });
    for (const bad of ['', '=1.2.3.4', 'ns1=1.2.3', 'ns1=192.0.2.1,192.0.2.2', 'a b=192.0.2.1', 'ns=1.2.3.4=5']) {
      expect(() => parseNameserverSpec(bad)).toThrow(expect.objectContaining({ code: 'NG_USAGE' }));
    }
  });
});

describe('response rate limiting (UDP)', () => {
  it('past the rate, drops answers to one network and sends every second one truncated; TCP still answers in full', async () => {
    const limited = await startEmbeddedDns({ zone: ZONE, nameservers: MANY_NS, udp: { host: '127.0.0.1', port: 0 }, rateLimit: { responsesPerSecond: 5, exempt: [], now: () => 0 } }); // a still clock: no refill, however slow the machine
    const port = limited.address().udpPort;
    const s = createSocket('udp4');
    const replies: dnsPacket.DecodedPacket[] = [];
    s.on('message', (m) => replies.push(dnsPacket.decode(m)));
    try {
      await limited.backend.loadAll([{ id: D1, ipv4: '198.51.100.7', ipv6: null, lan: null, acmeTxt: [] }]);
      for (let i = 0; i < 40; i++) s.send(buildQuery(i, `${D1}.${ZONE}`, 'A'), port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 500));
      const full = replies.filter((r) => !r.flag_tc && r.answers?.length === 1);
      const truncated = replies.filter((r) => r.flag_tc && (r.answers ?? []).length === 0);
      expect(full.length).toBe(5); // the bucket's five, never refilled
      expect(truncated.length).toBe(17); // every second of the 35 limited
      expect(full.length + truncated.length).toBe(replies.length);
      expect(truncated.every((r) => r.questions?.[0]?.name === `${D1}.${ZONE}`)).toBe(true);
      const stats = limited.stats();
      expect(stats.rateLimitedSlipped).toBe(truncated.length);
      expect(stats.rateLimitedDropped).toBe(40 - replies.length);
      // a real resolver retries a truncated answer over TCP, which is never limited
      const overTcp = await queryDns({ host: '127.0.0.1', port: limited.address().tcpPort }, `${D1}.${ZONE}`, 'A', { tcp: true });
      expect(overTcp.answers.map((a) => rdataText(a))).toEqual(['198.51.100.7']);
    } finally {
      s.close();
      await limited.close();
    }
  });

  it('tells the operator, once per period, that answers are being limited', async () => {
    let logged = '';
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void (logged += line) } as unknown as NodeJS.WritableStream });
    const limited = await startEmbeddedDns({ zone: ZONE, nameservers: MANY_NS, udp: { host: '127.0.0.1', port: 0 }, logger, rateLimit: { responsesPerSecond: 2, exempt: [], now: () => 0 }, rateLimitLogMs: 100 });
    const s = createSocket('udp4');
    try {
      await new Promise((r) => setTimeout(r, 250));
      expect(logged).toBe(''); // nothing limited, nothing said
      for (let i = 0; i < 10; i++) s.send(buildQuery(i, `nope.${ZONE}`, 'A'), limited.address().udpPort, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 400));
      const lines = logged.trim().split('\n').map((l) => JSON.parse(l) as { code: string; dropped: number; truncated: number; lastAddress: string });
      expect(lines).toHaveLength(1); // one line for the burst, none while quiet after it
      expect(lines[0]).toMatchObject({ code: 'NG_DNS_RATE_LIMITED', dropped: 4, truncated: 4, lastAddress: '127.0.0.1' });
    } finally {
      s.close();
      await limited.close();
    }
  });

  it('does not limit loopback by default (a resolver on the same host), nor when turned off', async () => {
    const off = await startEmbeddedDns({ zone: ZONE, nameservers: MANY_NS, udp: { host: '127.0.0.1', port: 0 }, rateLimit: false });
    const s = createSocket('udp4');
    const counts = new Map<number, number>();
    s.on('message', (m) => counts.set(m.readUInt16BE(0) >> 15, (counts.get(m.readUInt16BE(0) >> 15) ?? 0) + 1));
    try {
      // ids 0..99 go to the default server (loopback exempt), 32768.. to the one with limiting off
      for (let i = 0; i < 100; i++) s.send(buildQuery(i, `${D1}.${ZONE}`, 'A'), server.port, server.host);
      for (let i = 0; i < 100; i++) s.send(buildQuery(32768 + i, `${D1}.${ZONE}`, 'A'), off.address().udpPort, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 500));
      expect([counts.get(0), counts.get(1)]).toEqual([100, 100]);
      expect(dns.stats().rateLimitedDropped + dns.stats().rateLimitedSlipped).toBe(0);
    } finally {
      s.close();
      await off.close();
    }
  });
});

describe('TSIG-signed requests', () => {
  it('answer NOTAUTH with an unsigned TSIG record carrying BADKEY (RFC 8945 §5.2.1), over UDP and TCP', async () => {
    const key = { name: 'secondary-key', algorithm: 'hmac-sha256' as const, secret: Buffer.from('not a key this server has').toString('base64') };
    const query = buildQuery(0x4242, `${D1}.${ZONE}`, 'SOA');
    query.writeUInt16BE(query.readUInt16BE(2) | 0x0010, 2); // CD set: echoed like in every answer
    const { message } = signMessage(query, key);
    const overUdp = await rawUdp(message);
    const overTcp = await new Promise<Buffer>((resolve, reject) => {
      const s = connect(dns.address().tcpPort, '127.0.0.1');
      s.on('error', reject);
      s.on('data', tcpMessageReader((m) => {
        s.destroy();
        resolve(m);
      }));
      s.write(frameTcp(message));
    });
    for (const reply of [overUdp!, overTcp]) {
      expect(reply.readUInt16BE(0)).toBe(0x4242);
      expect(reply[2]! & 0x80).toBe(0x80); // a response
      expect(reply[3]! & 0x0f).toBe(9); // NOTAUTH
      expect(reply[3]! & 0x10).toBe(0x10); // CD echoed (RFC 6840 §5.9)
      expect([reply.readUInt16BE(4), reply.readUInt16BE(6), reply.readUInt16BE(8), reply.readUInt16BE(10)]).toEqual([1, 0, 0, 1]);
      const tsig = findTsig(reply)!;
      expect(tsig).toMatchObject({ keyName: 'secondary-key', algorithm: 'hmac-sha256', originalId: 0x4242, error: 17 });
      expect(tsig.mac.length).toBe(0); // never signed
      expect(dnsPacket.decode(reply).questions).toEqual([{ name: `${D1}.${ZONE}`, type: 'SOA', class: 'IN' }]);
    }
    expect(dns.stats().answers.NOTAUTH).toBeGreaterThanOrEqual(2);
    // the same query unsigned is answered as usual
    expect((await queryDns(server, `${D1}.${ZONE}`, 'A')).answers).toHaveLength(1);
  });
});
