import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import { generateIdentity, signBytes, type DeviceIdentity } from '../../../../ddns/client/identity.ts';
import { RegistryClient } from '../../../../ddns/client/registry-client.ts';
import { registrationMessage, registryAudience } from '../../../../ddns/protocol.ts';
import { startTestRegistry, TEST_ZONE, type TestRegistry } from '../../../support/registry.ts';

let reg: TestRegistry;
let device: { identity: DeviceIdentity; client: RegistryClient };
beforeAll(async () => {
  reg = await startTestRegistry({ allowAddresses: ['198.51.100.0/24'] });
  device = await reg.device();
});
afterAll(async () => {
  await reg?.stop();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies of many shapes
async function call(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${reg.apiUrl}${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  const parsed: any = text ? JSON.parse(text) : undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
  return { status: res.status, body: parsed };
}

async function nonce(): Promise<string> {
  return String((await call('POST', '/v1/nonce', {}, {})).body.nonce);
}

function registerBody(identity: DeviceIdentity, n: string, signWith: DeviceIdentity = identity) {
  return { publicKey: identity.publicJwk, nonce: n, signature: signBytes(signWith, Buffer.from(registrationMessage(n, TEST_ZONE))).toString('base64url') };
}

const nowS = () => Math.floor(Date.now() / 1000);

async function jwt(identity: DeviceIdentity, claims: { iat?: number; exp?: number; aud?: string; jti?: string; sub?: string; kid?: string } = {}): Promise<string> {
  const iat = claims.iat ?? nowS();
  return new SignJWT({})
    .setProtectedHeader({ alg: 'EdDSA', kid: claims.kid ?? identity.id })
    .setSubject(claims.sub ?? identity.id)
    .setIssuer(identity.id)
    .setAudience(claims.aud ?? registryAudience(TEST_ZONE))
    .setIssuedAt(iat)
    .setExpirationTime(claims.exp ?? iat + 30)
    .setJti(claims.jti ?? randomUUID())
    .sign(identity.privateKey);
}

const getDevice = (token: string, id = device.identity.id) => call('GET', `/v1/devices/${id}`, { authorization: `Bearer ${token}` });

describe('registration proof', () => {
  it('refuses a signature made by another key: NG_REG_BAD_SIGNATURE', async () => {
    const r = await call('POST', '/v1/devices', {}, registerBody(generateIdentity(), await nonce(), generateIdentity()));
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('NG_REG_BAD_SIGNATURE');
  });

  it('refuses an unknown nonce: NG_REG_NONCE_UNKNOWN', async () => {
    const r = await call('POST', '/v1/devices', {}, registerBody(generateIdentity(), 'never-issued'));
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('NG_REG_NONCE_UNKNOWN');
  });

  it('refuses a nonce used once already: NG_REG_NONCE_UNKNOWN', async () => {
    const id = generateIdentity();
    const n = await nonce();
    expect((await call('POST', '/v1/devices', {}, registerBody(id, n))).status).toBe(201);
    const again = await call('POST', '/v1/devices', {}, registerBody(id, n));
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe('NG_REG_NONCE_UNKNOWN');
  });

  it('refuses a degenerate (all-zero) key whatever the signature: NG_REG_BAD_SIGNATURE', async () => {
    const n = await nonce();
    const body = { ...registerBody(generateIdentity(), n), publicKey: { kty: 'OKP', crv: 'Ed25519', x: 'A'.repeat(43) } };
    const r = await call('POST', '/v1/devices', {}, body);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('NG_REG_BAD_SIGNATURE');
  });
});

describe('device tokens', () => {
  it('accepts a fresh token', async () => {
    const r = await getDevice(await jwt(device.identity));
    expect(r.status).toBe(200);
    expect(r.body.id).toBe(device.identity.id);
  });

  it('refuses a call without a token: NG_REG_UNAUTHENTICATED', async () => {
    const r = await call('GET', `/v1/devices/${device.identity.id}`, {});
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('NG_REG_UNAUTHENTICATED');
  });

  it('refuses an expired token: NG_REG_TOKEN_EXPIRED', async () => {
    const r = await getDevice(await jwt(device.identity, { iat: nowS() - 120, exp: nowS() - 90 }));
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('NG_REG_TOKEN_EXPIRED');
  });

  it('refuses a token that lives longer than 60 s: NG_REG_TOKEN_LIFETIME', async () => {
    const r = await getDevice(await jwt(device.identity, { exp: nowS() + 3600 }));
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('NG_REG_TOKEN_LIFETIME');
  });

  it('refuses a replayed jti: NG_REG_TOKEN_REPLAYED', async () => {
    const token = await jwt(device.identity);
    expect((await getDevice(token)).status).toBe(200);
    const r = await getDevice(token);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('NG_REG_TOKEN_REPLAYED');
  });

  it('refuses a token for another registry (wrong aud): NG_REG_TOKEN_INVALID', async () => {
    const r = await getDevice(await jwt(device.identity, { aud: registryAudience('other.example') }));
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('NG_REG_TOKEN_INVALID');
  });

  it('refuses alg none: NG_REG_TOKEN_INVALID', async () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const token = `${b64({ alg: 'none', kid: device.identity.id })}.${b64({ sub: device.identity.id, aud: registryAudience(TEST_ZONE), iat: nowS(), exp: nowS() + 30, jti: randomUUID() })}.`;
    const r = await getDevice(token);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('NG_REG_TOKEN_INVALID');
  });

  it('refuses HS256 (even keyed with the public key): NG_REG_TOKEN_INVALID', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: device.identity.id })
      .setSubject(device.identity.id)
      .setAudience(registryAudience(TEST_ZONE))
      .setIssuedAt()
      .setExpirationTime('30s')
      .setJti(randomUUID())
      .sign(Buffer.from(device.identity.publicJwk.x, 'base64url'));
    const r = await getDevice(token);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('NG_REG_TOKEN_INVALID');
  });

  it('refuses a token signed by another key for this kid: NG_REG_TOKEN_INVALID', async () => {
    const r = await getDevice(await jwt(generateIdentity(), { kid: device.identity.id, sub: device.identity.id }));
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('NG_REG_TOKEN_INVALID');
  });

  it("refuses a device touching another device's records: NG_REG_FORBIDDEN", async () => {
    const other = await reg.device();
    const r = await call('PUT', `/v1/devices/${other.identity.id}/address`, { authorization: `Bearer ${await jwt(device.identity)}` }, { ipv4: '198.51.100.1' });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('NG_REG_FORBIDDEN');
    expect((await other.client.device()).records.ipv4).toBeNull();
  });

  it('refuses a token of an unregistered device: NG_REG_UNAUTHENTICATED', async () => {
    const stranger = generateIdentity();
    const r = await getDevice(await jwt(stranger), stranger.id);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('NG_REG_UNAUTHENTICATED');
  });

  it('the client maps an expired-token answer to a coded error', async () => {
    const skewed = new RegistryClient({ url: reg.apiUrl, identity: device.identity, zone: TEST_ZONE, now: () => Date.now() - 120_000 });
    await expect(skewed.device()).rejects.toMatchObject({ code: 'NG_REG_TOKEN_EXPIRED', status: 401 });
  });
});

