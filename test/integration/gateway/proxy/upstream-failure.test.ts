import { describe, it, expect, afterEach } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHarness, GW_NAME, type Harness } from '../../../support/gateway-harness.ts';
import { makeSelfSignedCert } from '../../../../sim/self-signed-cert.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function getinfo(harness: Harness, token: string) {
  const r = await harness.client().request({ method: 'GET', path: '/v1/getinfo', headers: { host: GW_NAME, authorization: `Bearer ${token}` } });
  const text = await r.body.text();
  return { status: r.statusCode, code: (JSON.parse(text) as { error?: { code: string } }).error?.code, text };
}

describe('LND upstream failures', () => {
  it('LND down: 502 NG_GW_UPSTREAM_UNREACHABLE, and the gateway keeps serving', async () => {
    h = await startHarness();
    const token = (await h.gateway.tokens.create({ scope: 'readonly', name: 'w' })).token;
    expect((await getinfo(h, token)).status).toBe(200);
    await h.lnd.stop();
    const r = await getinfo(h, token);
    expect(r.status).toBe(502);
    expect(r.code).toBe('NG_GW_UPSTREAM_UNREACHABLE');
    const again = await getinfo(h, token);
    expect(again.code).toBe('NG_GW_UPSTREAM_UNREACHABLE');
  });

  it('LND slow: 504 NG_GW_UPSTREAM_TIMEOUT after upstreamHeadersTimeoutMs', async () => {
    h = await startHarness({ limits: { upstreamHeadersTimeoutMs: 300 } });
    const token = (await h.gateway.tokens.create({ scope: 'readonly', name: 'w' })).token;
    h.lnd.setGetinfoDelayMs(2000);
    const r = await getinfo(h, token);
    expect(r.status).toBe(504);
    expect(r.code).toBe('NG_GW_UPSTREAM_TIMEOUT');
  });

  it('LND presenting another certificate than tls.cert: 502 NG_GW_UPSTREAM_TLS, nothing sent to it', async () => {
    h = await startHarness();
    const token = (await h.gateway.tokens.create({ scope: 'readonly', name: 'w' })).token;
    // the pinned file changes to a cert LND does not hold: the gateway must refuse LND's real one
    await writeFile(join(h.lnd.dir, 'tls.cert'), makeSelfSignedCert(['localhost'], ['127.0.0.1']).certPem);
    await new Promise((r) => setTimeout(r, 1100)); // the cert file is re-checked once a second
    const before = h.lnd.total();
    const r = await getinfo(h, token);
    expect(r.status).toBe(502);
    expect(r.code).toBe('NG_GW_UPSTREAM_TLS');
    expect(h.lnd.total()).toBe(before);
    expect(r.text.includes(h.lnd.macaroonHex.readonly)).toBe(false);
  });

  it('a missing macaroon file: 502 NG_GW_MACAROON_MISSING', async () => {
    h = await startHarness({ config: {} });
    const { rm } = await import('node:fs/promises');
    await rm(join(h.lnd.dir, 'data', 'chain', 'bitcoin', 'mainnet', 'invoice.macaroon'));
    const token = (await h.gateway.tokens.create({ scope: 'invoice', name: 'pos' })).token;
    const r = await h.client().request({ method: 'GET', path: '/v1/invoices', headers: { host: GW_NAME, authorization: `Bearer ${token}` } });
    expect(r.statusCode).toBe(502);
    expect(((await r.body.json()) as { error: { code: string } }).error.code).toBe('NG_GW_MACAROON_MISSING');
  });
});
