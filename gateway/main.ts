/**
 * The gateway daemon's composition: config -> token service, LND upstream, dashboard upstream,
 * owner pages -> HTTPS listeners (+ HTTP redirect); and its lifecycle (start, graceful stop).
 *
 * Hot path (token -> macaroon -> LND) is node:https + undici (see docs/decisions.md: the fastest
 * engine measured); fastify serves only the owner pages, behind the same listener.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../core/log.ts';
import { parseHostPort } from '../core/cli.ts';
import { NodegateError, isNodegateError } from '../core/errors.ts';
import type { GatewayConfig, Route } from './config.ts';
import { HttpsListener, RedirectListener, type TlsContextSource } from './listener.ts';
import { TokenService, tokenFromHeaders } from './auth/tokens.ts';
import { LndUpstream } from './proxy/lnd-upstream.ts';
import { LndProxy } from './proxy/lnd.ts';
import { DashboardProxy } from './proxy/dashboard.ts';
import { gatewayError, replyError, rawErrorResponse } from './proxy/reply.ts';
import { makeOwnerDeps, type OwnerDeps, type NodeStatus } from './owner-deps.ts';
import { ownerPages as ownerPagesPlugin, noscriptNoticeFor } from './ui/plugin.ts';
import { OwnerAuth } from './auth/owner.ts';
import type { OwnerNotifications } from './ui/types.ts';

export type { TlsContextSource } from './listener.ts';
export type { OwnerDeps, NodeStatus } from './owner-deps.ts';

/** Prefix of the owner pages (login, unlock, tokens, pairing), served by the ui plugin. */
export const OWNER_PREFIX = '/_nodegate';

/** How the owner pages (gateway/ui) are mounted. */
export interface OwnerPagesSetup {
  /** Default true. False serves no owner pages (and so no dashboard: nobody can log in). */
  enabled?: boolean;
  /** A shared OwnerAuth; default one opened on DATA. */
  auth?: OwnerAuth;
  /** `__Host-`/Secure cookies; default true (the gateway is HTTPS-only). */
  secureCookies?: boolean;
  now?: () => number;
}

export interface StartGatewayOptions {
  dataDir: string;
  config: GatewayConfig;
  tls: TlsContextSource;
  logger: Logger;
  /** Owner pages; default enabled with an OwnerAuth on DATA. */
  ownerPages?: OwnerPagesSetup;
  /** Fields other parts add to the owner status (onion, reachability). */
  statusExtras?: () => Partial<NodeStatus>;
  /** The served certificate PEM, for pairing while it is self-signed. */
  certPem?: () => string | undefined;
  /** The LND REST onion host, when Tor is on. */
  onionHost?: () => string | undefined;
  /** The owner page's Tor switch (gateway/node.ts provides it). */
  setTorEnabled?: (on: boolean) => Promise<void>;
  /** The notification settings page's backend (gateway/node.ts provides it). */
  notifications?: OwnerNotifications;
}

export interface RunningGateway {
  /** Bound addresses of the HTTPS listeners, in config order, and of the redirect listener. */
  addresses(): { https: { host: string; port: number; route: Route }[]; httpRedirect?: { host: string; port: number } };
  tokens: TokenService;
  lnd: LndUpstream;
  /** What the owner pages get; also handy for status. */
  deps: OwnerDeps;
  /** The owner authentication guarding the dashboard (undefined when owner pages are off). */
  ownerAuth: OwnerAuth | undefined;
  /** Graceful stop: stop accepting, finish in-flight requests (up to limits.shutdownGraceMs), close upstreams. */
  stop(): Promise<void>;
}

function isLndPath(url: string): boolean {
  return url.startsWith('/v1/') || url.startsWith('/v2/');
}

/**
 * Whether a request asks for an HTML page: `text/html` (or `text/*`) in Accept with a q above 0.
 * Browsers navigating to a page send it; API clients (wallets, curl, fetch) do not.
 */
export function acceptsHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    if (type !== 'text/html' && type !== 'text/*') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

function isOwnerPath(url: string): boolean {
  return url === OWNER_PREFIX || url.startsWith(OWNER_PREFIX + '/') || url.startsWith(OWNER_PREFIX + '?');
}

