import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { startHarness, asMacaroonHeader, rawExchange, parseRaw, GW_NAME, type Harness } from '../../../support/gateway-harness.ts';

let h: Harness;
let readonly: string;
let invoice: string;
let admin: string;

beforeAll(async () => {
  h = await startHarness();
  readonly = (await h.gateway.tokens.create({ scope: 'readonly', name: 'phone' })).token;
  invoice = (await h.gateway.tokens.create({ scope: 'invoice', name: 'pos' })).token;
  admin = (await h.gateway.tokens.create({ scope: 'admin', name: 'laptop' })).token;
});
afterAll(async () => {
  await h?.close();
});

async function get(path: string, headers: Record<string, string>, method = 'GET', body?: string) {
  const c = h.client();
  const r = await c.request({ method, path, headers: { host: GW_NAME, ...headers }, body });
  const text = await r.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.statusCode, headers: r.headers, text, json: json as { error?: { code: string } } & Record<string, unknown> };
}

describe('a wallet with only a token', () => {
  it('reads getinfo with the token as a hex Grpc-Metadata-macaroon, and LND receives the readonly macaroon', async () => {
    const before = h.lnd.macaroonHeaders().length;
    const r = await get('/v1/getinfo', { 'grpc-metadata-macaroon': asMacaroonHeader(readonly) });
    expect(r.status).toBe(200);
    expect(r.json.alias).toBe('nodegate-sim');
    const seen = h.lnd.macaroonHeaders().slice(before);
    expect(seen).toEqual([h.lnd.macaroonHex.readonly]);
  });

  it('reads getinfo with Authorization: Bearer', async () => {
    const r = await get('/v1/getinfo', { authorization: `Bearer ${readonly}` });
    expect(r.status).toBe(200);
    expect(r.json.identity_pubkey).toMatch(/^02/);
  });

  it('is refused outside its scope (403 NG_GW_SCOPE) and LND never sees the call', async () => {
    const before = h.lnd.counts()['POST /v1/invoices'] ?? 0;
    const r = await get('/v1/invoices', { authorization: `Bearer ${readonly}`, 'content-type': 'application/json' }, 'POST', '{"value":"1000"}');
    expect(r.status).toBe(403);
    expect(r.json.error?.code).toBe('NG_GW_SCOPE');
    expect(h.lnd.counts()['POST /v1/invoices'] ?? 0).toBe(before);
  });

  it('an invoice token creates an invoice with the invoice macaroon but may not pay', async () => {
    const before = h.lnd.macaroonHeaders().length;
    const r = await get('/v1/invoices', { authorization: `Bearer ${invoice}`, 'content-type': 'application/json' }, 'POST', '{"value":"1000","memo":"coffee"}');
    expect(r.status).toBe(200);
    expect(typeof r.json.payment_request).toBe('string');
    expect(h.lnd.macaroonHeaders().slice(before)).toEqual([h.lnd.macaroonHex.invoice]);
    const pay = await get('/v1/channels/transactions', { authorization: `Bearer ${invoice}` }, 'POST', '{}');
    expect(pay.status).toBe(403);
    expect(pay.json.error?.code).toBe('NG_GW_SCOPE');
  });

  it('an admin token gets the admin macaroon', async () => {
    const before = h.lnd.macaroonHeaders().length;
    const r = await get('/v1/channels/transactions', { authorization: `Bearer ${admin}` }, 'POST', '{}');
    expect(r.status).toBe(200);
    expect(h.lnd.macaroonHeaders().slice(before)).toEqual([h.lnd.macaroonHex.admin]);
  });

  it('a path no scope allows is 403 NG_GW_PATH_FORBIDDEN, even for admin', async () => {
    const r = await get('/v1/unlockwallet', { authorization: `Bearer ${admin}` }, 'POST', '{}');
    expect(r.status).toBe(403);
    expect(r.json.error?.code).toBe('NG_GW_PATH_FORBIDDEN');
  });

  it('a real LND macaroon sent by a client is refused (401 NG_GW_TOKEN_INVALID), never forwarded', async () => {
    const before = h.lnd.total();
    const r = await get('/v1/getinfo', { 'grpc-metadata-macaroon': h.lnd.macaroonHex.admin });
    expect(r.status).toBe(401);
    expect(r.json.error?.code).toBe('NG_GW_TOKEN_INVALID');
    expect(h.lnd.total()).toBe(before);
  });

  it('an API client calling an LND path without a token (no text/html in Accept) gets 401 JSON, not LND and not a redirect', async () => {
    const before = h.lnd.total();
    for (const accept of [undefined, 'application/json', '*/*', 'text/html;q=0, application/json']) {
      const r = await get('/v1/getinfo', accept === undefined ? {} : { accept });
      expect([r.status, r.headers['content-type'], r.headers['www-authenticate'], r.json.error?.code], String(accept)).toEqual([401, 'application/json; charset=utf-8', 'Bearer', 'NG_GW_UNAUTHENTICATED']);
    }
    expect(h.lnd.total()).toBe(before);
  });

  it("curl -H 'Accept: application/json' https://<name>/v1/getinfo without a token gets 401 JSON", async () => {
    const ca = join(h.dataDir, 'curl-ca.pem');
    await writeFile(ca, h.cert.certPem);
    const { stdout } = await promisify(execFile)('curl', ['-sS', '--cacert', ca, '--resolve', `${GW_NAME}:${h.port}:127.0.0.1`, '-H', 'Accept: application/json', '-w', '\n%{http_code} %{content_type}', `https://${GW_NAME}:${h.port}/v1/getinfo`]);
    const [body, status] = stdout.split('\n');
    expect(status).toBe('401 application/json; charset=utf-8');
    expect((JSON.parse(body!) as { error: { code: string } }).error.code).toBe('NG_GW_UNAUTHENTICATED');
  });

  it('a browser opening an LND path without a token goes to the owner login, not LND', async () => {
    const before = h.lnd.total();
    const r = await get('/v1/getinfo', { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' });
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/_nodegate/login?next=%2Fv1%2Fgetinfo');
    expect(h.lnd.total()).toBe(before);
  });
});

describe('streaming and WebSocket', () => {
  it('streams /v1/invoices/subscribe as newline-delimited JSON', async () => {
    const c = h.client();
    const r = await c.request({ method: 'GET', path: '/v1/invoices/subscribe', headers: { host: GW_NAME, authorization: `Bearer ${readonly}` } });
    expect(r.statusCode).toBe(200);
    const first = new Promise<string>((resolve) => r.body.once('data', (d: Buffer) => resolve(d.toString('utf8'))));
    await new Promise((res) => setTimeout(res, 50));
    await get('/v1/invoices', { authorization: `Bearer ${invoice}` }, 'POST', '{"value":"21","memo":"stream"}');
    const line = await first;
    expect((JSON.parse(line.split('\n')[0]!) as { result: { memo: string } }).result.memo).toBe('stream');
    r.body.destroy();
  });

  it('passes a WebSocket subscription through with the macaroon injected', async () => {
    const before = h.lnd.macaroonHeaders().length;
    const ws = new WebSocket(`wss://127.0.0.1:${h.port}/v1/invoices/subscribe?method=GET`, {
      ca: h.cert.certPem,
      ...({ servername: GW_NAME } as object),
      headers: { host: GW_NAME, 'grpc-metadata-macaroon': asMacaroonHeader(readonly) },
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const message = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString('utf8'))));
    await get('/v1/invoices', { authorization: `Bearer ${invoice}` }, 'POST', '{"value":"42","memo":"ws"}');
    expect((JSON.parse(await message) as { result: { memo: string } }).result.memo).toBe('ws');
    expect(h.lnd.macaroonHeaders().slice(before)[0]).toBe(h.lnd.macaroonHex.readonly);
    ws.close();
  });

  it('refuses a WebSocket upgrade outside the scope with 403 NG_GW_SCOPE', async () => {
    const raw = await rawExchange(
      h,
      `GET /v1/invoices/subscribe?method=GET HTTP/1.1\r\nHost: ${GW_NAME}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer garbage.garbage.garbage\r\n\r\n`,
    );
    const r = parseRaw(raw);
    expect(r.status).toBe(401);
    expect((r.json as { error: { code: string } }).error.code).toBe('NG_GW_TOKEN_INVALID');
  });
});

describe('clients that leave', () => {
  it('a client gone while LND is still answering does not take the gateway down (regression: unhandled body error)', async () => {
    h.lnd.setGetinfoDelayMs(300);
    try {
      for (let i = 0; i < 3; i++) {
        const s = await h.rawTls();
        s.on('error', () => undefined);
        s.write(`GET /v1/getinfo HTTP/1.1\r\nHost: ${GW_NAME}\r\nAuthorization: Bearer ${readonly}\r\n\r\n`);
        await new Promise((r) => setTimeout(r, 50 + i * 100));
        s.destroy();
      }
      await new Promise((r) => setTimeout(r, 400));
    } finally {
      h.lnd.setGetinfoDelayMs(0);
    }
    const r = await get('/v1/getinfo', { authorization: `Bearer ${readonly}` });
    expect(r.status).toBe(200);
  });

  it('a client that leaves a stream closes the upstream stream', async () => {
    const c = h.client();
    const r = await c.request({ method: 'GET', path: '/v1/invoices/subscribe', headers: { host: GW_NAME, authorization: `Bearer ${readonly}` } });
    expect(r.statusCode).toBe(200);
    await c.destroy();
    await new Promise((res) => setTimeout(res, 200));
    const again = await get('/v1/getinfo', { authorization: `Bearer ${readonly}` });
    expect(again.status).toBe(200);
  });
});

describe('upgrade abuse', () => {
  it('refuses an Upgrade other than websocket (h2c) with 400 NG_GW_BAD_REQUEST, LND sees nothing', async () => {
    const before = h.lnd.total();
    const raw = await rawExchange(h, `GET /v1/getinfo HTTP/1.1\r\nHost: ${GW_NAME}\r\nAuthorization: Bearer ${readonly}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n`);
    const r = parseRaw(raw);
    expect(r.status).toBe(400);
    expect((r.json as { error: { code: string } }).error.code).toBe('NG_GW_BAD_REQUEST');
    expect(h.lnd.total()).toBe(before);
  });

  it('a WebSocket upgrade LND refuses carries no second, unchecked request to LND', async () => {
    const before = h.lnd.counts();
    const beforeTotal = h.lnd.total();
    // LND refuses the upgrade (no ?method=GET); the bytes after it try to reach the unlocker
    const smuggled = `POST /v1/unlockwallet HTTP/1.1\r\nHost: x\r\nContent-Length: 27\r\n\r\n{"wallet_password":"AAAA"}\n`;
    const raw = await rawExchange(
      h,
      `GET /v1/invoices/subscribe HTTP/1.1\r\nHost: ${GW_NAME}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer ${readonly}\r\n\r\n${smuggled}`,
    );
    expect(parseRaw(raw).status).toBe(403);
    expect(h.lnd.total()).toBe(beforeTotal + 1);
    expect(h.lnd.unlockAttempts()).toBe(0);
    expect(h.lnd.counts()['POST /v1/unlockwallet'] ?? 0).toBe(before['POST /v1/unlockwallet'] ?? 0);
  });
});

describe('hop-by-hop header abuse', () => {
  it('drops Connection-listed and hop-by-hop headers on the way in, keeps end-to-end ones', async () => {
    const before = h.lnd.requestHeaders().length;
    const raw = await rawExchange(
      h,
      `GET /v1/getinfo HTTP/1.1\r\nHost: ${GW_NAME}\r\nAuthorization: Bearer ${readonly}\r\nConnection: keep-alive, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nKeep-Alive: timeout=1\r\nTE: trailers\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nX-End-To-End: yes\r\nCookie: ng_session=abc\r\n\r\n`,
      800,
    );
    expect(parseRaw(raw).status).toBe(200);
    const seen = h.lnd.requestHeaders().slice(before)[0]!;
    expect(seen['x-secret-hop']).toBeUndefined();
    expect(seen['keep-alive']).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen.authorization).toBeUndefined();
    expect(seen.cookie).toBeUndefined();
    expect(seen['x-end-to-end']).toBe('yes');
    expect(seen['grpc-metadata-macaroon']).toBe(h.lnd.macaroonHex.readonly);
  });

  it('a body sent with Expect: 100-continue is forwarded (the 100 comes from the gateway)', async () => {
    const s = await h.rawTls();
    const body = '{"value":"5","memo":"expect"}';
    const text = await new Promise<string>((resolve) => {
      let out = '';
      setTimeout(() => resolve(out), 3000); // bounded: a broken gateway answers 502 or nothing
      s.on('data', (d: Buffer) => {
        out += d.toString('latin1');
        if (out.startsWith('HTTP/1.1 100') && !out.includes('\r\n\r\nHTTP/1.1 ')) {
          if (!out.includes('sent')) {
            out += 'sent';
            s.write(body);
          }
        }
        if (/HTTP\/1\.1 200[\s\S]*\}$/.test(out)) resolve(out);
      });
      s.write(`POST /v1/invoices HTTP/1.1\r\nHost: ${GW_NAME}\r\nAuthorization: Bearer ${invoice}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
    });
    s.destroy();
    expect(text.startsWith('HTTP/1.1 100 Continue')).toBe(true);
    expect(text).toContain('"payment_request"');
    expect(h.lnd.requestHeaders().at(-1)!.expect).toBeUndefined();
  });

  it('keeps the client connection alive across requests (no Connection: close leaked from upstream)', async () => {
    const s = await h.rawTls();
    const req = `GET /v1/getinfo HTTP/1.1\r\nHost: ${GW_NAME}\r\nAuthorization: Bearer ${readonly}\r\n\r\n`;
    const text = await new Promise<string>((resolve) => {
      let out = '';
      s.on('data', (d: Buffer) => {
        out += d.toString('latin1');
        if ((out.match(/HTTP\/1\.1 200/g) ?? []).length === 2 && out.trimEnd().endsWith('}')) resolve(out);
      });
      s.write(req + req);
    });
    s.destroy();
    expect((text.match(/HTTP\/1\.1 200/g) ?? []).length).toBe(2);
    expect(/\r\nconnection: close/i.test(text)).toBe(false);
  });
});

describe('the macaroon never leaves the node', () => {
  it('appears in no response and no log line', async () => {
    const responses: string[] = [];
    const variants: Record<string, string>[] = [{ authorization: `Bearer ${readonly}` }, { authorization: `Bearer ${admin}` }, { 'grpc-metadata-macaroon': h.lnd.macaroonHex.readonly }, { authorization: 'Bearer x.y.z' }];
    for (const headers of variants) {
      const r = await get('/v1/getinfo', headers);
      responses.push(JSON.stringify(r.headers) + r.text);
    }
    responses.push((await get('/v1/%2e%2e/getinfo', { authorization: `Bearer ${admin}` })).text);
    const logs = h.logs();
    expect(logs.length).toBeGreaterThan(0);
    for (const hex of Object.values(h.lnd.macaroonHex)) {
      for (const text of responses) expect(text.includes(hex)).toBe(false);
      expect(logs.includes(hex)).toBe(false);
      expect(logs.includes(Buffer.from(hex, 'hex').toString('base64'))).toBe(false);
    }
    expect(logs.includes(admin)).toBe(false);
  });
});
