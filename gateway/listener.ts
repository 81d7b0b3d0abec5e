/**
 * HTTPS listeners: TLS 1.2+ only, the certificate chosen by SNI through a {@link TlsContextSource}
 * asked at every handshake (so a renewed certificate serves the next connection without restart),
 * HSTS on every response, a Host that differs from the SNI name refused with 421 (RFC 9110
 * section 15.5.20: misdirected request), header and body limits, slow-client bounds, and a graceful
 * stop. Also the plain-HTTP listener that redirects to HTTPS (308, RFC 9110 section 15.4.9).
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createHttpServer, ServerResponse, type IncomingMessage, type Server as HttpServer, type OutgoingHttpHeaders } from 'node:http';
import type { SecureContext, TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { AddressInfo, Socket } from 'node:net';
import { isIP } from 'node:net';
import type { Logger } from '../core/log.ts';
import type { GatewayLimits } from './config.ts';
import type { TlsContextSource } from '../certs/manager.ts';
import { gatewayError, replyError, rawErrorResponse } from './proxy/reply.ts';

/**
 * Where TLS certificates come from: certs/manager.ts's port. `secureContext` is called on every
 * handshake (with the client's SNI, undefined when it sent none) and returns a cached context.
 */
export type { TlsContextSource } from '../certs/manager.ts';

/** Clients get this long to finish a TLS handshake (a stalled handshake holds a socket). */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** While stopping, idle keep-alive connections are closed on this period until none is left. */
const STOP_POLL_MS = 20;

export interface HttpsListenerOptions {
  host: string;
  port: number;
  tls: TlsContextSource;
  limits: GatewayLimits;
  hstsMaxAgeSeconds: number;
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  logger: Logger;
}

/** The host part of a Host header, lower-case, without port or trailing dot. */
export function hostOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  let host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? undefined : host.slice(1, end);
  }
  const colon = host.indexOf(':');
  if (colon !== -1) host = host.slice(0, colon);
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/** Codes for the errors node's HTTP parser reports on a connection, before any request exists. */
function clientErrorReply(code: string | undefined): string | undefined {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return rawErrorResponse(gatewayError('NG_GW_HEADERS_TOO_LARGE', 431, 'The request headers are too large.'));
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return rawErrorResponse(gatewayError('NG_GW_REQUEST_TIMEOUT', 408, 'The request took too long to arrive.'));
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined;
    default:
      // HPE_UNEXPECTED_CONTENT_LENGTH (CL with TE, duplicate CL), HPE_INVALID_*: malformed or smuggling
      return rawErrorResponse(gatewayError('NG_GW_BAD_REQUEST', 400, 'The request is malformed.', { parser: code ?? 'unknown' }));
  }
}

/**
 * The listener's response class: every response carries `Strict-Transport-Security` (unless the
 * code answering set its own). Added in writeHead (node's implicit head goes through it too), so a
 * reply whose headers come as one list, like the LND relay's, stays on node's direct path: a
 * setHeader before writeHead would send every proxied reply through node's slower header merge.
 */
function responseWithHsts(hsts: string): typeof ServerResponse {
  return class HstsResponse extends ServerResponse {
    override writeHead(statusCode: number, reason?: string | OutgoingHttpHeaders | OutgoingHttpHeaders[keyof OutgoingHttpHeaders][], headers?: OutgoingHttpHeaders | OutgoingHttpHeaders[keyof OutgoingHttpHeaders][]): this {
      const withReason = typeof reason === 'string';
      let list = withReason ? headers : reason;
      if (Array.isArray(list) && !this.hasHeader('strict-transport-security')) {
        // a copy: the caller's list may be shared between responses
        if (!hasHeaderNamed(list, 'strict-transport-security')) list = list.length > 0 && Array.isArray(list[0]) ? [...list, ['strict-transport-security', hsts]] : [...list, 'strict-transport-security', hsts];
      } else if (!this.hasHeader('strict-transport-security') && (list === undefined || list === null || (list as OutgoingHttpHeaders)['strict-transport-security'] === undefined)) {
        this.setHeader('strict-transport-security', hsts);
      }
      return withReason ? super.writeHead(statusCode, reason, list as OutgoingHttpHeaders) : super.writeHead(statusCode, list as OutgoingHttpHeaders);
    }
  } as typeof ServerResponse;
}

/** Whether a header list (flat `name, value, …` or `[name, value]` pairs) names `lowerName`. */
function hasHeaderNamed(list: unknown[], lowerName: string): boolean {
  if (list.length > 0 && Array.isArray(list[0])) return list.some((pair) => String((pair as unknown[])[0]).toLowerCase() === lowerName);
  for (let i = 0; i < list.length; i += 2) if (String(list[i]).toLowerCase() === lowerName) return true;
  return false;
}

export class HttpsListener {
  readonly #server: HttpsServer;
  readonly #o: HttpsListenerOptions;
  #stopping = false;

  private constructor(server: HttpsServer, options: HttpsListenerOptions) {
    this.#server = server;
    this.#o = options;
  }