/** Starts every listener of `config`. Throws (with every started piece stopped) when one cannot bind. */
export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const { config, logger } = options;
  const limits = config.limits;
  const tokens = await TokenService.open(options.dataDir, { watch: true });
  const lnd = new LndUpstream({
    restUrl: config.lnd.restUrl,
    lndDir: config.lnd.lndDir,
    network: config.lnd.network,
    connectTimeoutMs: limits.upstreamConnectTimeoutMs,
    headersTimeoutMs: limits.upstreamHeadersTimeoutMs,
  });
  const lndProxy = new LndProxy({ upstream: lnd, tokens, maxBodyBytes: limits.maxBodyBytes, connectTimeoutMs: limits.upstreamConnectTimeoutMs, logger });
  const dashboard = config.dashboard
    ? new DashboardProxy({ url: config.dashboard.url, connectTimeoutMs: limits.upstreamConnectTimeoutMs, headersTimeoutMs: limits.upstreamHeadersTimeoutMs, maxBodyBytes: limits.maxBodyBytes, logger, notice: (req) => noscriptNoticeFor(req, `${OWNER_PREFIX}/`) })
    : undefined;
  const listeners: { listener: HttpsListener; route: Route }[] = [];
  let redirect: RedirectListener | undefined;
  const deps = makeOwnerDeps({
    tokens,
    lnd,
    config,
    tls: options.tls,
    addresses: () => listeners.map((l) => l.listener.address()),
    extras: options.statusExtras,
    certPem: options.certPem,
    onionHost: options.onionHost,
    setTorEnabled: options.setTorEnabled,
    notifications: options.notifications,
  });
  const ownerSetup = options.ownerPages ?? {};
  let ownerAuth: OwnerAuth | undefined;

  let owner: { app: FastifyInstance; handler: (req: IncomingMessage, res: ServerResponse) => void } | undefined;
  const stopAll = async () => {
    await Promise.allSettled(listeners.map((l) => l.listener.stop(0)));
    await redirect?.stop();
    await Promise.allSettled([lnd.destroy(), dashboard?.destroy(), owner?.app.close()]);
    tokens.close();
  };

  try {
    if (ownerSetup.enabled ?? true) {
      const secureCookies = ownerSetup.secureCookies ?? true;
      ownerAuth = ownerSetup.auth ?? (await OwnerAuth.open({ dataDir: options.dataDir, secureCookies, ...(ownerSetup.now ? { now: ownerSetup.now } : {}) }));
      let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
      const app = Fastify({
        logger: false,
        bodyLimit: Math.min(limits.maxBodyBytes, 64 * 1024),
        serverFactory: (h) => {
          handler = h;
          return createHttpServer(); // never listens: the gateway's listeners hand requests over
        },
      });
      await app.register(ownerPagesPlugin, { prefix: OWNER_PREFIX, dataDir: options.dataDir, deps, auth: ownerAuth, secureCookies, ...(ownerSetup.now ? { now: ownerSetup.now } : {}) });
      await app.ready();
      if (!handler) throw new NodegateError('NG_INTERNAL', 'fastify did not hand over its request handler.');
      owner = { app, handler };
    }

    const isOwner = (req: IncomingMessage) => ownerAuth?.isOwnerRequest(req) ?? false;

    const toDashboard = (req: IncomingMessage, res: ServerResponse) => {
      if (!isOwner(req)) {
        if (!owner) {
          replyError(res, gatewayError('NG_GW_NOT_FOUND', 404, 'Nothing is served here. LND REST calls need a token (Authorization: Bearer).'));
          return;
        }
        if (req.method === 'GET' || req.method === 'HEAD') {
          res.writeHead(303, { location: `${OWNER_PREFIX}/login?next=${encodeURIComponent(req.url ?? '/')}`, 'content-length': 0, 'cache-control': 'no-store' });
          res.end();
        } else replyError(res, gatewayError('NG_GW_UNAUTHENTICATED', 401, 'Log in on the owner page first.'));
        return;
      }
      if (!dashboard) {
        res.writeHead(303, { location: `${OWNER_PREFIX}/`, 'content-length': 0 });
        res.end();
        return;
      }
      void dashboard.handle(req, res);
    };

    const onRequest = (route: Route) => (req: IncomingMessage, res: ServerResponse) => {
      const url = req.url ?? '/';
      try {
        if (url.charCodeAt(0) !== 47 /* / */) {
          // absolute-form or asterisk-form targets are for proxies; this is an origin server
          replyError(res, gatewayError('NG_GW_BAD_REQUEST', 400, 'The request target must be a path starting with "/".', { problem: 'not-origin-form' }));
          return;
        }
        if (route !== 'lnd' && isOwnerPath(url)) {
          if (owner) owner.handler(req, res);
          else replyError(res, gatewayError('NG_GW_NOT_FOUND', 404, 'The owner pages are not installed in this build.'));
          return;
        }
        const token = route === 'dashboard' ? undefined : tokenFromHeaders(req.headers.authorization, req.headers['grpc-metadata-macaroon']);
        // An API client (no text/html in Accept) calling an LND path without a token gets the API's
        // 401, not a redirect to a login page it cannot use; a browser (or the logged-in owner's
        // dashboard) still goes on to toDashboard.
        const apiCallWithoutToken = route === 'auto' && token === undefined && isLndPath(url) && !acceptsHtml(req.headers.accept) && !isOwner(req);
        if (route === 'lnd' || apiCallWithoutToken || (route === 'auto' && token !== undefined && isLndPath(url))) {
          if (token === undefined) {
            replyError(res, gatewayError('NG_GW_UNAUTHENTICATED', 401, 'LND REST calls need a gateway token: Authorization: Bearer <token> or Grpc-Metadata-macaroon. Create one with `nodegate token create`.'), { 'www-authenticate': 'Bearer' });
            return;
          }
          lndProxy.handle(req, res, token);
          return;
        }
        toDashboard(req, res);
      } catch (err) {
        replyError(res, isNodegateError(err) ? err : new NodegateError('NG_INTERNAL', 'The gateway failed on this request.', { status: 500 }));
      }
    };

    const onUpgrade = (route: Route) => (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = req.url ?? '/';
      try {
        const token = route === 'dashboard' ? undefined : tokenFromHeaders(req.headers.authorization, req.headers['grpc-metadata-macaroon']);
        if (route === 'lnd' || (route === 'auto' && token !== undefined && isLndPath(url))) {
          if (token === undefined) throw gatewayError('NG_GW_UNAUTHENTICATED', 401, 'LND REST calls need a gateway token.');
          lndProxy.handleUpgrade(req, socket, head, token);
          return;
        }
        if (!isOwnerPath(url) && dashboard && isOwner(req)) {
          dashboard.handleUpgrade(req, socket, head);
          return;
        }
        throw gatewayError('NG_GW_UNAUTHENTICATED', 401, 'Log in on the owner page first.');
      } catch (err) {
        socket.on('error', () => socket.destroy());
        socket.end(rawErrorResponse(isNodegateError(err) ? err : new NodegateError('NG_INTERNAL', 'The gateway failed on this request.', { status: 500 })));
      }
    };

    for (const l of config.listeners) {
      const { host, port } = parseHostPort(l.listen, 'gateway.listeners[].listen');
      const listener = await HttpsListener.start({
        host,
        port,
        tls: options.tls,
        limits,
        hstsMaxAgeSeconds: config.hstsMaxAgeSeconds,
        onRequest: onRequest(l.route),
        onUpgrade: onUpgrade(l.route),
        logger,
      });
      listeners.push({ listener, route: l.route });
      logger.info({ listen: listener.address(), route: l.route }, 'gateway listening');
    }
    if (config.httpRedirect) {
      const { host, port } = parseHostPort(config.httpRedirect.listen, 'gateway.httpRedirect.listen');
      redirect = await RedirectListener.start({
        host,
        port,
        httpsPort: config.httpRedirect.httpsPort ?? listeners[0]!.listener.address().port,
        serverNames: config.serverNames,
        limits,
      });
    }
  } catch (err) {
    await stopAll();
    if (isNodegateError(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new NodegateError('NG_USAGE', `The gateway could not start: ${(err as Error).message}.${code === 'EADDRINUSE' ? ' Another program uses that port; change gateway.listeners in the config.' : code === 'EACCES' ? ' Ports below 1024 need privileges; use a higher port or grant CAP_NET_BIND_SERVICE.' : ''}`, { cause: err });
  }

  let stopping: Promise<void> | undefined;
  return {
    tokens,
    lnd,
    deps,
    ownerAuth,
    addresses: () => ({
      https: listeners.map((l) => ({ ...l.listener.address(), route: l.route })),
      ...(redirect ? { httpRedirect: redirect.address() } : {}),
    }),
    stop() {
      stopping ??= (async () => {
        const started = Date.now();
        // WebSocket tunnels never end by themselves: close them first, then let requests finish.
        lndProxy.closeTunnels();
        dashboard?.closeTunnels();
        await Promise.allSettled([...listeners.map((l) => l.listener.stop(limits.shutdownGraceMs)), redirect?.stop()]);
        await Promise.allSettled([lnd.close(), dashboard?.close(), owner?.app.close()]);
        tokens.close();
        logger.info({ ms: Date.now() - started }, 'gateway stopped');
      })();
      return stopping;
    },
  };
}
