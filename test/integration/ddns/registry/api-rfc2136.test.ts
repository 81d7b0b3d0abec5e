/**
 * The same API with the RFC 2136 backend: records are pushed to a real knotd with TSIG and read back
 * from knot. Also: a knot outage does not lose a stored change (503 NG_REG_UNAVAILABLE, then the
 * retry publishes it once knot is back), and `nodegate registry --backend rfc2136` works end to end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { queryDns, rdataText } from '../../../../ddns/dns-client.ts';
import { startKnot, type KnotServer } from '../../../support/knot.ts';
import { tempDir } from '../../../support/process.ts';
import { dig, runNodegate, startRegistryProcess } from '../../../support/registry-process.ts';
import { startTestRegistry, TEST_ZONE, type TestRegistry } from '../../../support/registry.ts';

let knot: KnotServer;
let reg: TestRegistry;
beforeAll(async () => {
  knot = await startKnot({ zone: TEST_ZONE });
  reg = await startTestRegistry({ allowAddresses: ['198.51.100.0/24', '2001:db8::/32'], backend: { rfc2136: { server: { host: knot.host, port: knot.port }, tsig: knot.tsig } } });
});
afterAll(async () => {
  await reg?.stop();
  await knot?.stop();
});

const knotAddr = () => ({ host: knot.host, port: knot.port });
const txt = (c: string) => c.repeat(43);

describe('registry API publishing to knot by RFC 2136', () => {
  it('registration + address update show up in knot (A, AAAA, wildcard, LAN)', async () => {
    const { client, device } = await reg.device();
    await client.updateAddress({ ipv4: '198.51.100.30', ipv6: '2001:db8::30', lan: '10.0.0.30' });
    expect((await queryDns(knotAddr(), device.name, 'A')).answers.map(rdataText)).toEqual(['198.51.100.30']);
    expect((await queryDns(knotAddr(), `x.${device.name}`, 'AAAA')).answers.map(rdataText)).toEqual(['2001:db8::30']);
    expect((await queryDns(knotAddr(), device.lanName, 'A')).answers.map(rdataText)).toEqual(['10.0.0.30']);
  });

  it('ACME TXT: two held, a third drops the oldest, in knot too', async () => {
    const { client, device } = await reg.device();
    await client.addAcmeTxt(txt('a'));
    await client.addAcmeTxt(txt('b'));
    await client.addAcmeTxt(txt('c'));
    const served = await queryDns(knotAddr(), `_acme-challenge.${device.name}`, 'TXT');
    expect(served.answers.map(rdataText).sort()).toEqual([`"${txt('b')}"`, `"${txt('c')}"`]);
  });

  it('moves the SOA serial in knot on every change', async () => {
    const { client } = await reg.device();
    const serial = async () => ((await queryDns(knotAddr(), TEST_ZONE, 'SOA')).answers[0] as { data: { serial: number } }).data.serial;
    const before = await serial();
    await client.updateAddress({ ipv4: '198.51.100.31' });
    expect(await serial()).toBeGreaterThan(before);
  });

  it('acme-dns updates land in knot', async () => {
    const account = (await (await fetch(`${reg.apiUrl}/register`, { method: 'POST' })).json()) as { username: string; password: string; subdomain: string; fulldomain: string };
    const res = await fetch(`${reg.apiUrl}/update`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-user': account.username, 'x-api-key': account.password },
      body: JSON.stringify({ subdomain: account.subdomain, txt: txt('d') }),
    });
    expect(res.status).toBe(200);
    expect((await queryDns(knotAddr(), account.fulldomain, 'TXT')).answers.map(rdataText)).toEqual([`"${txt('d')}"`]);
  });

  it('a refused UPDATE (wrong TSIG secret) answers 503 NG_REG_UNAVAILABLE but keeps the change stored', async () => {
    const wrong = await startTestRegistry({
      allowAddresses: ['198.51.100.0/24'],
      backend: { rfc2136: { server: knotAddr(), tsig: { ...knot.tsig, secret: Buffer.alloc(32, 7).toString('base64') } } },
    });
    try {
      const { client, identity } = await wrong.device(); // registration stands; its empty set is queued
      await expect(client.updateAddress({ ipv4: '198.51.100.33' })).rejects.toMatchObject({ code: 'NG_REG_UNAVAILABLE', status: 503, details: { stored: true } });
      expect(wrong.store.getDevice(identity.id)?.ipv4).toBe('198.51.100.33');
      expect(wrong.publisher.pendingCount).toBe(1);
      expect((await queryDns(knotAddr(), `${identity.id}.${TEST_ZONE}`, 'A')).rcode).toBe('NXDOMAIN');
    } finally {
      await wrong.stop();
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
      const init = await runNodegate(['init', '--data', join(dir.path, 'node'), '--registry', proc.apiUrl]);
      expect(init.code).toBe(0);
      const name = init.stdout.trim();
      const { clientForRegisteredDevice } = await import('../../../../ddns/client/enroll.ts');
      const { client } = await clientForRegisteredDevice(join(dir.path, 'node'));
      await client.updateAddress({ ipv4: '198.51.100.32' });
      expect(await dig(knotAddr(), name, 'A')).toEqual(['198.51.100.32']);
    } finally {
      await proc.process.stop();
      await dir.remove();
    }
  });
});
