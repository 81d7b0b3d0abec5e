/**
 * Proxy to the node's web dashboard (ThunderHub, RTL, ... on loopback) for the owner's browser
 * session, WebSocket upgrades included. HTML pages get a `<noscript>` notice after `<body>`: the
 * dashboards need JavaScript, and a visitor who blocks it should learn that the block is on their
 * side, not a broken node.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { pipeline } from 'node:stream';
import { Pool } from 'undici';
import type { Logger } from '../../core/log.ts';
import { upstreamRequestHeaders, clientResponseHeaders } from './headers.ts';
import { replyError, rawErrorResponse, gatewayError } from './reply.ts';
import { upstreamFailure } from './lnd-upstream.ts';
import { tunnel, isWebSocketUpgrade } from './tunnel.ts';

/** HTML pages larger than this pass through untouched (no notice injected). */
const MAX_INJECT_BYTES = 2 * 1024 * 1024;
const UPSTREAM_CONNECTIONS = 16;

export const NOSCRIPT_NOTICE =
  '<noscript><div style="padding:1em;background:#fff3cd;color:#3d2f00;font:16px/1.4 sans-serif;border-bottom:2px solid #e0b000">' +
  'This dashboard needs JavaScript, and your browser is blocking it. The node is working: allow JavaScript for this site to use the dashboard. ' +
  'The node\'s own pages (<a href="/_nodegate/">/_nodegate/</a>) work without it.</div></noscript>';

export interface DashboardProxyOptions {
  url: string;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  maxBodyBytes: number;
  logger: Logger;
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
      if (type.startsWith('text/html') && up.headers['content-encoding'] === undefined && !(declared > MAX_INJECT_BYTES)) {
        const html = await up.body.text();
        const injected = injectNotice(html);
        delete out['content-length'];
        out['content-length'] = Buffer.byteLength(injected);
        res.writeHead(up.statusCode, out);
        res.end(injected);
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

/** Inserts the notice right after the `<body ...>` tag (or at the start when there is none). */
export function injectNotice(html: string): string {
  if (html.length > MAX_INJECT_BYTES) return html;
  const m = /<body[^>]*>/i.exec(html);
  if (!m) return NOSCRIPT_NOTICE + html;
  const at = m.index + m[0].length;
  return html.slice(0, at) + NOSCRIPT_NOTICE + html.slice(at);
}
