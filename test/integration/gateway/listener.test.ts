import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { startHarness, rawExchange, parseRaw, GW_NAME, type Harness } from '../../support/gateway-harness.ts';
import { makeSelfSignedCert } from '../../../sim/self-signed-cert.ts';
import { HttpsListener } from '../../../gateway/listener.ts';
import { createLogger } from '../../../core/log.ts';

let h: Harness;
let token: string;

beforeAll(async () => {
  h = await startHarness({
    limits: { maxHeaderBytes: 4096, maxBodyBytes: 2048, headersTimeoutMs: 500, requestTimeoutMs: 1000, timeoutCheckIntervalMs: 100 },
    config: { httpRedirect: { listen: '127.0.0.1:0' } },
  });
  token = (await h.gateway.tokens.create({ scope: 'admin', name: 'attack-tests' })).token;
});
afterAll(async () => {
  await h?.close();
});

function code(raw: string): string | undefined {
  return (parseRaw(raw).json as { error?: { code?: string } } | undefined)?.error?.code;
}

describe('TLS', () => {
  it('refuses TLS 1.1', async () => {
    const err = await new Promise<Error | undefined>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: h.port, servername: GW_NAME, ca: h.cert.certPem, minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }, () => {
        s.destroy();
        resolve(undefined);
      });
      s.once('error', (e) => resolve(e));
    });
    expect(err).toBeInstanceOf(Error);
  });

  it('serves the certificate to a client that sends no SNI (reached by IP)', async () => {
    const s = await h.rawTls(false);
    const fp = s.getPeerX509Certificate()?.fingerprint256;
    s.destroy();
    expect(fp).toBe(new X509Certificate(h.cert.certPem).fingerprint256);
  });

  it('serves a replaced certificate on the next handshake without restart', async () => {
    const next = makeSelfSignedCert([GW_NAME], ['127.0.0.1']);
    const old = { certPem: h.cert.certPem, keyPem: h.cert.keyPem };
    h.tls.replace(next.certPem, next.keyPem);
    try {
      const s = await new Promise<TLSSocket>((resolve, reject) => {
        const sock = tlsConnect({ host: '127.0.0.1', port: h.port, servername: GW_NAME, ca: next.certPem }, () => resolve(sock));
        sock.once('error', reject);
      });
      expect(s.getPeerX509Certificate()?.fingerprint256).toBe(new X509Certificate(next.certPem).fingerprint256);
      s.destroy();
    } finally {
      h.tls.replace(old.certPem, old.keyPem);
    }
  });

  it('sends HSTS once on every kind of reply: proxied LND call, gateway error, owner page, 421', async () => {
    const requests = [
      `GET /v1/getinfo HTTP/1.1\r\nHost: ${GW_NAME}\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`, // the relay's header list
      `GET /v1/getinfo HTTP/1.1\r\nHost: ${GW_NAME}\r\nAuthorization: Bearer nope\r\nConnection: close\r\n\r\n`, // 401 error reply
      `GET /_nodegate/login HTTP/1.1\r\nHost: ${GW_NAME}\r\nConnection: close\r\n\r\n`, // fastify
      `GET /v1/getinfo HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n`, // 421
    ];
    const statuses: number[] = [];
    for (const request of requests) {
      const reply = parseRaw(await rawExchange(h, request));
      statuses.push(reply.status);
      expect(reply.headers.match(/\r\nstrict-transport-security: max-age=15552000\r\n/gi), request.split('\r\n')[0]).toHaveLength(1);
    }
    expect(statuses).toEqual([200, 401, 200, 421]);
  });
});

