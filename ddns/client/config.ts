/**
 * The "reachability" section of DATA/config.json: port mapping, address watching and the doctor.
 * Every default lives here, units in the names. Read with
 * `loadConfigSection(ReachabilityConfig, join(DATA, 'config.json'), 'reachability', hint)`; a node
 * without the section gets `defaultReachabilityConfig()`.
 */
import { Type, type Static } from '@sinclair/typebox';
import { strictObject, parseConfig } from '../../core/config.ts';

const Port = Type.Integer({ minimum: 1, maximum: 65535 });

export const ReachabilityConfig = strictObject({
  /** Run the reachability service in the gateway daemon. */
  enabled: Type.Boolean({ default: true }),
  /** The gateway's public HTTPS port on this node: the mapping's internal port. */
  internalPort: Type.Integer({ minimum: 1, maximum: 65535, default: 443 }),
  /** Public port asked of the router; default: the same as internalPort. */
  externalPort: Type.Optional(Port),
  /** Ask the router to forward the port (UPnP IGD / NAT-PMP / PCP). */
  portMapping: Type.Boolean({ default: true }),
  /** Which protocols to try, probed together. */
  protocols: Type.Array(Type.Union([Type.Literal('upnp'), Type.Literal('natpmp'), Type.Literal('pcp')]), { default: ['upnp', 'natpmp', 'pcp'], minItems: 0, maxItems: 3 }),
  /** Mapping lease asked for, seconds (RFC 6886 §3.3 recommends 7200); renewed at half of it. */
  leaseS: Type.Integer({ minimum: 120, maximum: 604_800, default: 7200 }),
  /** How often to check that the mapping still exists (the "works, then silently stops" failure), seconds. */
  mappingCheckIntervalS: Type.Number({ minimum: 1, maximum: 3600, default: 60 }),
  /** How often to ask the router its WAN address and the registry's STUN echo our public one, seconds. */
  fastCheckIntervalS: Type.Number({ minimum: 0.5, maximum: 300, default: 2 }),
  /** How often to ask the registry's whoami (the ground truth), seconds. */
  whoamiIntervalS: Type.Number({ minimum: 10, maximum: 86_400, default: 300 }),
  /**
   * How often the service asks the registry to probe the public port from outside (the check that
   * the mapping still answers; also feeds the status page), seconds. 0 = never.
   */
  probeIntervalS: Type.Integer({ minimum: 0, maximum: 86_400, default: 600 }),
  /** Changes closer together than this are merged (the last one wins), ms. */
  debounceMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 300 }),
  /** The registry's STUN echo (ddns/registry/stun.ts); host defaults to the registry URL's host. */
  stun: Type.Optional(strictObject({ host: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })), port: Type.Integer({ minimum: 1, maximum: 65535, default: 3478 }) })),
  /** Publish this node's LAN address at lan.<name> (valid HTTPS at home without hairpin NAT). */
  publishLan: Type.Boolean({ default: true }),
  /** Publish a global IPv6 address of this node as AAAA. */
  publishIpv6: Type.Boolean({ default: true }),
  /**
   * The home router to ask for mappings and its WAN address: 'auto' = the IPv4 default route's
   * gateway; 'none' = never talk to a router (no UPnP / NAT-PMP / PCP traffic at all: the demo, a
   * node on a server, Tor-only); or the router's IPv4 address.
   */
  router: Type.Union([Type.Literal('auto'), Type.Literal('none'), Type.String({ pattern: '^\\d{1,3}(\\.\\d{1,3}){3}$' })], { default: 'auto' }),
  /** The registry's authoritative DNS server `host:port`, for the doctor's stale-answer check. */
  registryDns: Type.Optional(Type.String({ pattern: '^(\\[[0-9a-fA-F:.]+\\]|[^:\\[\\]]+):\\d{1,5}$' })),
});
export type ReachabilityConfig = Static<typeof ReachabilityConfig>;

export const STUN_DEFAULT_PORT = 3478;

export function defaultReachabilityConfig(): ReachabilityConfig {
  return parseConfig(ReachabilityConfig, {}, 'the default reachability config');
}

/**
 * The "registry" section of DATA/config.json: where this node's registry is. Written by
 * `nodegate init`; the device's own registration (id, name, update secret) is in
 * DATA/device/registration.json.
 */
export const RegistryConfig = strictObject({
  /** Base URL of the registry API, e.g. `https://registry.example.net`. */
  url: Type.String({ pattern: '^https?://', maxLength: 2048 }),
});
export type RegistryConfig = Static<typeof RegistryConfig>;
