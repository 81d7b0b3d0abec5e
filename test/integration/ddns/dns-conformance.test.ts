/**
 * One set of expectations, three servers: the embedded authoritative server fed through its backend,
 * and Knot DNS and BIND 9 fed by RFC 2136 UPDATE + TSIG through Rfc2136Backend. Exact rcodes, flags, answer
 * sets and TTLs; dig (the real binary) against each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as dnsPacket from 'dns-packet';
import type { Answer } from 'dns-packet';
import { authoritativeServers, queryDns, rdataText, type DnsAnswer, type DnsServerAddress } from '../../../ddns/dns-client.ts';
import type { DeviceRecordSet, DnsBackend } from '../../../ddns/registry/dns-backend.ts';
import { startEmbeddedDns } from '../../../ddns/registry/dns/server.ts';
import { Rfc2136Backend } from '../../../ddns/registry/rfc2136.ts';
import { startBind } from '../../support/bind.ts';
import { startKnot } from '../../support/knot.ts';

const run = promisify(execFile);
const ZONE = 'dyn.example.net';
const NAMESERVERS = [{ name: `ns1.${ZONE}`, ipv4: '127.0.0.1' }, { name: 'ns2.example.org' }];
const D1 = 'aaaabbbbccccdddd';
const D2 = 'eeeeffffgggghhhh';
const D3 = 'iiiijjjjkkkkllll';
const ACME = 'c0ffee00-1111-2222-3333-444455556666';
const DEVICES: DeviceRecordSet[] = [
  { id: D1, ipv4: '198.51.100.7', ipv6: '2001:db8::7', lan: '192.168.1.10', acmeTxt: ['tok-one', 'tok-two'] },
  { id: D2, ipv4: '203.0.113.9', ipv6: null, lan: 'fd00::9', acmeTxt: [] },
  // No public address: <D3> is an empty non-terminal (lan.<D3> exists below it), no wildcard.
  { id: D3, ipv4: null, ipv6: null, lan: '192.168.1.3', acmeTxt: [] },
  { id: ACME, kind: 'acme-dns', ipv4: null, ipv6: null, lan: null, acmeTxt: ['acme-dns-value'] },
];

interface Target {
  server: DnsServerAddress;
  backend: DnsBackend;
  stop(): Promise<void>;
}

const targets: Array<{ name: string; start: () => Promise<Target> }> = [
  {
    name: 'embedded server',
    start: async () => {
      const dns = await startEmbeddedDns({ zone: ZONE, nameservers: NAMESERVERS, udp: { host: '127.0.0.1', port: 0 } });
      const a = dns.address();
      await dns.backend.loadAll([]);
      return { server: { host: a.host, port: a.udpPort }, backend: dns.backend, stop: () => dns.close() };
    },
  },
  {
    name: 'knot via RFC 2136 + TSIG',
    start: async () => {
      const knot = await startKnot({ zone: ZONE, nameservers: NAMESERVERS });
      const backend = new Rfc2136Backend({ server: { host: knot.host, port: knot.port }, zone: ZONE, tsig: knot.tsig });
      return {
        server: { host: knot.host, port: knot.port },
        backend,
        stop: async () => {
          await backend.close();
          await knot.stop();
        },
      };
    },
  },
  {
    name: 'bind9 via RFC 2136 + TSIG',
    start: async () => {
      const bind = await startBind({ zone: ZONE, nameservers: NAMESERVERS });
      const backend = new Rfc2136Backend({ server: { host: bind.host, port: bind.port }, zone: ZONE, tsig: bind.tsig });
      return {
        server: { host: bind.host, port: bind.port },
        backend,
        stop: async () => {
          await backend.close();
          await bind.stop();
        },
      };
    },
  },
];

/** A record as one comparable line: `owner ttl TYPE data`. */
function line(a: Answer): string {
  const ttl = a.type === 'OPT' ? 0 : a.ttl;
  return `${a.name.toLowerCase()} ${ttl} ${a.type} ${rdataText(a).replace(/ \d+ 3600 600 1209600 30$/, ' SERIAL 3600 600 1209600 30')}`;
}
const lines = (as: Answer[]) => as.map(line).sort();
const soaNeg = `${ZONE} 30 SOA ns1.${ZONE} hostmaster.${ZONE} SERIAL 3600 600 1209600 30`;