describe('HSTS on replies written any way', () => {
  let server: HttpsListener;
  const shared = ['x-shared', 'yes'];
  beforeAll(async () => {
    server = await HttpsListener.start({
      host: '127.0.0.1',
      port: 0,
      tls: h.tls,
      limits: h.config.limits,
      hstsMaxAgeSeconds: 60,
      logger: createLogger({ level: 'silent' }),
      onUpgrade: (_req, socket) => socket.destroy(),
      onRequest: (req, res) => {
        switch (req.url) {
          case '/implicit': // node writes the head itself
            res.end('x');
            return;
          case '/object':
            res.writeHead(200, { 'content-type': 'text/plain' }).end('x');
            return;
          case '/list-repeated': // a flat list keeps repeated names apart
            res.writeHead(200, ['set-cookie', 'a=1', 'set-cookie', 'b=2', 'content-length', '1']).end('x');
            return;
          case '/pairs':
            res.writeHead(200, 'Fine', [['x-pair', '1']] as unknown as string[]).end('x');
            return;
          case '/own-hsts': // what the answering code sets wins
            res.writeHead(200, ['Strict-Transport-Security', 'max-age=5']).end('x');
            return;
          case '/set-own':
            res.setHeader('strict-transport-security', 'max-age=7');
            res.writeHead(200, ['content-length', '1']).end('x');
            return;
          default:
            res.writeHead(200, shared).end('x');
        }
      },
    });
  });
  afterAll(async () => {
    await server?.stop(0);
  });

  async function get(path: string): Promise<{ status: number; headers: string }> {
    const s = await new Promise<TLSSocket>((resolve, reject) => {
      const sock = tlsConnect({ host: '127.0.0.1', port: server.address().port, servername: GW_NAME, ca: h.cert.certPem }, () => resolve(sock));
      sock.once('error', reject);
    });
    s.end(`GET ${path} HTTP/1.1\r\nHost: ${GW_NAME}\r\nConnection: close\r\n\r\n`);
    let text = '';
    for await (const chunk of s) text += (chunk as Buffer).toString('latin1');
    return parseRaw(text);
  }
  const hsts = (headers: string) => [...headers.matchAll(/\r\nstrict-transport-security: ([^\r]*)/gi)].map((m) => m[1]);

  it('adds it to an implicit head, a header object, a flat list and a list of pairs', async () => {
    for (const path of ['/implicit', '/object', '/list-repeated', '/pairs']) expect(hsts((await get(path)).headers), path).toEqual(['max-age=60']);
    const repeated = await get('/list-repeated');
    expect(repeated.headers).toMatch(/\r\nset-cookie: a=1\r\n/i);
    expect(repeated.headers).toMatch(/\r\nset-cookie: b=2\r\n/i);
  });

  it('keeps a value the answering code set, and never changes a list shared between replies', async () => {
    expect(hsts((await get('/own-hsts')).headers)).toEqual(['max-age=5']);
    expect(hsts((await get('/set-own')).headers)).toEqual(['max-age=7']);
    for (let i = 0; i < 3; i++) expect(hsts((await get('/shared')).headers)).toEqual(['max-age=60']);
    expect(shared).toEqual(['x-shared', 'yes']);
  });
});

