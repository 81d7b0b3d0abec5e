import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryDns, rdataText } from '../../../../ddns/dns-client.ts';
import { generateIdentity } from '../../../../ddns/client/identity.ts';
import { RegistryClient } from '../../../../ddns/client/registry-client.ts';
import { startTestRegistry, TEST_ZONE, type TestRegistry } from '../../../support/registry.ts';

let reg: TestRegistry;
beforeAll(async () => {
  reg = await startTestRegistry({ allowAddresses: ['198.51.100.0/24', '2001:db8::/32', '127.0.0.0/8'] });
});
afterAll(async () => {
  await reg?.stop();
});

describe('registration and records through the API', () => {
  it('registers a key, names the device after it and publishes its records in the embedded DNS', async () => {
    const identity = generateIdentity();
    const { client, device } = await RegistryClient.register({ url: reg.apiUrl, identity });
    expect(device.id).toBe(identity.id);
    expect(device.name).toBe(`${identity.id}.${TEST_ZONE}`);
    expect(device.lanName).toBe(`lan.${identity.id}.${TEST_ZONE}`);
    expect(device.records).toEqual({ ipv4: null, ipv6: null, lan: null, acmeTxt: [] });
    expect(device.updateSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const updated = await client.updateAddress({ ipv4: '198.51.100.7', ipv6: '2001:db8::7', lan: '192.168.1.7' });
    expect(updated.records).toEqual({ ipv4: '198.51.100.7', ipv6: '2001:db8::7', lan: '192.168.1.7', acmeTxt: [] });

    const dns = reg.dnsAddress;
    const a = await queryDns(dns, device.name, 'A');
    expect(a.rcode).toBe('NOERROR');
    expect(a.answers.map(rdataText)).toEqual(['198.51.100.7']);
    const aaaa = await queryDns(dns, `www.${device.name}`, 'AAAA');
    expect(aaaa.answers.map(rdataText)).toEqual(['2001:db8::7']);
    const lan = await queryDns(dns, device.lanName, 'A');
    expect(lan.answers.map(rdataText)).toEqual(['192.168.1.7']);
    expect(await client.device()).toEqual(updated);
  });

  it('answers the same name and a fresh update secret when the key registers again', async () => {
    const identity = generateIdentity();
    const first = await RegistryClient.register({ url: reg.apiUrl, identity });
    const second = await RegistryClient.register({ url: reg.apiUrl, identity });
    expect(second.device.name).toBe(first.device.name);
    expect(second.device.updateSecret).not.toBe(first.device.updateSecret);
  });

  it('"auto" publishes the source address of the request', async () => {
    const { client, device } = await reg.device();
    const updated = await client.updateAddress({ ipv4: 'auto' });
    expect(updated.records.ipv4).toBe('127.0.0.1');
    const a = await queryDns(reg.dnsAddress, device.name, 'A');
    expect(a.answers.map(rdataText)).toEqual(['127.0.0.1']);
  });

  it('null removes a record: the name keeps its AAAA and has no A data (NODATA)', async () => {
    const { client, device } = await reg.device();
    await client.updateAddress({ ipv4: '198.51.100.9', ipv6: '2001:db8::9' });
    await client.updateAddress({ ipv4: null });
    const a = await queryDns(reg.dnsAddress, device.name, 'A');
    expect(a.rcode).toBe('NOERROR');
    expect(a.answers).toEqual([]);
    const aaaa = await queryDns(reg.dnsAddress, device.name, 'AAAA');
    expect(aaaa.answers.map(rdataText)).toEqual(['2001:db8::9']);
  });

  it('moves the SOA serial on every change', async () => {
    const { client } = await reg.device();
    const serialOf = async () => {
      const soa = await queryDns(reg.dnsAddress, TEST_ZONE, 'SOA');
      return ((soa.answers[0] as { data: { serial: number } }).data).serial;
    };
    const before = await serialOf();
    await client.updateAddress({ ipv4: '198.51.100.10' });
    const after = await serialOf();
    expect(after).toBeGreaterThan(before);
    await client.updateAddress({ ipv4: '198.51.100.11' });
    expect(await serialOf()).toBeGreaterThan(after);
  });

  it('whoami echoes the caller address', async () => {
    const { client } = await reg.device();
    expect(await client.whoami()).toEqual({ address: '127.0.0.1', family: 4 });
  });

  it('serves the OpenAPI description with every route', async () => {
    const res = await fetch(`${reg.apiUrl}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(
      ['/health', '/nic/update', '/register', '/update', '/v1/devices', '/v1/devices/{id}', '/v1/devices/{id}/acme-challenge', '/v1/devices/{id}/address', '/v1/devices/{id}/probe', '/v1/nonce', '/v1/whoami'].sort(),
    );
  });
});
