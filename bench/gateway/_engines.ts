/**
 * Alternative proxy engines for the gateway benchmark, each doing the same work as the gateway's
 * hot path (token check with TokenService, macaroon injection from the LND dir, pinned upstream TLS):
 * - `https-agent`: node:https server + node:https.request with a keep-alive Agent (no undici)
 * - `fastify-undici`: fastify route + the same undici Pool (fastify on the hot path)
 * - `fastify-reply-from`: fastify + @fastify/reply-from (its undici mode), the candidate
 * - `http-proxy`: node:https server + http-proxy with a keep-alive https.Agent, the other candidate
 * - `floor`: not a usable proxy but the runtime's floor: node:https + the same undici Pool through
 *   dispatch(), with no token check, no header filtering, no HSTS, a fixed macaroon. What the gateway
 *   costs above it is its own work; what this costs above nginx is node's.
 * Run: node bin/run-ts.js bench/gateway/_engines.ts MODE DATA_DIR PORT LND_URL LND_DIR
 */
import { createServer as createHttpsServer, request as httpsRequest, Agent } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import Fastify from 'fastify';
import { TokenService, tokenFromHeaders } from '../../gateway/auth/tokens.ts';
import { LndUpstream } from '../../gateway/proxy/lnd-upstream.ts';
import { upstreamRequestHeaders, clientResponseHeaders } from '../../gateway/proxy/headers.ts';

const [mode, dataDir, portText, lndUrl, lndDir] = process.argv.slice(2);
if (!mode || !dataDir || !portText || !lndUrl || !lndDir) {
  process.stderr.write('usage: engines.ts MODE DATA_DIR PORT LND_URL LND_DIR\n');
  process.exit(2);
}
const certPem = readFileSync(join(dataDir, 'bench-cert.pem'), 'utf8');
const keyPem = readFileSync(join(dataDir, 'bench-key.pem'), 'utf8');
const tokens = await TokenService.open(dataDir);
const upstream = new LndUpstream({ restUrl: lndUrl, lndDir, network: 'mainnet', connectTimeoutMs: 5000, headersTimeoutMs: 30_000 });
const lndCert = readFileSync(join(lndDir, 'tls.cert'), 'utf8');
const fingerprint = new X509Certificate(lndCert).fingerprint256;
const origin = new URL(lndUrl);
/** The same pin as the gateway's: LND's exact certificate. */
const pin = (_host: string, cert: { fingerprint256: string }) => (cert.fingerprint256 === fingerprint ? undefined : new Error('pin'));

async function authorize(req: IncomingMessage): Promise<Record<string, string | string[]> | undefined> {
  const token = tokenFromHeaders(req.headers.authorization, req.headers['grpc-metadata-macaroon']);
  if (!token) return undefined;
  const claims = await tokens.verify(token);
  const headers = upstreamRequestHeaders(req.headers, true);
  headers['grpc-metadata-macaroon'] = upstream.macaroonHex(claims.scope);
  return headers;
}

function fail(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'content-length': 0 });
  res.end();
}

if (mode === 'https-agent') {
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ca: lndCert, checkServerIdentity: pin });
  const server = createHttpsServer({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
    authorize(req).then(
      (headers) => {
        if (!headers) return fail(res, 401);
        const up = httpsRequest({ host: origin.hostname, port: Number(origin.port), method: req.method, path: req.url, headers, agent }, (ures) => {
          res.writeHead(ures.statusCode ?? 502, clientResponseHeaders(ures.headers));
          ures.pipe(res);
        });
        up.on('error', () => fail(res, 502));
        req.pipe(up);
      },
      () => fail(res, 401),
    );
  });
  server.listen(Number(portText), '127.0.0.1', () => process.stdout.write('engine ready\n'));
} else if (mode === 'fastify-undici') {
  const app = Fastify({ logger: false, https: { cert: certPem, key: keyPem, minVersion: 'TLSv1.2' } });
  app.all('/*', async (request, reply) => {
    const headers = await authorize(request.raw).catch(() => undefined); // a bad token: 401 below
    if (!headers) return reply.code(401).send();
    const r = await upstream.dispatcher().request({ origin: upstream.origin, method: 'GET', path: request.url, headers });
    reply.code(r.statusCode).headers(clientResponseHeaders(r.headers));
    return reply.send(r.body);
  });
  await app.listen({ port: Number(portText), host: '127.0.0.1' });
  process.stdout.write('engine ready\n');
} else if (mode === 'fastify-reply-from') {
  const { default: replyFrom } = await import('@fastify/reply-from');
  const app = Fastify({ logger: false, https: { cert: certPem, key: keyPem, minVersion: 'TLSv1.2' } });
  await app.register(replyFrom, {
    base: lndUrl,
    undici: { connections: 64, pipelining: 1, connect: { ca: lndCert, checkServerIdentity: pin } },
  });
  app.all('/*', async (request, reply) => {
    const headers = await authorize(request.raw).catch(() => undefined); // a bad token: 401 below
    if (!headers) return reply.code(401).send();
    const macaroon = headers['grpc-metadata-macaroon'] as string;
    return reply.from(request.url, {
      rewriteRequestHeaders: (_req, h) => {
        const out: Record<string, string | string[] | undefined> = { ...h, 'grpc-metadata-macaroon': macaroon };
        delete out.authorization;
        return out;
      },
    });
  });
  await app.listen({ port: Number(portText), host: '127.0.0.1' });
  process.stdout.write('engine ready\n');
} else if (mode === 'http-proxy') {
  const mod = await import('http-proxy');
  const httpProxy = (mod as { default?: typeof mod }).default ?? mod; // CommonJS: module.exports is default
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ca: lndCert, checkServerIdentity: pin });
  const proxy = httpProxy.createProxyServer({ target: lndUrl, agent, secure: true, xfwd: false });
  proxy.on('proxyReq', (proxyReq, req) => {
    proxyReq.removeHeader('authorization');
    proxyReq.setHeader('grpc-metadata-macaroon', (req as IncomingMessage & { macaroon?: string }).macaroon ?? '');
  });
  proxy.on('error', (_err, _req, res) => {
    if ('writeHead' in res) fail(res, 502);
  });
  const server = createHttpsServer({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
    authorize(req).then(
      (headers) => {
        if (!headers) return fail(res, 401);
        (req as IncomingMessage & { macaroon?: string }).macaroon = headers['grpc-metadata-macaroon'] as string;
        proxy.web(req, res);
      },
      () => fail(res, 401),
    );
  });
  server.listen(Number(portText), '127.0.0.1', () => process.stdout.write('engine ready\n'));
} else if (mode === 'floor') {
  const macaroon = upstream.macaroonHex('readonly');
  const pool = upstream.dispatcher();
  const server = createHttpsServer({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: string[] = [];
    pool.dispatch(
      { origin: upstream.origin, method: 'GET', path: req.url ?? '/', headers: ['grpc-metadata-macaroon', macaroon] },
      {
        onRequestStart: () => undefined,
        onResponseStart: (_c, statusCode, h) => {
          status = statusCode;
          headers = ['content-type', String(h['content-type']), 'content-length', String(h['content-length'])];
        },
        onResponseData: (_c, chunk) => void chunks.push(chunk),
        onResponseEnd: () => {
          res.writeHead(status, headers);
          res.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
        },
        onResponseError: () => fail(res, 502),
      },
    );
  });
  server.listen(Number(portText), '127.0.0.1', () => process.stdout.write('engine ready\n'));
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
