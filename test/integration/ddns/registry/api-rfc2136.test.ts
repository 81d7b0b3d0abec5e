/**
 * The same API with the RFC 2136 backend: records are pushed to a real knotd and a real BIND named
 * with TSIG and read back from them. Also: a refused UPDATE does not lose the stored change (503
 * NG_REG_UNAVAILABLE, pending for retry), start-up pushes the stored devices and survives a refusing
 * server, and `nodegate registry --backend rfc2136` works end to end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { queryDns, rdataText } from '../../../../ddns/dns-client.ts';
import { startRegistry } from '../../../../ddns/registry/main.ts';
import { generateIdentity } from '../../../../ddns/client/identity.ts';
import { RegistryClient } from '../../../../ddns/client/registry-client.ts';
import { clientForRegisteredDevice } from '../../../../ddns/client/enroll.ts';
import { startKnot, type KnotServer } from '../../../support/knot.ts';
import { startBind } from '../../../support/bind.ts';
import { tempDir } from '../../../../sim/process.ts';
import { dig, runNodegate, startRegistryProcess } from '../../../support/registry-process.ts';
import { startTestRegistry, TEST_ZONE, type TestRegistry } from '../../../support/registry.ts';

interface AuthoritativeServer {
  host: string;
  port: number;
  tsig: KnotServer['tsig'];
  stop(): Promise<void>;
}

let knot: KnotServer;
beforeAll(async () => {
  knot = await startKnot({ zone: TEST_ZONE });
});
afterAll(async () => {
  await knot?.stop();
});

const txt = (c: string) => c.repeat(43);
const knotAddr = () => ({ host: knot.host, port: knot.port });

describe.each([
  ['knot', (): Promise<AuthoritativeServer> => startKnot({ zone: TEST_ZONE })],
  ['bind', (): Promise<AuthoritativeServer> => startBind({ zone: TEST_ZONE })],
])('registry API publishing to %s by RFC 2136', (_name, startServer) => {
  let server: AuthoritativeServer;
  let reg: TestRegistry;
  beforeAll(async () => {
    server = await startServer();
    reg = await startTestRegistry({ allowAddresses: ['198.51.100.0/24', '2001:db8::/32'], backend: { rfc2136: { server: { host: server.host, port: server.port }, tsig: server.tsig } } });
  });
  afterAll(async () => {
    await reg?.stop();
    await server?.stop();
  });
  const addr = () => ({ host: server.host, port: server.port });

  it('registration + address update are served (A, AAAA, wildcard, LAN)', async () => {
    const { client, device } = await reg.device();
    await client.updateAddress({ ipv4: '198.51.100.30', ipv6: '2001:db8::30', lan: '10.0.0.30' });
    expect((await queryDns(addr(), device.name, 'A')).answers.map(rdataText)).toEqual(['198.51.100.30']);
    expect((await queryDns(addr(), `x.${device.name}`, 'AAAA')).answers.map(rdataText)).toEqual(['2001:db8::30']);
    expect((await queryDns(addr(), device.lanName, 'A')).answers.map(rdataText)).toEqual(['10.0.0.30']);
  });

  it('ACME TXT: two held, a third drops the oldest, served the same', async () => {
    const { client, device } = await reg.device();
    await client.addAcmeTxt(txt('a'));
    await client.addAcmeTxt(txt('b'));
    await client.addAcmeTxt(txt('c'));
    const served = await queryDns(addr(), `_acme-challenge.${device.name}`, 'TXT');
    expect(served.answers.map(rdataText).sort()).toEqual([`"${txt('b')}"`, `"${txt('c')}"`]);
  });

  it('moves the SOA serial on every change', async () => {
    const { client } = await reg.device();
    const serial = async () => ((await queryDns(addr(), TEST_ZONE, 'SOA')).answers[0] as { data: { serial: number } }).data.serial;
    const before = await serial();
    await client.updateAddress({ ipv4: '198.51.100.31' });
    expect(await serial()).toBeGreaterThan(before);
  });

  it('acme-dns updates are served', async () => {
    const account = (await (await fetch(`${reg.apiUrl}/register`, { method: 'POST' })).json()) as { username: string; password: string; subdomain: string; fulldomain: string };
    const res = await fetch(`${reg.apiUrl}/update`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-user': account.username, 'x-api-key': account.password },
      body: JSON.stringify({ subdomain: account.subdomain, txt: txt('d') }),
    });
    expect(res.status).toBe(200);
    expect((await queryDns(addr(), account.fulldomain, 'TXT')).answers.map(rdataText)).toEqual([`"${txt('d')}"`]);
  });

  it('a refused UPDATE (wrong TSIG secret) answers 503 NG_REG_UNAVAILABLE but keeps the change stored', async () => {
    const wrong = await startTestRegistry({
      allowAddresses: ['198.51.100.0/24'],
      backend: { rfc2136: { server: addr(), tsig: { ...server.tsig, secret: Buffer.alloc(32, 7).toString('base64') } } },
    });
    try {
      const { client, identity } = await wrong.device(); // registration stands; its empty set is queued
      await expect(client.updateAddress({ ipv4: '198.51.100.33' })).rejects.toMatchObject({ code: 'NG_REG_UNAVAILABLE', status: 503, details: { stored: true } });
      expect(wrong.store.getDevice(identity.id)?.ipv4).toBe('198.51.100.33');
      expect(wrong.publisher.pendingCount).toBe(1);
      expect((await queryDns(addr(), `${identity.id}.${TEST_ZONE}`, 'A')).rcode).toBe('NXDOMAIN');
    } finally {
      await wrong.stop();
    }
  });
});

describe('start-up with the RFC 2136 backend', () => {
  it('pushes every stored device to knot at start, and starts even when knot refuses (changes stay pending)', async () => {
    const dir = await tempDir('ng-registry-rfc2136-start-');
    const base = { zone: TEST_ZONE, dataDir: dir.path, api: { host: '127.0.0.1', port: 0 }, allowAddresses: ['198.51.100.0/24'] };
    try {
      // first life: embedded backend, two devices with addresses
      const first = await startRegistry({ ...base, dns: { host: '127.0.0.1', port: 0 } });
      const ids: string[] = [];
      try {
        for (const ip of ['198.51.100.34', '198.51.100.35']) {
          const identity = generateIdentity();
          const { client } = await RegistryClient.register({ url: first.apiUrl, identity });
          await client.updateAddress({ ipv4: ip });
          ids.push(identity.id);
        }
      } finally {
        await first.close();
      }
      // second life: knot refuses (wrong key): the registry starts anyway, both devices pending
      const refused = await startRegistry({ ...base, backend: { rfc2136: { server: knotAddr(), tsig: { ...knot.tsig, secret: Buffer.alloc(32, 9).toString('base64') } } } });
      try {
        expect(refused.publisher.pendingCount).toBe(2);
      } finally {
        await refused.close();
      }
      // third life: the right key: both devices are in knot after start
      const right = await startRegistry({ ...base, backend: { rfc2136: { server: knotAddr(), tsig: knot.tsig } } });
      try {
        expect(right.publisher.pendingCount).toBe(0);
        expect((await queryDns(knotAddr(), `${ids[0]}.${TEST_ZONE}`, 'A')).answers.map(rdataText)).toEqual(['198.51.100.34']);
        expect((await queryDns(knotAddr(), `${ids[1]}.${TEST_ZONE}`, 'A')).answers.map(rdataText)).toEqual(['198.51.100.35']);
      } finally {
        await right.close();
      }
    } finally {
      await dir.remove();
    }
  });
});

describe('nodegate registry --backend rfc2136', () => {
  it('publishes a device registered through the CLI to knot', async () => {
    const dir = await tempDir('ng-registry-rfc2136-cli-');
    const proc = await startRegistryProcess([
      '--zone', TEST_ZONE, '--data', join(dir.path, 'registry'), '--api', '127.0.0.1:0',
      '--backend', 'rfc2136', '--rfc2136', `${knot.host}:${knot.port}`, '--tsig', `${knot.tsig.name}:${knot.tsig.algorithm}:${knot.tsig.secret}`,
      '--allow-address', '198.51.100.0/24',
    ]);
    try {
      const init = await runNodegate(['init', '--data', join(dir.path, 'node'), '--registry', proc.apiUrl, '--no-cert', '--json']);
      expect(init.code).toBe(0);
      const { name } = JSON.parse(init.stdout) as { name: string };
      const { client } = await clientForRegisteredDevice(join(dir.path, 'node'));
      await client.updateAddress({ ipv4: '198.51.100.32' });
      expect(await dig(knotAddr(), name, 'A')).toEqual(['198.51.100.32']);
    } finally {
      await proc.process.stop();
      await dir.remove();
    }
  });
});
