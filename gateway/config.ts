/**
 * The "gateway" section of DATA/config.json: listeners and their routes, the HTTP->HTTPS redirect,
 * the names this node answers to, the LND upstream, the dashboard upstream and the limits that keep
 * a slow or hostile client from holding the gateway. Every default lives here, units in the name.
 */
import { Type, type Static } from '@sinclair/typebox';
import { join } from 'node:path';
import { strictObject, parseConfig, loadConfigSection, writeConfigSection } from '../core/config.ts';
import { NodegateError } from '../core/errors.ts';

const SECOND = 1000;

/**
 * What a listener serves.
 * - `auto`: `/_nodegate/` -> owner pages; `/v1/`, `/v2/` carrying a token -> LND; the rest -> dashboard.
 * - `lnd`: LND REST only (every request needs a token).
 * - `dashboard`: owner pages + dashboard only (no LND).
 */
export const RouteSchema = Type.Union([Type.Literal('auto'), Type.Literal('dashboard'), Type.Literal('lnd')]);
export type Route = Static<typeof RouteSchema>;

export const ListenerSchema = strictObject({
  /** `HOST:PORT`, IPv6 as `[::1]:8443`. Port 0 picks a free port (tests). */
  listen: Type.String({ minLength: 3 }),
  route: RouteSchema,
});

export const NetworkSchema = Type.Union([Type.Literal('mainnet'), Type.Literal('testnet'), Type.Literal('regtest'), Type.Literal('signet')]);
export type LndNetwork = Static<typeof NetworkSchema>;

export const GatewayLimitsSchema = strictObject(
  {
    /** Total size of a request's header block; larger gets 431 NG_GW_HEADERS_TOO_LARGE. */
    maxHeaderBytes: Type.Integer({ minimum: 1024, maximum: 1024 * 1024, default: 16 * 1024 }),
    /** Request body; larger gets 413 NG_GW_BODY_TOO_LARGE. LND calls are small JSON. */
    maxBodyBytes: Type.Integer({ minimum: 1024, default: 1024 * 1024 }),
    /** Time a client has to send its complete header block (slowloris bound). */
    headersTimeoutMs: Type.Integer({ minimum: 100, default: 10 * SECOND }),
    /** Time a client has to send its complete request, body included. */
    requestTimeoutMs: Type.Integer({ minimum: 100, default: 30 * SECOND }),
    /** An idle keep-alive connection is closed after this. */
    keepAliveTimeoutMs: Type.Integer({ minimum: 100, default: 5 * SECOND }),
    /** How often node checks the two timeouts above; must be below headersTimeoutMs to bound it. */
    timeoutCheckIntervalMs: Type.Integer({ minimum: 50, default: 1 * SECOND }),
    /** TCP+TLS connect to an upstream (LND is on the same machine or LAN). */
    upstreamConnectTimeoutMs: Type.Integer({ minimum: 50, default: 5 * SECOND }),
    /** Upstream must start answering within this, else 504 NG_GW_UPSTREAM_TIMEOUT. */
    upstreamHeadersTimeoutMs: Type.Integer({ minimum: 50, default: 30 * SECOND }),
    /** Graceful stop: in-flight requests get this long before their connections are cut. */
    shutdownGraceMs: Type.Integer({ minimum: 0, default: 1500 }),
  },
  { default: {} },
);
export type GatewayLimits = Static<typeof GatewayLimitsSchema>;

