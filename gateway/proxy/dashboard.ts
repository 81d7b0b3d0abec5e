/**
 * Proxy to the node's web dashboard (ThunderHub, RTL, ... on loopback) for the owner's browser
 * session, WebSocket upgrades included. HTML pages get a `<noscript>` notice after `<body>`, in the
 * visitor's language: the dashboards need JavaScript, and a visitor who blocks it should learn that
 * the block is on their side, not a broken node.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { pipeline, Readable } from 'node:stream';
import { Pool } from 'undici';
import type { Logger } from '../../core/log.ts';
import { upstreamRequestHeaders, clientResponseHeaders } from './headers.ts';
import { replyError, rawErrorResponse, gatewayError } from './reply.ts';
import { upstreamFailure } from './lnd-upstream.ts';
import { tunnel, isWebSocketUpgrade } from './tunnel.ts';

/** HTML pages larger than this pass through untouched (no notice injected). */
const MAX_INJECT_BYTES = 2 * 1024 * 1024;
const UPSTREAM_CONNECTIONS = 16;

export interface DashboardProxyOptions {
  url: string;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  maxBodyBytes: number;
  logger: Logger;
  /** The `<noscript>` notice for this request, in its language (the ui's noscriptNoticeFor). */
  notice: (req: IncomingMessage) => string;
}

export class DashboardProxy {
  readonly #o: DashboardProxyOptions;
  readonly #origin: URL;
  readonly #pool: Pool;
  readonly #tunnels = new Set<Duplex>();

  constructor(options: DashboardProxyOptions) {
    this.#o = options;
    this.#origin = new URL(options.url);
    this.#pool = new Pool(this.#origin.origin, {
      connections: UPSTREAM_CONNECTIONS,
      connectTimeout: options.connectTimeoutMs,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: 0,
    });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > this.#o.maxBodyBytes) {
      res.setHeader('connection', 'close');
      replyError(res, gatewayError('NG_GW_BODY_TOO_LARGE', 413, `The request body is larger than ${this.#o.maxBodyBytes} bytes.`));
      return;
    }
    const headers = upstreamRequestHeaders(req.headers, false);
    delete headers['accept-encoding']; // loopback: plain bodies let the notice be injected
    headers.host = this.#origin.host;
    headers['x-forwarded-proto'] = 'https';
    if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableEnded) abort.abort(); // the client left before the reply ended
    });
    const hasBody = req.headers['transfer-encoding'] !== undefined || length > 0;
    try {
      const up = await this.#pool.request({
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers,
        body: hasBody ? req : undefined,
        signal: abort.signal,
      });
      const out = clientResponseHeaders(up.headers);
      const type = String(up.headers['content-type'] ?? '');
      const declared = Number(up.headers['content-length'] ?? NaN);
      const hasPage = req.method !== 'HEAD' && up.statusCode !== 204 && up.statusCode !== 304; // no body: keep the page's length as told
      if (hasPage && /^text\/html\b/i.test(type) && !/charset\s*=\s*"?utf-(16|32)/i.test(type) && up.headers['content-encoding'] === undefined && !(declared > MAX_INJECT_BYTES)) {
        // Read at most MAX_INJECT_BYTES: a page without a length that turns out longer passes
        // through as it comes instead of being held in memory whole.
        const body = up.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
        const chunks: Buffer[] = [];
        let size = 0;
        for (;;) {
          const next = await body.next();
          if (next.done) break;
          chunks.push(next.value);
          size += next.value.length;
          if (size > MAX_INJECT_BYTES) break;
        }
        if (size <= MAX_INJECT_BYTES) {
          const page = injectNotice(Buffer.concat(chunks, size), this.#o.notice(req));
          out['content-length'] = page.length;
          res.writeHead(up.statusCode, out);
          res.end(page);
          return;
        }
        res.writeHead(up.statusCode, out);
        pipeline(Readable.from(replayThenRest(chunks, body)), res, () => undefined);
        return;
      }
      res.writeHead(up.statusCode, out);
      pipeline(up.body, res, () => undefined); // a client that leaves ends the stream; nothing to report
    } catch (err) {
      if (abort.signal.aborted) return;
      const e = upstreamFailure(err, 'The dashboard');
      this.#o.logger.warn({ code: e.code, path: req.url?.slice(0, 200) }, 'dashboard request failed');
      replyError(res, e);
    }
  }

  handleUpgrade(req: IncomingMessage, client: Duplex, head: Buffer): void {
    client.on('error', () => client.destroy());
    if (!isWebSocketUpgrade(req.headers.upgrade) || req.method !== 'GET') {
      client.end(rawErrorResponse(gatewayError('NG_GW_BAD_REQUEST', 400, 'Only WebSocket upgrades (GET, Upgrade: websocket) pass through.')));
      return;
    }
    const secure = this.#origin.protocol === 'https:';
    const port = Number(this.#origin.port || (secure ? 443 : 80));
    const host = this.#origin.hostname.replace(/^\[|\]$/g, '');
    const upstream: Socket = secure ? tlsConnect({ host, port, ...(isIpLiteral(host) ? {} : { servername: host }) }) : netConnect({ host, port });
    const connectTimer = setTimeout(() => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })), this.#o.connectTimeoutMs);
    upstream.once(secure ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    const lines = [`GET ${req.url ?? '/'} HTTP/1.1`, `host: ${this.#origin.host}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!.toLowerCase();
      if (name === 'host' || name === 'keep-alive' || name === 'te' || name === 'trailer' || name === 'transfer-encoding' || name === 'content-length' || name.startsWith('proxy-')) continue;
      lines.push(`${req.rawHeaders[i]!}: ${req.rawHeaders[i + 1]!}`);
    }
    tunnel({
      client,
      upstream,
      requestHead: lines.join('\r\n'),
      head,
      readyEvent: secure ? 'secureConnect' : 'connect',
      open: this.#tunnels,
      onConnectError: (err) => {
        clearTimeout(connectTimer);
        this.#tunnels.delete(client);
        this.#tunnels.delete(upstream);
        client.end(rawErrorResponse(upstreamFailure(err, 'The dashboard')));
        upstream.destroy();
      },
    });
  }

  closeTunnels(): void {
    for (const s of this.#tunnels) s.destroy();
    this.#tunnels.clear();
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }

  async destroy(): Promise<void> {
    await this.#pool.destroy();
  }
}

function isIpLiteral(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(':');
}

/** The chunks already read, then the rest of `body`; ends (and so aborts) the body when stopped early. */
async function* replayThenRest(chunks: Buffer[], body: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  try {
    yield* chunks;
    for (;;) {
      const next = await body.next();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await body.return?.();
  }
}

/**
 * Inserts `notice` right after the `<body ...>` tag (or at the start when there is none), byte
 * for byte: the page is never decoded, and the notice's non-ASCII letters go in as character
 * references, so a page in any ASCII-compatible charset stays intact.
 */
export function injectNotice(page: Buffer, notice: string): Buffer {
  const text = page.toString('latin1'); // one char per byte: offsets are byte offsets
  const m = /<body[^>]*>/i.exec(text);
  const at = m ? m.index + m[0].length : 0;
  return Buffer.concat([page.subarray(0, at), Buffer.from(asciiHtml(notice), 'latin1'), page.subarray(at)]);
}

/** `s` with every non-ASCII character as an HTML character reference. */
function asciiHtml(s: string): string {
  return s.replace(/[\u0080-\u{10ffff}]/gu, (c) => `&#x${c.codePointAt(0)!.toString(16)};`);
}
