/**
 * The "tor" section of DATA/config.json, its defaults, and what Tor-only mode turns off.
 *
 * @example
 * { "tor": { "enabled": true, "torOnly": false, "control": "managed",
 *            "ports": [{ "virtualPort": 443, "target": "127.0.0.1:8443" },
 *                      { "virtualPort": 8080, "target": "127.0.0.1:8080" }] } }
 */
import { Type, type Static } from '@sinclair/typebox';
import { parseConfig, strictObject } from '../core/config.ts';
import { parseControlTarget } from './control.ts';

/** `HOST:PORT` or `unix:/PATH`. */
const TARGET_PATTERN = '^(unix:/\\S+|\\[[0-9a-fA-F:.]+\\]:\\d{1,5}|[A-Za-z0-9.-]+:\\d{1,5})$';

export const OnionPortSchema = strictObject({
  /** The port clients dial on the onion address (443 for the dashboard, 8080 for LND REST). */
  virtualPort: Type.Integer({ minimum: 1, maximum: 65535 }),
  /** The gateway's loopback listener that serves it. */
  target: Type.String({ pattern: TARGET_PATTERN }),
});

export const TorConfigSchema = strictObject({
  /** The single switch: publish the onion service. Default false. */
  enabled: Type.Boolean({ default: false }),
  /** Tor-only mode: nothing clearnet (see {@link torOnlyPolicy}). Default false. */
  torOnly: Type.Boolean({ default: false }),
  /** `managed`: run the system's tor with our torrc; `{ attach }`: use a running tor (cookie auth). */
  control: Type.Union([Type.Literal('managed'), strictObject({ attach: Type.String({ pattern: '^(unix:/\\S+|\\[[0-9a-fA-F:.]+\\]:\\d{1,5}|[A-Za-z0-9.-]+:\\d{1,5})$' }) })], {
    default: 'managed',
  }),
  /** Cookie path for an attached tor when PROTOCOLINFO's path is not readable as is. */
  cookieFile: Type.Optional(Type.String({ minLength: 1 })),
  /** The tor binary for `managed`; default: PATH, then /usr/sbin. */
  torPath: Type.Optional(Type.String({ minLength: 1 })),
  /** Extra torrc lines for `managed` (a private test network's DirAuthority, bridges...). */
  extraTorrc: Type.Array(Type.String({ pattern: '^[^\\r\\n]*$' }), { default: [] }),
  /** Onion virtual ports → the gateway's loopback listeners. */
  ports: Type.Array(OnionPortSchema, { default: [] }),
  /** Publish with client authorisation (only keys added by `nodegate tor client add` get in). */
  clientAuth: Type.Boolean({ default: false }),
  /** How long to wait for tor to bootstrap before reporting NG_TOR_BOOTSTRAP (ms). Default 120 s. */
  bootstrapTimeoutMs: Type.Integer({ minimum: 1000, default: 120_000 }),
});

export type TorConfig = Static<typeof TorConfigSchema>;
export type OnionPortMapping = Static<typeof OnionPortSchema>;

/** What the rest of the node must not do. Every flag true means "allowed". */
export interface NetworkPolicy {
  /** Listeners on non-loopback addresses (the gateway binds 127.0.0.1 only when false). */
  clearnetListeners: boolean;
  /** DDNS updates to the registry. */
  ddns: boolean;
  /** UPnP / NAT-PMP / PCP port mappings. */
  portMapping: boolean;
  /** Public-IP discovery (registry whoami, STUN). */
  publicIpLookup: boolean;
  /** ACME certificate issuance (needs the registry and the CA over clearnet). */
  acme: boolean;
  /** How any remaining outbound connection must go: directly, or only through tor's SOCKS port. */
  outbound: 'direct' | 'tor';
}

/**
 * The policy a tor config implies. In Tor-only mode every clearnet activity is off and outbound
 * connections (e.g. to a remote LND) must use {@link createSocksDispatcher} from tor/socks.ts.
 */
export function torOnlyPolicy(config: Pick<TorConfig, 'enabled' | 'torOnly'>): NetworkPolicy {
  const torOnly = config.torOnly;
  return {
    clearnetListeners: !torOnly,
    ddns: !torOnly,
    portMapping: !torOnly,
    publicIpLookup: !torOnly,
    acme: !torOnly,
    outbound: torOnly ? 'tor' : 'direct',
  };
}

/**
 * The "tor" section `nodegate init` writes from its flags: `--tor`, `--tor-only` (implies --tor),
 * `--tor-control HOST:PORT|unix:PATH`, and the onion ports (the gateway's loopback listeners).
 * NG_USAGE for a malformed --tor-control.
 *
 * @example torConfigFromFlags({ torOnly: true, ports: [{ virtualPort: 443, target: '127.0.0.1:8443' }] })
 */
export function torConfigFromFlags(flags: { tor?: boolean; torOnly?: boolean; torControl?: string; ports: OnionPortMapping[]; clientAuth?: boolean }): TorConfig {
  if (flags.torControl !== undefined) parseControlTarget(flags.torControl); // NG_USAGE with the syntax
  return parseConfig(
    TorConfigSchema,
    {
      enabled: Boolean(flags.tor || flags.torOnly || flags.torControl),
      torOnly: Boolean(flags.torOnly),
      control: flags.torControl ? { attach: flags.torControl } : 'managed',
      ports: flags.ports,
      clientAuth: Boolean(flags.clientAuth),
    },
    'the command line',
  );
}
