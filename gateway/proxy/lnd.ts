/**
 * LND REST proxy: a wallet presents a gateway token; the gateway checks it, checks the call against
 * the token scope's allow-list, swaps the token for the macaroon LND baked for that scope and
 * forwards the request over the pinned upstream (lnd-upstream.ts). Responses stream back as they
 * come (LND's server-streaming calls are newline-delimited JSON); WebSocket upgrades
 * (`/v1/invoices/subscribe?method=GET` and the like, LND's REST WebSocket proxy) are passed through
 * with the macaroon injected into the upgrade request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Logger } from '../../core/log.ts';
import { NodegateError, isNodegateError } from '../../core/errors.ts';
import type { TokenService, TokenClaims } from '../auth/tokens.ts';
import { scopeAllows } from '../auth/scopes.ts';
import { canonicalTarget, type CanonicalTarget } from './path.ts';
import { upstreamRequestHeaders, clientResponseHeaders } from './headers.ts';
import { gatewayError, replyError, rawErrorResponse } from './reply.ts';
import { upstreamFailure, type LndUpstream } from './lnd-upstream.ts';
import { tunnel, isWebSocketUpgrade } from './tunnel.ts';

export interface LndProxyOptions {
  upstream: LndUpstream;
  tokens: TokenService;
  /** Largest request body forwarded (bytes). */
  maxBodyBytes: number;
  connectTimeoutMs: number;
  logger: Logger;
}

/** Upstream replies up to this size are read whole and sent with the head in one write. */
const BUFFERED_BODY_BYTES = 64 * 1024;

/** Headers that never cross into an upgraded (WebSocket) upstream request. */
const WS_DROPPED = new Set(['host', 'authorization', 'grpc-metadata-macaroon', 'cookie', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'proxy-connection', 'proxy-authorization', 'content-length']);

export class LndProxy {
  readonly #o: LndProxyOptions;
  readonly #tunnels = new Set<Duplex>();

  constructor(options: LndProxyOptions) {
    this.#o = options;
  }