describe('Host and SNI', () => {
  it('refuses a Host that differs from the SNI name with 421 NG_GW_HOST_MISMATCH', async () => {
    const before = h.lnd.total();
    const raw = await rawExchange(h, `GET /v1/getinfo HTTP/1.1\r\nHost: other.test\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
    expect(parseRaw(raw).status).toBe(421);
    expect(code(raw)).toBe('NG_GW_HOST_MISMATCH');
    expect(h.lnd.total()).toBe(before);
  });

  it('accepts the same name with a port and a trailing dot', async () => {
    const raw = await rawExchange(h, `GET /v1/getinfo HTTP/1.1\r\nHost: GW.test.:${h.port}\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
    expect(parseRaw(raw).status).toBe(200);
  });
});

describe('request smuggling', () => {
  it('refuses Content-Length together with Transfer-Encoding (400 NG_GW_BAD_REQUEST), LND sees nothing', async () => {
    const before = h.lnd.total();
    const raw = await rawExchange(
      h,
      `POST /v1/invoices HTTP/1.1\r\nHost: ${GW_NAME}\r\nAuthorization: Bearer ${token}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/getinfo HTTP/1.1\r\nHost: ${GW_NAME}\r\n\r\n`,
    );
    expect(parseRaw(raw).status).toBe(400);
    expect(code(raw)).toBe('NG_GW_BAD_REQUEST');
    expect(h.lnd.total()).toBe(before);
  });

  it('refuses duplicate Content-Length (400 NG_GW_BAD_REQUEST), LND sees nothing', async () => {
    const before = h.lnd.total();
    const raw = await rawExchange(h, `POST /v1/invoices HTTP/1.1\r\nHost: ${GW_NAME}\r\nAuthorization: Bearer ${token}\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n{}`);
    expect(parseRaw(raw).status).toBe(400);
    expect(code(raw)).toBe('NG_GW_BAD_REQUEST');
    expect(h.lnd.total()).toBe(before);
  });

  it('refuses an obfuscated Transfer-Encoding', async () => {
    const before = h.lnd.total();
    const raw = await rawExchange(h, `POST /v1/invoices HTTP/1.1\r\nHost: ${GW_NAME}\r\nAuthorization: Bearer ${token}\r\nContent-Length: 2\r\nTransfer-Encoding : chunked\r\n\r\n{}`);
    expect(parseRaw(raw).status).toBe(400);
    expect(code(raw)).toBe('NG_GW_BAD_REQUEST');
    expect(h.lnd.total()).toBe(before);
  });
});

describe('limits', () => {
  it('refuses oversized headers with 431 NG_GW_HEADERS_TOO_LARGE', async () => {
    const raw = await rawExchange(h, `GET /v1/getinfo HTTP/1.1\r\nHost: ${GW_NAME}\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`);
    expect(parseRaw(raw).status).toBe(431);
    expect(code(raw)).toBe('NG_GW_HEADERS_TOO_LARGE');
  });

  it('refuses a body whose Content-Length is over the limit with 413 NG_GW_BODY_TOO_LARGE before LND sees it', async () => {
    const before = h.lnd.total();
    const raw = await rawExchange(h, `POST /v1/invoices HTTP/1.1\r\nHost: ${GW_NAME}\r\nAuthorization: Bearer ${token}\r\nContent-Length: 5000\r\n\r\n${'x'.repeat(5000)}`);
    expect(parseRaw(raw).status).toBe(413);
    expect(code(raw)).toBe('NG_GW_BODY_TOO_LARGE');
    expect(h.lnd.total()).toBe(before);
  });

  it('cuts a chunked body that grows over the limit with 413 NG_GW_BODY_TOO_LARGE', async () => {
    const chunk = 'y'.repeat(1000);
    const chunks = Array.from({ length: 4 }, () => `3e8\r\n${chunk}\r\n`).join('');
    const raw = await rawExchange(h, `POST /v1/invoices HTTP/1.1\r\nHost: ${GW_NAME}\r\nAuthorization: Bearer ${token}\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`);
    expect(parseRaw(raw).status).toBe(413);
    expect(code(raw)).toBe('NG_GW_BODY_TOO_LARGE');
  });

  it('bounds a slowloris client: headers never finished get 408 NG_GW_REQUEST_TIMEOUT and the socket closes', async () => {
    const s = await h.rawTls();
    const result = await new Promise<{ text: string; closed: boolean }>((resolve) => {
      let text = '';
      let sent = 0;
      const drip = setInterval(() => {
        if (sent++ < 20 && !s.destroyed) s.write(`X-Slow-${sent}: 1\r\n`);
      }, 100);
      s.write(`GET /v1/getinfo HTTP/1.1\r\nHost: ${GW_NAME}\r\n`);
      s.on('data', (d: Buffer) => (text += d.toString('latin1')));
      s.on('error', () => undefined); // reset after the 408 is expected
      const giveUp = setTimeout(() => {
        clearInterval(drip);
        s.destroy();
        resolve({ text, closed: false });
      }, 5000);
      s.on('close', () => {
        clearInterval(drip);
        clearTimeout(giveUp);
        resolve({ text, closed: true });
      });
    });
    expect(result.closed).toBe(true);
    expect(parseRaw(result.text).status).toBe(408);
    expect(code(result.text)).toBe('NG_GW_REQUEST_TIMEOUT');
  });
});

describe('path tricks', () => {
  const tricks: [string, string][] = [
    ['dot-dot', '/v1/invoices/../getinfo'],
    ['encoded dot-dot', '/v1/invoices/%2e%2e/getinfo'],
    ['upper-case encoded dot-dot', '/v1/%2E%2E/v1/getinfo'],
    ['double encoding', '/v1/%252e%252e/getinfo'],
    ['encoded slash', '/v1/invoices%2fsubscribe'],
    ['empty segment', '/v1//getinfo'],
    ['trailing dot', '/v1/getinfo.'],
    ['single dot segment', '/v1/./getinfo'],
    ['backslash', '/v1/invoices\\..\\getinfo'],
    ['absolute form', `https://${GW_NAME}/v1/getinfo`],
  ];
  for (const [name, path] of tricks) {
    it(`refuses ${name} (${path}) with 400 NG_GW_BAD_REQUEST, LND sees nothing`, async () => {
      const before = h.lnd.total();
      const raw = await rawExchange(h, `GET ${path} HTTP/1.1\r\nHost: ${GW_NAME}\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
      expect(parseRaw(raw).status).toBe(400);
      expect(code(raw)).toBe('NG_GW_BAD_REQUEST');
      expect(h.lnd.total()).toBe(before);
    });
  }

  it('a readonly token cannot reach a write call through a trick that passes the canonical check', async () => {
    const ro = (await h.gateway.tokens.create({ scope: 'readonly', name: 'ro' })).token;
    const before = h.lnd.total();
    const raw = await rawExchange(h, `POST /v1/invoices/subscribe/../../invoices HTTP/1.1\r\nHost: ${GW_NAME}\r\nAuthorization: Bearer ${ro}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
    expect(parseRaw(raw).status).toBe(400);
    expect(h.lnd.total()).toBe(before);
  });
});

describe('HTTP to HTTPS', () => {
  it('redirects with 308 to the same path on the HTTPS port, only to a name it serves', async () => {
    const redirect = h.gateway.addresses().httpRedirect!;
    const get = (host: string) =>
      new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: redirect.port, path: '/v1/getinfo?x=1', headers: { host } }, (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, location: res.headers.location });
        });
        req.on('error', reject);
        req.end();
      });
    expect(await get(`${GW_NAME}:80`)).toEqual({ status: 308, location: `https://${GW_NAME}:${h.port}/v1/getinfo?x=1` });
    expect(await get('evil.example')).toEqual({ status: 308, location: `https://${GW_NAME}:${h.port}/v1/getinfo?x=1` });
  });
});
