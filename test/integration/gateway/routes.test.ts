import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Client } from 'undici';
import { startHarness, GW_NAME, type Harness } from '../../support/gateway-harness.ts';

let h: Harness;
let token: string;
const clients: Client[] = [];

beforeAll(async () => {
  h = await startHarness({
    config: {
      listeners: [
        { listen: '127.0.0.1:0', route: 'auto' },
        { listen: '127.0.0.1:0', route: 'lnd' },
        { listen: '127.0.0.1:0', route: 'dashboard' },
      ],
    },
  });
  token = (await h.gateway.tokens.create({ scope: 'readonly', name: 'w' })).token;
});
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.destroy()));
  await h?.close();
});

async function get(route: 'auto' | 'lnd' | 'dashboard', path: string, headers: Record<string, string> = {}) {
  const port = h.gateway.addresses().https.find((a) => a.route === route)!.port;
  const c = new Client(`https://127.0.0.1:${port}`, { connect: { ca: h.cert.certPem, servername: GW_NAME } });
  clients.push(c);
  const r = await c.request({ method: 'GET', path, headers: { host: GW_NAME, ...headers } });
  const text = await r.body.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { error?: { code: string } }).error?.code;
  } catch {
    code = undefined;
  }
  return { status: r.statusCode, code, location: r.headers.location };
}

describe('listener routes', () => {
  it('reports one address per listener with its route', () => {
    expect(h.gateway.addresses().https.map((a) => a.route)).toEqual(['auto', 'lnd', 'dashboard']);
  });

  it('lnd: a call without a token is 401 NG_GW_UNAUTHENTICATED; with one it reaches LND', async () => {
    expect(await get('lnd', '/v1/getinfo')).toMatchObject({ status: 401, code: 'NG_GW_UNAUTHENTICATED' });
    expect((await get('lnd', '/v1/getinfo', { authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it('lnd: serves neither the owner pages nor the dashboard', async () => {
    expect(await get('lnd', '/_nodegate/login')).toMatchObject({ status: 401, code: 'NG_GW_UNAUTHENTICATED' });
    expect(await get('lnd', '/', { authorization: `Bearer ${token}` })).toMatchObject({ status: 403, code: 'NG_GW_PATH_FORBIDDEN' });
  });

  it('dashboard: never proxies to LND, even with a token', async () => {
    const before = h.lnd.total();
    const r = await get('dashboard', '/v1/getinfo', { authorization: `Bearer ${token}` });
    expect(r.status).toBe(303);
    expect(r.location).toBe('/_nodegate/login?next=%2Fv1%2Fgetinfo');
    expect(h.lnd.total()).toBe(before);
    expect((await get('dashboard', '/_nodegate/login')).status).toBe(200);
  });

  it('auto: token on an LND path goes to LND, the owner pages and the dashboard stay reachable', async () => {
    expect((await get('auto', '/v1/getinfo', { authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await get('auto', '/_nodegate/login')).status).toBe(200);
    expect((await get('auto', '/', { cookie: await h.ownerCookie() })).status).toBe(200);
  });
});