  /** Verifies the token and the call; throws 401/400/403 coded errors. */
  async #authorize(token: string, method: string, url: string): Promise<{ claims: TokenClaims; target: CanonicalTarget }> {
    const claims = await this.#o.tokens.verify(token);
    const target = canonicalTarget(url);
    if (!scopeAllows(claims.scope, method, target.path)) {
      if (claims.scope !== 'admin' && scopeAllows('admin', method, target.path)) {
        throw gatewayError('NG_GW_SCOPE', 403, `A ${claims.scope} token may not call ${method} ${target.path}. Create a token with a wider scope if this wallet needs it.`, { scope: claims.scope });
      }
      throw gatewayError('NG_GW_PATH_FORBIDDEN', 403, `${method} ${target.path} is not an LND call the gateway forwards.`);
    }
    return { claims, target };
  }

  /** Handles one proxied request. Never throws: every failure becomes a coded reply. */
  async handle(req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
    const method = req.method ?? 'GET';
    let claims: TokenClaims;
    let target: CanonicalTarget;
    try {
      ({ claims, target } = await this.#authorize(token, method, req.url ?? ''));
    } catch (err) {
      this.#fail(req, res, err);
      return;
    }
    const length = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (length !== undefined && Number(length) > this.#o.maxBodyBytes) {
      res.setHeader('connection', 'close');
      this.#fail(req, res, gatewayError('NG_GW_BODY_TOO_LARGE', 413, `The request body is larger than ${this.#o.maxBodyBytes} bytes.`));
      return;
    }
    const hasBody = chunked || (length !== undefined && length !== '0');
    let headers: Record<string, string | string[]>;
    try {
      headers = upstreamRequestHeaders(req.headers, true);
      headers['grpc-metadata-macaroon'] = this.#o.upstream.macaroonHex(claims.scope);
    } catch (err) {
      this.#fail(req, res, err);
      return;
    }
    try {
      // No AbortSignal: creating one per request cost more CPU than the rest of the hot path. A
      // client that leaves mid-stream destroys the upstream body below, which frees its connection.
      const upstream = await this.#o.upstream.dispatcher().request({
        origin: this.#o.upstream.origin,
        method,
        path: target.path + target.search,
        headers,
        body: hasBody ? Readable.from(limitBody(req, this.#o.maxBodyBytes), { objectMode: false }) : undefined,
      });
      const body = upstream.body;
      // Every path below may destroy `body` (client gone); its 'error' must never go unheard.
      body.on('error', (err: Error & { code?: string }) => {
        if (err.code !== 'UND_ERR_ABORTED') this.#o.logger.warn({ code: 'NG_GW_UPSTREAM_UNREACHABLE', method, path: target.path }, 'LND response stream broke');
        res.destroy();
      });
      if (res.destroyed) {
        body.destroy();
        return;
      }
      const length = upstream.headers['content-length'];
      res.writeHead(upstream.statusCode, clientResponseHeaders(upstream.headers));
      if (typeof length === 'string' && Number(length) <= BUFFERED_BODY_BYTES) {
        // Small replies (nearly all LND calls) go out in one write with the head: one TLS record.
        readAll(body).then(
          (buf) => res.end(buf),
          () => res.destroy(), // already logged by the 'error' listener above
        );
        return;
      }
      // A stream (no length) may stay silent for long: let the client see the headers now.
      if (length === undefined) res.flushHeaders();
      res.once('close', () => {
        if (!res.writableEnded) body.destroy(); // the client left: stop the upstream stream
      });
      body.pipe(res);
    } catch (err) {
      if (res.destroyed) return; // the client left; nothing to answer
      const failure = isNodegateError(err) ? err : upstreamFailure(err, 'LND');
      if (failure.code === 'NG_GW_BODY_TOO_LARGE') res.setHeader('connection', 'close');
      this.#fail(req, res, failure);
    }
  }

  #fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const e = isNodegateError(err) ? err : new NodegateError('NG_INTERNAL', 'The gateway failed on this request.', { status: 500 });
    const level = (e.status ?? 500) >= 500 ? 'warn' : 'info';
    this.#o.logger[level]({ code: e.code, status: e.status, method: req.method, path: pathOnly(req.url) }, 'lnd request refused');
    replyError(res, e);
  }

  /** Passes a WebSocket upgrade through to LND with the macaroon injected. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, token: string): void {
    socket.on('error', () => socket.destroy());
    if (!isWebSocketUpgrade(req.headers.upgrade) || req.method !== 'GET') {
      socket.end(rawErrorResponse(gatewayError('NG_GW_BAD_REQUEST', 400, 'Only WebSocket upgrades (GET, Upgrade: websocket) pass through.')));
      return;
    }
    this.#authorize(token, 'GET', req.url ?? '').then(
      ({ claims, target }) => this.#tunnel(req, socket, head, target, this.#o.upstream.macaroonHex(claims.scope)),
      (err: unknown) => {
        const e = isNodegateError(err) ? err : new NodegateError('NG_INTERNAL', 'The gateway failed on this request.', { status: 500 });
        this.#o.logger.info({ code: e.code, path: pathOnly(req.url) }, 'lnd websocket refused');
        socket.end(rawErrorResponse(e));
      },
    );
  }

  #tunnel(req: IncomingMessage, client: Duplex, head: Buffer, target: CanonicalTarget, macaroonHex: string): void {
    const origin = new URL(this.#o.upstream.origin);
    const pem = this.#o.upstream.certPem();
    const fingerprint = new X509Certificate(pem).fingerprint256;
    const upstream: TLSSocket = tlsConnect({
      host: origin.hostname.replace(/^\[|\]$/g, ''),
      port: Number(origin.port || 443),
      ca: pem,
      rejectUnauthorized: true,
      checkServerIdentity: (_h, cert) => (cert.fingerprint256 === fingerprint ? undefined : Object.assign(new Error('LND presented a certificate other than its tls.cert'), { code: 'ERR_TLS_PINNED_CERT_MISMATCH' })),
    });
    const connectTimer = setTimeout(() => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })), this.#o.connectTimeoutMs);
    upstream.once('secureConnect', () => clearTimeout(connectTimer));
    const lines = [`GET ${target.path}${target.search} HTTP/1.1`, `host: ${origin.host}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!;
      if (WS_DROPPED.has(name.toLowerCase()) || name.toLowerCase().startsWith('proxy-')) continue;
      lines.push(`${name}: ${req.rawHeaders[i + 1]!}`);
    }
    lines.push(`grpc-metadata-macaroon: ${macaroonHex}`);
    tunnel({
      client,
      upstream,
      requestHead: lines.join('\r\n'),
      head,
      readyEvent: 'secureConnect',
      open: this.#tunnels,
      onConnectError: (err) => {
        clearTimeout(connectTimer);
        const e = upstreamFailure(err, 'LND');
        this.#o.logger.warn({ code: e.code, path: target.path }, 'lnd websocket upstream failed');
        this.#tunnels.delete(client);
        this.#tunnels.delete(upstream);
        client.end(rawErrorResponse(e));
        upstream.destroy();
      },
    });
  }

  /** Open WebSocket tunnels (for graceful stop and tests). */
  openTunnels(): number {
    return Math.ceil(this.#tunnels.size / 2);
  }

  /** Closes every WebSocket tunnel (graceful stop: long-lived streams do not finish by themselves). */
  closeTunnels(): void {
    for (const s of this.#tunnels) s.destroy();
    this.#tunnels.clear();
  }
}

function pathOnly(url: string | undefined): string {
  const u = url ?? '';
  const q = u.indexOf('?');
  return (q === -1 ? u : u.slice(0, q)).slice(0, 200);
}

function readAll(body: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    body.on('data', (c: Buffer) => chunks.push(c));
    body.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    body.once('error', reject);
  });
}

/** The request body as an async iterable that fails with 413 once it passes `max` bytes. */
async function* limitBody(req: IncomingMessage, max: number): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw gatewayError('NG_GW_BODY_TOO_LARGE', 413, `The request body is larger than ${max} bytes.`);
    yield chunk;
  }
}
