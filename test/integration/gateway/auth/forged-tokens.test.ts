import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, importJWK, generateKeyPair, base64url, type JWK } from 'jose';
import { startHarness, GW_NAME, asMacaroonHeader, type Harness } from '../../../support/gateway-harness.ts';
import { TOKEN_AUDIENCE } from '../../../../gateway/auth/tokens.ts';

let h: Harness;
let privateJwk: JWK;
let realId: string;

beforeAll(async () => {
  h = await startHarness();
  realId = (await h.gateway.tokens.create({ scope: 'readonly', name: 'real' })).id;
  privateJwk = JSON.parse(await readFile(join(h.dataDir, 'gateway', 'token-key.jwk'), 'utf8')) as JWK;
});
afterAll(async () => {
  await h?.close();
});

const now = () => Math.floor(Date.now() / 1000);

async function call(token: string, viaMacaroonHeader = false) {
  const before = h.lnd.total();
  const r = await h.client().request({
    method: 'GET',
    path: '/v1/getinfo',
    headers: { host: GW_NAME, ...(viaMacaroonHeader ? { 'grpc-metadata-macaroon': asMacaroonHeader(token) } : { authorization: `Bearer ${token}` }) },
  });
  const body = (await r.body.json()) as { error?: { code: string } };
  return { status: r.statusCode, code: body.error?.code, lndCalls: h.lnd.total() - before };
}

async function signWithRealKey(claims: Record<string, unknown>, aud = TOKEN_AUDIENCE, exp = now() + 3600) {
  const key = await importJWK(privateJwk, 'EdDSA');
  return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA' }).setAudience(aud).setExpirationTime(exp).setIssuedAt().sign(key);
}

function unsigned(header: object, payload: object, signature = ''): string {
  return `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.${signature}`;
}

describe('forged tokens', () => {
  it('alg none is 401 NG_GW_TOKEN_INVALID', async () => {
    const t = unsigned({ alg: 'none', typ: 'JWT' }, { scope: 'admin', name: 'x', jti: realId, aud: TOKEN_AUDIENCE, exp: now() + 3600 });
    expect(await call(t)).toEqual({ status: 401, code: 'NG_GW_TOKEN_INVALID', lndCalls: 0 });
  });

  it('HS256 signed with the public key is 401 NG_GW_TOKEN_INVALID', async () => {
    const { d: _d, ...pub } = privateJwk;
    const secrets = [Buffer.from(pub.x!, 'base64url'), Buffer.from(JSON.stringify(pub))];
    for (const secret of secrets) {
      const t = await new SignJWT({ scope: 'admin', name: 'x', jti: realId }).setProtectedHeader({ alg: 'HS256' }).setAudience(TOKEN_AUDIENCE).setExpirationTime(now() + 3600).sign(secret);
      expect(await call(t)).toEqual({ status: 401, code: 'NG_GW_TOKEN_INVALID', lndCalls: 0 });
    }
  });

  it('a wrong audience is 401 NG_GW_TOKEN_INVALID', async () => {
    const t = await signWithRealKey({ scope: 'readonly', name: 'x', jti: realId }, 'nodegate:registry');
    expect(await call(t)).toEqual({ status: 401, code: 'NG_GW_TOKEN_INVALID', lndCalls: 0 });
  });

  it('an expired token is 401 NG_GW_TOKEN_EXPIRED', async () => {
    const t = await signWithRealKey({ scope: 'readonly', name: 'x', jti: realId }, TOKEN_AUDIENCE, now() - 10);
    expect(await call(t)).toEqual({ status: 401, code: 'NG_GW_TOKEN_EXPIRED', lndCalls: 0 });
  });

  it('a revoked token is 401 NG_GW_TOKEN_REVOKED', async () => {
    const created = await h.gateway.tokens.create({ scope: 'readonly', name: 'to-revoke' });
    expect((await call(created.token)).status).toBe(200);
    await h.gateway.tokens.revoke(created.id);
    expect(await call(created.token)).toEqual({ status: 401, code: 'NG_GW_TOKEN_REVOKED', lndCalls: 0 });
    expect(await call(created.token, true)).toEqual({ status: 401, code: 'NG_GW_TOKEN_REVOKED', lndCalls: 0 });
  });

  it('a readonly token edited to say admin is 401 NG_GW_TOKEN_INVALID (signature no longer matches)', async () => {
    const created = await h.gateway.tokens.create({ scope: 'readonly', name: 'edit-me' });
    const [head, body, sig] = created.token.split('.');
    const claims = JSON.parse(Buffer.from(body!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const edited = `${head}.${base64url.encode(JSON.stringify({ ...claims, scope: 'admin' }))}.${sig}`;
    expect(await call(edited)).toEqual({ status: 401, code: 'NG_GW_TOKEN_INVALID', lndCalls: 0 });
  });

  it('a token signed by another Ed25519 key is 401 NG_GW_TOKEN_INVALID', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const t = await new SignJWT({ scope: 'admin', name: 'x', jti: realId }).setProtectedHeader({ alg: 'EdDSA' }).setAudience(TOKEN_AUDIENCE).setExpirationTime(now() + 3600).sign(privateKey);
    expect(await call(t)).toEqual({ status: 401, code: 'NG_GW_TOKEN_INVALID', lndCalls: 0 });
  });

  it('a validly signed token whose id was never issued is 401 NG_GW_TOKEN_REVOKED', async () => {
    const t = await signWithRealKey({ scope: 'admin', name: 'x', jti: 'never-issued' });
    expect(await call(t)).toEqual({ status: 401, code: 'NG_GW_TOKEN_REVOKED', lndCalls: 0 });
  });

  it('a token without exp is 401 NG_GW_TOKEN_INVALID', async () => {
    const key = await importJWK(privateJwk, 'EdDSA');
    const t = await new SignJWT({ scope: 'readonly', name: 'x', jti: realId }).setProtectedHeader({ alg: 'EdDSA' }).setAudience(TOKEN_AUDIENCE).sign(key);
    expect(await call(t)).toEqual({ status: 401, code: 'NG_GW_TOKEN_INVALID', lndCalls: 0 });
  });

  it('garbage in Grpc-Metadata-macaroon is 401 NG_GW_TOKEN_INVALID', async () => {
    const before = h.lnd.total();
    const r = await h.client().request({ method: 'GET', path: '/v1/getinfo', headers: { host: GW_NAME, 'grpc-metadata-macaroon': 'zz-not-hex' } });
    expect(r.statusCode).toBe(401);
    expect(((await r.body.json()) as { error: { code: string } }).error.code).toBe('NG_GW_TOKEN_INVALID');
    expect(h.lnd.total()).toBe(before);
  });
});