  static async start(options: HttpsListenerOptions): Promise<HttpsListener> {
    const { limits, tls } = options;
    const server = createHttpsServer({
      minVersion: 'TLSv1.2',
      ALPNProtocols: ['http/1.1'],
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      SNICallback: (servername, cb) => {
        try {
          const context = tls.secureContext(servername);
          // Switching a handshake to another SSL_CTX costs ~25 % more CPU per full handshake
          // (measured); when the name's context is the default this connection started with, keep it.
          cb(null, context === (server as unknown as { _sharedCreds?: SecureContext })._sharedCreds ? undefined : context);
        } catch (err) {
          cb(err as Error);
        }
      },
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
      requireHostHeader: true,
      noDelay: true,
      ...(options.hstsMaxAgeSeconds > 0 ? { ServerResponse: responseWithHsts(`max-age=${options.hstsMaxAgeSeconds}`) } : {}),
    });
    const listener = new HttpsListener(server, options);
    // Clients without SNI (reached by IP address) get the handshake-time default too: node keeps
    // the default context in `_sharedCreds`, read when each TLS socket is made from a connection.
    server.prependListener('connection', () => {
      const holder = server as unknown as { _sharedCreds?: SecureContext };
      try {
        holder._sharedCreds = tls.secureContext(undefined);
      } catch (err) {
        options.logger.error({ code: 'NG_CERT_NONE', err: (err as Error).message }, 'no default certificate');
      }
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => listener.#request(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => listener.#upgrade(req, socket, head));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      const reply = clientErrorReply(err.code);
      if (reply !== undefined && socket.writable && !(socket as Socket & { _httpMessage?: unknown })._httpMessage) socket.end(reply);
      else socket.destroy();
    });
    server.on('tlsClientError', () => undefined); // a failed handshake concerns that client only
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return listener;
  }

  address(): { host: string; port: number } {
    const a = this.#server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  #misdirected(req: IncomingMessage): boolean {
    const sni = (req.socket as TLSSocket).servername;
    // RFC 6066 section 3 forbids IP literals in SNI; some clients (wrk, curl --resolve) send them anyway
    if (typeof sni !== 'string' || sni.length === 0 || isIP(sni) !== 0) return false;
    const host = hostOf(req.headers.host);
    return host !== undefined && host !== sni.toLowerCase();
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    if (this.#stopping) res.setHeader('connection', 'close');
    if (this.#misdirected(req)) {
      replyError(res, gatewayError('NG_GW_HOST_MISMATCH', 421, 'The Host header names another server than the TLS connection (SNI) was opened for.'));
      return;
    }
    this.#o.onRequest(req, res);
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#stopping) {
      socket.end(rawErrorResponse(gatewayError('NG_GW_SHUTTING_DOWN', 503, 'The gateway is stopping.')));
      return;
    }
    if (this.#misdirected(req)) {
      socket.end(rawErrorResponse(gatewayError('NG_GW_HOST_MISMATCH', 421, 'The Host header names another server than the TLS connection (SNI) was opened for.')));
      return;
    }
    this.#o.onUpgrade(req, socket, head);
  }

  /**
   * Stops accepting, lets in-flight requests finish (closing each keep-alive connection as soon as
   * it is idle), and cuts whatever is still open after `graceMs`. Resolves when every socket is gone.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const deadline = Date.now() + graceMs;
    this.#server.closeIdleConnections();
    const timer = setInterval(() => {
      if (Date.now() >= deadline) this.#server.closeAllConnections();
      else this.#server.closeIdleConnections();
    }, STOP_POLL_MS);
    try {
      await closed;
    } finally {
      clearInterval(timer);
    }
  }
}

/** The HTTP listener that sends every request to HTTPS with 308 (method and body kept). */
export class RedirectListener {
  readonly #server: HttpServer;

  private constructor(server: HttpServer) {
    this.#server = server;
  }

  /** `httpsPort` is where to send clients; `serverNames` the names a Host may carry (others get the first name). */
  static async start(options: { host: string; port: number; httpsPort: number; serverNames: string[]; limits: GatewayLimits }): Promise<RedirectListener> {
    const server = createHttpServer(
      {
        maxHeaderSize: options.limits.maxHeaderBytes,
        headersTimeout: options.limits.headersTimeoutMs,
        requestTimeout: options.limits.requestTimeoutMs,
        keepAliveTimeout: options.limits.keepAliveTimeoutMs,
        connectionsCheckingInterval: options.limits.timeoutCheckIntervalMs,
      },
      (req, res) => {
        const requested = hostOf(req.headers.host);
        // Never redirect to a name we do not serve (an open redirect); an IP literal is the node itself.
        const host = requested !== undefined && (options.serverNames.includes(requested) || isIP(requested) !== 0) ? requested : options.serverNames[0];
        if (host === undefined) {
          replyError(res, gatewayError('NG_GW_BAD_REQUEST', 400, 'Use https:// to reach this node.'));
          return;
        }
        const hostPart = isIP(host) === 6 ? `[${host}]` : host;
        const portPart = options.httpsPort === 443 ? '' : `:${options.httpsPort}`;
        const target = (req.url ?? '/').startsWith('/') ? (req.url ?? '/') : '/';
        res.writeHead(308, { location: `https://${hostPart}${portPart}${target}`, 'content-length': 0, connection: 'close' });
        res.end();
      },
    );
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      const reply = clientErrorReply(err.code);
      if (reply !== undefined && socket.writable) socket.end(reply);
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new RedirectListener(server);
  }

  address(): { host: string; port: number } {
    const a = this.#server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }
}