describe('expiry with an injected clock', () => {
  it('a nonce older than 5 minutes is NG_REG_NONCE_UNKNOWN', async () => {
    let clock = Date.now();
    const timed = await startTestRegistry({ now: () => clock });
    try {
      const res = await fetch(`${timed.apiUrl}/v1/nonce`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      const { nonce: n } = (await res.json()) as { nonce: string };
      clock += 301_000;
      const identity = generateIdentity();
      const r = await fetch(`${timed.apiUrl}/v1/devices`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(registerBody(identity, n)) });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('NG_REG_NONCE_UNKNOWN');
    } finally {
      await timed.stop();
    }
  });

  it('a jti is forgotten once its token has expired (the cache is bounded by expiry)', async () => {
    let clock = Date.now();
    const timed = await startTestRegistry({ now: () => clock });
    try {
      const { identity } = await timed.device();
      const iat = Math.floor(clock / 1000);
      const token = await jwt(identity, { iat, exp: iat + 30, jti: 'fixed-jti' });
      const get = () => fetch(`${timed.apiUrl}/v1/devices/${identity.id}`, { headers: { authorization: `Bearer ${token}` } });
      expect((await get()).status).toBe(200);
      expect((await get()).status).toBe(401);
      clock += 60_000; // token expired: now refused as expired, not as replayed
      const later = await get();
      expect(((await later.json()) as { error: { code: string } }).error.code).toBe('NG_REG_TOKEN_EXPIRED');
    } finally {
      await timed.stop();
    }
  });
});
