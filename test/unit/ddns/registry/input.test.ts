import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegistryClient } from '../../../../ddns/client/registry-client.ts';
import { queryDns, rdataText } from '../../../../ddns/dns-client.ts';
import { startTestRegistry, type TestRegistry } from '../../../support/registry.ts';

let reg: TestRegistry;
let client: RegistryClient;
let name: string;
beforeAll(async () => {
  reg = await startTestRegistry({ allowAddresses: ['198.51.100.0/24'] });
  ({ client } = await reg.device());
  name = (await client.device()).name;
});
afterAll(async () => {
  await reg?.stop();
});

async function raw(method: string, path: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const res = await fetch(`${reg.apiUrl}${path}`, { method, headers, body });
  return { status: res.status, body: (await res.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const txt = (c: string) => c.repeat(43);

describe('malformed requests', () => {
  it('refuses a body that is not JSON: NG_REG_BAD_REQUEST', async () => {
    const r = await raw('POST', '/v1/devices', '{"publicKey":');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('NG_REG_BAD_REQUEST');
  });

  it('refuses an oversized body: NG_REG_BODY_TOO_LARGE', async () => {
    const r = await raw('POST', '/v1/devices', JSON.stringify({ pad: 'x'.repeat(20_000) }));
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('NG_REG_BODY_TOO_LARGE');
  });

  it('refuses unknown keys instead of ignoring them: NG_REG_BAD_REQUEST', async () => {
    const r = await raw('POST', '/v1/devices', JSON.stringify({ publicKey: { kty: 'OKP', crv: 'Ed25519', x: 'A'.repeat(43) }, nonce: 'n', signature: 'A'.repeat(86), admin: true }));
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('NG_REG_BAD_REQUEST');
  });

  it('refuses an unknown route: NG_REG_NOT_FOUND', async () => {
    const r = await raw('GET', '/v2/anything', undefined as unknown as string, {});
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('NG_REG_NOT_FOUND');
  });

  it('refuses a malformed address: NG_REG_ADDRESS_INVALID', async () => {
    await expect(client.updateAddress({ ipv4: '198.51.100.300' })).rejects.toMatchObject({ code: 'NG_REG_ADDRESS_INVALID', status: 400 });
    await expect(client.updateAddress({ ipv6: '2001:db8::zz' })).rejects.toMatchObject({ code: 'NG_REG_ADDRESS_INVALID', status: 400 });
    await expect(client.updateAddress({ lan: 'my-router' })).rejects.toMatchObject({ code: 'NG_REG_ADDRESS_INVALID', status: 400 });
  });

  it('refuses "auto" for IPv6 from an IPv4 source: NG_REG_ADDRESS_INVALID', async () => {
    await expect(client.updateAddress({ ipv6: 'auto' })).rejects.toMatchObject({ code: 'NG_REG_ADDRESS_INVALID' });
  });
});

describe('special-purpose addresses', () => {
  it.each(['10.1.2.3', '127.0.0.1', '169.254.1.1', '100.64.1.1', '192.0.2.1', '203.0.113.5', '224.0.0.1', '0.0.0.0'])('refuses %s as a public IPv4 record: NG_REG_ADDRESS_SPECIAL', async (ip) => {
    await expect(client.updateAddress({ ipv4: ip })).rejects.toMatchObject({ code: 'NG_REG_ADDRESS_SPECIAL', status: 422 });
  });

  it.each(['::1', 'fe80::1', 'fd00::1', '2001:db8::1', 'ff02::1', '::ffff:198.51.100.1'])('refuses %s as a public IPv6 record: NG_REG_ADDRESS_SPECIAL', async (ip) => {
    await expect(client.updateAddress({ ipv6: ip })).rejects.toMatchObject({ code: 'NG_REG_ADDRESS_SPECIAL', status: 422 });
  });

  it('accepts a special-purpose range the operator allowed with --allow-address', async () => {
    expect((await client.updateAddress({ ipv4: '198.51.100.20' })).records.ipv4).toBe('198.51.100.20');
  });

  it('accepts a public address without any allowance', async () => {
    expect((await client.updateAddress({ ipv4: '8.8.4.4' })).records.ipv4).toBe('8.8.4.4');
  });

  it('refuses a public address as the LAN record: NG_REG_ADDRESS_SPECIAL', async () => {
    await expect(client.updateAddress({ lan: '8.8.8.8' })).rejects.toMatchObject({ code: 'NG_REG_ADDRESS_SPECIAL' });
    await expect(client.updateAddress({ lan: 'fe80::1' })).rejects.toMatchObject({ code: 'NG_REG_ADDRESS_SPECIAL' });
    expect((await client.updateAddress({ lan: 'fd12:3456::1' })).records.lan).toBe('fd12:3456::1');
  });
});

describe('ACME TXT values', () => {
  it('holds two values; a third drops the oldest; removal is idempotent', async () => {
    await client.addAcmeTxt(txt('a'));
    expect((await client.addAcmeTxt(txt('b'))).records.acmeTxt).toEqual([txt('a'), txt('b')]);
    const served = await queryDns(reg.dnsAddress, `_acme-challenge.${name}`, 'TXT');
    expect(served.answers.map(rdataText).sort()).toEqual([`"${txt('a')}"`, `"${txt('b')}"`]);
    expect((await client.addAcmeTxt(txt('b'))).records.acmeTxt).toEqual([txt('a'), txt('b')]);
    expect((await client.addAcmeTxt(txt('c'))).records.acmeTxt).toEqual([txt('b'), txt('c')]);
    expect((await client.removeAcmeTxt(txt('b'))).records.acmeTxt).toEqual([txt('c')]);
    expect((await client.removeAcmeTxt(txt('b'))).records.acmeTxt).toEqual([txt('c')]);
    expect((await client.removeAcmeTxt(txt('c'))).records.acmeTxt).toEqual([]);
    const gone = await queryDns(reg.dnsAddress, `_acme-challenge.${name}`, 'TXT');
    expect(gone.answers).toEqual([]);
  });

  it('keeps both values when an apex and a wildcard order add theirs at the same moment', async () => {
    const { client: fresh } = await reg.device();
    await Promise.all([fresh.addAcmeTxt(txt('x')), fresh.addAcmeTxt(txt('y'))]);
    expect((await fresh.device()).records.acmeTxt.sort()).toEqual([txt('x'), txt('y')]);
  });

  it('refuses a value that is not a DNS-01 digest: NG_REG_TXT_INVALID', async () => {
    await expect(client.addAcmeTxt('short')).rejects.toMatchObject({ code: 'NG_REG_TXT_INVALID', status: 400 });
    await expect(client.addAcmeTxt('"' + 'a'.repeat(42))).rejects.toMatchObject({ code: 'NG_REG_TXT_INVALID' });
  });
});

describe('the registry keeps serving after bad input', () => {
  it('answers a good request after all of the above', async () => {
    expect((await client.whoami()).address).toBe('127.0.0.1');
  });
});
