import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import WebSocket from 'ws';
import { startHarness, rawExchange, parseRaw, GW_NAME, type Harness } from '../../../support/gateway-harness.ts';
import { HUGE_PAGE_BYTES, LATIN1_PAGE } from '../../../../sim/dashboard.ts';

let h: Harness;
let cookie: string;

beforeAll(async () => {
  h = await startHarness();
  cookie = await h.ownerCookie();
});
afterAll(async () => {
  await h?.close();
});

async function get(path: string, headers: Record<string, string> = {}, method = 'GET') {
  const r = await h.client().request({ method: method, path, headers: { host: GW_NAME, ...headers } });
  return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
}

async function getRaw(path: string, headers: Record<string, string> = {}) {
  const r = await h.client().request({ method: 'GET', path, headers: { host: GW_NAME, ...headers } });
  return { status: r.statusCode, headers: r.headers, body: Buffer.from(await r.body.arrayBuffer()) };
}

describe('the dashboard behind the owner session', () => {
  it('without a session, a page request is sent to the owner login (303) and the dashboard sees nothing', async () => {
    const before = h.dashboard.counts()['/'] ?? 0;
    const r = await get('/');
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/_nodegate/login?next=%2F');
    expect(h.dashboard.counts()['/'] ?? 0).toBe(before);
  });

  it('without a session, a POST is 401 NG_GW_UNAUTHENTICATED', async () => {
    const r = await get('/api/info', {}, 'POST');
    expect(r.status).toBe(401);
    expect((JSON.parse(r.text) as { error: { code: string } }).error.code).toBe('NG_GW_UNAUTHENTICATED');
  });

  it('a forged session cookie is treated as no session', async () => {
    const r = await get('/', { cookie: '__Host-ng_session=forged-value' });
    expect(r.status).toBe(303);
  });

  it('with a session, the page arrives with the no-JavaScript notice after <body>', async () => {
    const r = await get('/', { cookie });
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/<body><noscript>.*needs JavaScript.*<\/noscript><main id="app">/s);
    expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.text));
    expect(r.headers['strict-transport-security']).toBe('max-age=15552000');
  });

  it('a HEAD request gets the page\'s own length, with no notice added to a body that is not there', async () => {
    const page = await get('/', { cookie });
    const head = await get('/', { cookie }, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect(Number(head.headers['content-length'])).toBe(Number(page.headers['content-length']) - (page.text.indexOf('</noscript>') + '</noscript>'.length - page.text.indexOf('<noscript>')));
  });

  it('the notice speaks the visitor\'s language, as character references so any page charset holds it', async () => {
    const r = await get('/', { cookie, 'accept-language': 'pt-BR,pt;q=0.9' });
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/<body><noscript><div role="alert" lang="pt-BR"/);
    const notice = r.text.slice(r.text.indexOf('<noscript>'), r.text.indexOf('</noscript>'));
    expect(notice).not.toMatch(/[\u0080-\u{10ffff}]/u); // plain ASCII, whatever the page's charset
    const decoded = notice.replace(/&#x([0-9a-f]+);/g, (_m, hex: string) => String.fromCodePoint(parseInt(hex, 16)));
    expect(decoded).toContain('Seu navegador bloqueia JavaScript');
  });

  it('inserts the notice into a page in another charset without touching its bytes', async () => {
    const r = await getRaw('/latin1', { cookie });
    expect(r.status).toBe(200);
    const body = r.body;
    const at = body.indexOf('<noscript>');
    const end = body.indexOf('</noscript>') + '</noscript>'.length;
    expect(at).toBe(LATIN1_PAGE.indexOf('>', LATIN1_PAGE.indexOf('<body')) + 1);
    expect(Buffer.concat([body.subarray(0, at), body.subarray(end)]).equals(LATIN1_PAGE)).toBe(true);
    expect(Number(r.headers['content-length'])).toBe(body.length);
  });

  it('passes an HTML page with no length and more than 2 MiB through whole, without the notice', async () => {
    const r = await getRaw('/huge', { cookie });
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(HUGE_PAGE_BYTES);
    expect(r.body.includes('<noscript>')).toBe(false);
  });

  it('with a session, JSON passes untouched and the dashboard learns the original host', async () => {
    const r = await get('/api/info', { cookie });
    expect(JSON.parse(r.text)).toEqual({ ok: true, host: new URL(h.dashboard.url).host, forwardedHost: GW_NAME });
  });

  it("passes the dashboard's WebSocket through for the owner", async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${h.port}/ws`, { ca: h.cert.certPem, ...({ servername: GW_NAME } as object), headers: { host: GW_NAME, cookie } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const reply = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString('utf8'))));
    ws.send('hello');
    expect(await reply).toBe('echo:hello');
    ws.close();
  });

  it('refuses the WebSocket without a session: 401 NG_GW_UNAUTHENTICATED', async () => {
    const before = h.dashboard.counts()['WS /ws'] ?? 0;
    const raw = await rawExchange(h, `GET /ws HTTP/1.1\r\nHost: ${GW_NAME}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    const r = parseRaw(raw);
    expect(r.status).toBe(401);
    expect((r.json as { error: { code: string } }).error.code).toBe('NG_GW_UNAUTHENTICATED');
    expect(h.dashboard.counts()['WS /ws'] ?? 0).toBe(before);
  });

  it('serves the owner pages under /_nodegate with their strict CSP', async () => {
    const r = await get('/_nodegate/login');
    expect(r.status).toBe(200);
    expect(r.headers['content-security-policy']).toContain("default-src 'none'");
    expect(r.text).toContain('<form');
  });
});