export const GatewayConfigSchema = strictObject({
  listeners: Type.Array(ListenerSchema, { minItems: 1, default: [{ listen: '0.0.0.0:8443', route: 'auto' }] }),
  /** Plain-HTTP listener that answers every request with 308 to the same path on HTTPS. */
  httpRedirect: Type.Optional(
    strictObject({
      listen: Type.String({ minLength: 3 }),
      /** HTTPS port to redirect to; default the first listener's port. */
      httpsPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    }),
  ),
  /** Names this node answers to (from registration: `<id>.<zone>`, `lan.<id>.<zone>`). */
  serverNames: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  /** Strict-Transport-Security max-age in seconds; 0 sends no HSTS header. */
  hstsMaxAgeSeconds: Type.Integer({ minimum: 0, default: 180 * 24 * 3600 }),
  lnd: strictObject(
    {
      /** LND's REST listener (LND's `restlisten`). */
      restUrl: Type.String({ default: 'https://127.0.0.1:8080' }),
      /** LND's directory: `tls.cert` and `data/chain/bitcoin/<network>/*.macaroon`. */
      lndDir: Type.String({ default: '/root/.lnd' }),
      network: NetworkSchema,
    },
    { default: { network: 'mainnet' } },
  ),
  dashboard: Type.Optional(
    strictObject({
      /** The node's web dashboard (plain HTTP on loopback, e.g. ThunderHub, RTL). */
      url: Type.String(),
    }),
  ),
  limits: GatewayLimitsSchema,
});
export type GatewayConfig = Static<typeof GatewayConfigSchema>;

/** Validates a raw "gateway" section, filling defaults. NG_CONFIG_INVALID on problems. */
export function parseGatewayConfig(value: unknown, source = 'gateway config'): GatewayConfig {
  const config = parseConfig(GatewayConfigSchema, value, source);
  for (const url of [config.lnd.restUrl, config.dashboard?.url]) {
    if (url === undefined) continue;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new NodegateError('NG_CONFIG_INVALID', `${source}: "${url}" is not a URL. Write it as https://127.0.0.1:8080 (LND) or http://127.0.0.1:3000 (dashboard).`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw new NodegateError('NG_CONFIG_INVALID', `${source}: "${url}" must be an http: or https: URL.`);
    }
  }
  if (!config.lnd.restUrl.startsWith('https:')) {
    throw new NodegateError('NG_CONFIG_INVALID', `${source}: lnd.restUrl must be https: (LND's REST port always speaks TLS).`);
  }
  return config;
}

/** Path of DATA/config.json. */
export function configPath(dataDir: string): string {
  return join(dataDir, 'config.json');
}

/** Loads DATA/config.json's "gateway" section. */
export async function loadGatewayConfig(dataDir: string): Promise<GatewayConfig> {
  const raw = await loadConfigSection(Type.Unknown(), configPath(dataDir), 'gateway', 'Run `nodegate init --data DIR` first.');
  return parseGatewayConfig(raw, `${configPath(dataDir)} ("gateway")`);
}

export interface DefaultGatewayConfigInput {
  /** `HOST:PORT` of the HTTPS listener; default 0.0.0.0:8443. */
  https?: string;
  /** Names from registration. */
  serverNames?: string[];
  lndRestUrl?: string;
  lndDir?: string;
  network?: LndNetwork;
  dashboardUrl?: string;
  /** `HOST:PORT` of the HTTP->HTTPS redirect listener; none when absent. */
  httpRedirect?: string;
}

/**
 * Writes the "gateway" section of DATA/config.json (other sections are kept), 0600, atomically.
 * Called by `nodegate init`. Returns the section written, defaults filled.
 */
export async function writeDefaultGatewayConfig(dataDir: string, input: DefaultGatewayConfigInput = {}): Promise<GatewayConfig> {
  const section: Record<string, unknown> = {
    listeners: [{ listen: input.https ?? '0.0.0.0:8443', route: 'auto' }],
    serverNames: input.serverNames ?? [],
    lnd: {
      ...(input.lndRestUrl ? { restUrl: input.lndRestUrl } : {}),
      ...(input.lndDir ? { lndDir: input.lndDir } : {}),
      network: input.network ?? 'mainnet',
    },
    ...(input.dashboardUrl ? { dashboard: { url: input.dashboardUrl } } : {}),
    ...(input.httpRedirect ? { httpRedirect: { listen: input.httpRedirect } } : {}),
  };
  const config = parseGatewayConfig(section, 'the gateway config about to be written');
  await writeConfigSection(configPath(dataDir), 'gateway', config);
  return config;
}