describe.each(targets)('DNS conformance: $name', ({ start }) => {
  let t: Target;
  const q = (name: string, type: string, tcp = false): Promise<DnsAnswer> => queryDns(t.server, name, type, { tcp, timeoutMs: 2000 });
  const serial = async () => {
    const r = await q(ZONE, 'SOA');
    const soa = r.answers[0];
    if (soa?.type !== 'SOA') throw new Error('no SOA');
    return soa.data.serial!;
  };

  beforeAll(async () => {
    t = await start();
    for (const d of DEVICES) await t.backend.putDevice(d);
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('answers A and AAAA of a device authoritatively with TTL 60', async () => {
    const a = await q(`${D1}.${ZONE}`, 'A');
    expect([a.rcode, a.flags.aa, a.flags.tc]).toEqual(['NOERROR', true, false]);
    expect(lines(a.answers)).toEqual([`${D1}.${ZONE} 60 A 198.51.100.7`]);
    expect(a.authorities).toEqual([]);
    const aaaa = await q(`${D1}.${ZONE}`, 'AAAA');
    expect(lines(aaaa.answers)).toEqual([`${D1}.${ZONE} 60 AAAA 2001:db8::7`]);
  });

  it('serves the LAN name with its private address, NODATA for the other family', async () => {
    expect(lines((await q(`lan.${D1}.${ZONE}`, 'A')).answers)).toEqual([`lan.${D1}.${ZONE} 60 A 192.168.1.10`]);
    const none = await q(`lan.${D1}.${ZONE}`, 'AAAA');
    expect([none.rcode, none.flags.aa, none.answers.length]).toEqual(['NOERROR', true, 0]);
    expect(lines(none.authorities)).toEqual([soaNeg]);
    expect(lines((await q(`lan.${D2}.${ZONE}`, 'AAAA')).answers)).toEqual([`lan.${D2}.${ZONE} 60 AAAA fd00::9`]);
  });

  it('serves two TXT values at _acme-challenge, and NODATA for A there (the name exists)', async () => {
    const txt = await q(`_acme-challenge.${D1}.${ZONE}`, 'TXT');
    expect(lines(txt.answers)).toEqual([`_acme-challenge.${D1}.${ZONE} 60 TXT "tok-one"`, `_acme-challenge.${D1}.${ZONE} 60 TXT "tok-two"`]);
    const a = await q(`_acme-challenge.${D1}.${ZONE}`, 'A');
    expect([a.rcode, a.flags.aa, a.answers.length]).toEqual(['NOERROR', true, 0]);
    expect(lines(a.authorities)).toEqual([soaNeg]);
  });

  it('synthesises wildcard answers for any name below a device (RFC 4592)', async () => {
    expect(lines((await q(`foo.${D1}.${ZONE}`, 'A')).answers)).toEqual([`foo.${D1}.${ZONE} 60 A 198.51.100.7`]);
    expect(lines((await q(`a.b.c.${D1}.${ZONE}`, 'AAAA')).answers)).toEqual([`a.b.c.${D1}.${ZONE} 60 AAAA 2001:db8::7`]);
    expect(lines((await q(`*.${D1}.${ZONE}`, 'A')).answers)).toEqual([`*.${D1}.${ZONE} 60 A 198.51.100.7`]);
    // No TXT at _acme-challenge.<D2>: the name does not exist, so the wildcard covers it.
    expect(lines((await q(`_acme-challenge.${D2}.${ZONE}`, 'A')).answers)).toEqual([`_acme-challenge.${D2}.${ZONE} 60 A 203.0.113.9`]);
    const nodata = await q(`www.${D2}.${ZONE}`, 'AAAA');
    expect([nodata.rcode, nodata.flags.aa, nodata.answers.length]).toEqual(['NOERROR', true, 0]);
    expect(lines(nodata.authorities)).toEqual([soaNeg]);
  });

  it('answers NXDOMAIN with the SOA (negative TTL 30) for names that do not exist', async () => {
    for (const name of [`nope.${ZONE}`, `x.lan.${D1}.${ZONE}`, `x.${D3}.${ZONE}`, `deep.nope.${ZONE}`]) {
      const r = await q(name, 'A');
      expect([name, r.rcode, r.flags.aa, r.answers.length]).toEqual([name, 'NXDOMAIN', true, 0]);
      expect(lines(r.authorities)).toEqual([soaNeg]);
    }
  });

  it('answers NODATA, not NXDOMAIN, for an empty non-terminal', async () => {
    const r = await q(`${D3}.${ZONE}`, 'A');
    expect([r.rcode, r.flags.aa, r.answers.length]).toEqual(['NOERROR', true, 0]);
    expect(lines(r.authorities)).toEqual([soaNeg]);
  });

  it('refuses names outside the zone', async () => {
    for (const name of ['example.org', 'example.net', `x${ZONE}`]) {
      const r = await q(name, 'A');
      expect([name, r.rcode, r.flags.aa, r.answers.length]).toEqual([name, 'REFUSED', false, 0]);
    }
  });

  it('matches names case-insensitively and echoes the question case', async () => {
    const name = `AaAaBbBbCcCcDdDd.DYN.Example.NET`;
    const r = await q(name, 'A');
    expect(r.rcode).toBe('NOERROR');
    // The question comes back as asked; the owner case of answers may differ (RFC 4343 §3: BIND
    // uses the stored case, Knot and the embedded server the question's).
    expect(dnsPacket.decode(r.raw).questions).toEqual([{ name, type: 'A', class: 'IN' }]);
    expect(r.answers.map((a) => `${a.name.toLowerCase()} ${rdataText(a)}`)).toEqual([`${name.toLowerCase()} 198.51.100.7`]);
  });

  it('serves SOA and NS at the apex with glue for the in-zone nameserver', async () => {
    const soa = await q(ZONE, 'SOA');
    expect(lines(soa.answers)).toEqual([`${ZONE} 3600 SOA ns1.${ZONE} hostmaster.${ZONE} SERIAL 3600 600 1209600 30`]);
    const ns = await q(ZONE, 'NS');
    expect(lines(ns.answers)).toEqual([`${ZONE} 3600 NS ns1.${ZONE}`, `${ZONE} 3600 NS ns2.example.org`]);
    expect(lines(ns.additionals)).toEqual([`ns1.${ZONE} 3600 A 127.0.0.1`]);
    expect(lines((await q(`ns1.${ZONE}`, 'A')).answers)).toEqual([`ns1.${ZONE} 3600 A 127.0.0.1`]);
  });

  it('lists its authoritative servers with their glue addresses (what certs/ asks)', async () => {
    // ns2.example.org is outside the zone: the server refuses to resolve it, so it has no address here.
    expect(await authoritativeServers(ZONE, t.server)).toEqual([{ name: `ns1.${ZONE}`, host: '127.0.0.1', port: t.server.port }]);
    await expect(authoritativeServers('example.org', t.server)).rejects.toMatchObject({ code: 'NG_DNS_ZONE_UNKNOWN' });
  });

  it('serves the TXT of an acme-dns account at its own name with TTL 1, as acme-dns does', async () => {
    expect(lines((await q(`${ACME}.${ZONE}`, 'TXT')).answers)).toEqual([`${ACME}.${ZONE} 1 TXT "acme-dns-value"`]);
  });

  it('gives the same answer over TCP', async () => {
    const r = await q(`_acme-challenge.${D1}.${ZONE}`, 'TXT', true);
    expect([r.transport, r.rcode, r.flags.aa]).toEqual(['tcp', 'NOERROR', true]);
    expect(r.answers).toHaveLength(2);
  });

  it('replaces a device set, moves the SOA serial forward, and removes devices', async () => {
    const before = await serial();
    await t.backend.putDevice({ ...DEVICES[0]!, ipv4: '198.51.100.8', acmeTxt: ['tok-three'] });
    const after = await serial();
    expect(after).toBeGreaterThan(before);
    expect(lines((await q(`${D1}.${ZONE}`, 'A')).answers)).toEqual([`${D1}.${ZONE} 60 A 198.51.100.8`]);
    expect(lines((await q(`x.${D1}.${ZONE}`, 'A')).answers)).toEqual([`x.${D1}.${ZONE} 60 A 198.51.100.8`]);
    expect(lines((await q(`_acme-challenge.${D1}.${ZONE}`, 'TXT')).answers)).toEqual([`_acme-challenge.${D1}.${ZONE} 60 TXT "tok-three"`]);

    await t.backend.removeDevice(D2);
    expect(await serial()).toBeGreaterThan(after);
    for (const name of [`${D2}.${ZONE}`, `www.${D2}.${ZONE}`, `lan.${D2}.${ZONE}`]) {
      expect([name, (await q(name, 'A')).rcode]).toEqual([name, 'NXDOMAIN']);
    }
    await t.backend.removeDevice('neverexisted0000');
  });

  it('answers the real dig binary', async () => {
    const { stdout } = await run('dig', ['+norec', '+short', '+time=2', '+tries=1', '-p', String(t.server.port), `@${t.server.host}`, `lan.${D1}.${ZONE}`, 'A']);
    expect(stdout.trim()).toBe('192.168.1.10');
    const txt = await run('dig', ['+norec', '+short', '+tcp', '+time=2', '+tries=1', '-p', String(t.server.port), `@${t.server.host}`, `${ACME}.${ZONE}`, 'TXT']);
    expect(txt.stdout.trim()).toBe('"acme-dns-value"');
    const nx = await run('dig', ['+norec', '+time=2', '+tries=1', '-p', String(t.server.port), `@${t.server.host}`, `nope.${ZONE}`, 'A']);
    expect(nx.stdout).toMatch(/status: NXDOMAIN/);
    expect(nx.stdout).toMatch(/flags: qr aa;/);
    // signed with a key the server does not have: NOTAUTH with an unsigned BADKEY TSIG (RFC 8945 §5.2.1)
    const signed = await run('dig', ['+norec', '+time=2', '+tries=1', '-y', `hmac-sha256:unknown-key:${Buffer.from('a key nobody has').toString('base64')}`, '-p', String(t.server.port), `@${t.server.host}`, `lan.${D1}.${ZONE}`, 'A']).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? '' }));
    expect(signed.stdout).toMatch(/status: NOTAUTH/);
    expect(signed.stdout + signed.stderr).toMatch(/tsig indicates error|BADKEY/i);
  });
});
