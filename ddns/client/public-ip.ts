/**
 * The `PublicIpSource` port: where this node learns its public IPv4 address.
 *
 * Contract:
 * - `publicIpv4()` resolves to the address the source sees or reports, or `null` when the source is
 *   there but has no public address to report (a router behind another NAT).
 * - It rejects with a coded NodegateError when the source cannot be asked (NG_NET_TIMEOUT,
 *   NG_REG_UNAVAILABLE, NG_NET_MALFORMED...), bounded in time, cancellable by `signal`.
 * - Sources differ in what they mean: `registry` and `stun` see the address the internet sees
 *   (after every NAT); `upnp`/`natpmp`/`pcp` report the home router's WAN address, which differs
 *   behind a double NAT or carrier-grade NAT. The doctor compares them.
 */
import { networkInterfaces } from 'node:os';
import type { IoOptions, PortMapper } from './portmapper.ts';
import { stunBinding } from './stun.ts';
import type { RegistryPort } from './registry-port.ts';

export type PublicIpSourceName = 'registry' | 'stun' | 'upnp' | 'natpmp' | 'pcp';

export interface PublicIpSource {
  readonly name: PublicIpSourceName;
  /** True for sources that see the address after every NAT (registry, STUN). */
  readonly seesInternet: boolean;
  publicIpv4(options?: IoOptions): Promise<string | null>;
}

export function registrySource(registry: RegistryPort): PublicIpSource {
  return {
    name: 'registry',
    seesInternet: true,
    async publicIpv4(io = {}) {
      const r = await registry.whoami(io);
      return r.family === 4 ? r.address : null;
    },
  };
}

export function stunSource(host: string, port: number): PublicIpSource {
  return {
    name: 'stun',
    seesInternet: true,
    async publicIpv4(io = {}) {
      return (await stunBinding(host, port, io)).address;
    },
  };
}

/** The router's own WAN address through a port mapper (UPnP, NAT-PMP or PCP). */
export function routerSource(mapper: PortMapper): PublicIpSource {
  return { name: mapper.method, seesInternet: false, publicIpv4: (io) => mapper.externalAddress(io) };
}

export interface LocalAddresses {
  /** This node's private IPv4 address on the LAN (for lan.<name>), the one on the default route's subnet if known. */
  lan: string | null;
  /** Global unicast IPv6 addresses (2000::/3), temporary ones included. */
  ipv6Global: string[];
}

/** Reads the interface addresses (cheap: no syscall per address). `gateway` picks the LAN address on its /24. */
export function localAddresses(gateway: string | null, read: typeof networkInterfaces = networkInterfaces): LocalAddresses {
  let lan: string | null = null;
  const ipv6Global: string[] = [];
  const prefix = gateway ? gateway.split('.').slice(0, 3).join('.') + '.' : null;
  for (const list of Object.values(read())) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv4') {
        if (isPrivateIpv4(a.address) && (lan === null || (prefix && a.address.startsWith(prefix)))) lan = a.address;
      } else if (/^[23][0-9a-f]{3}:/i.test(a.address)) {
        ipv6Global.push(a.address);
      }
    }
  }
  return { lan, ipv6Global };
}

function octets(a: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (!m) return null;
  const o = m.slice(1).map(Number);
  return o.every((x) => x <= 255) ? o : null;
}

/** RFC 1918 private ranges. */
export function isPrivateIpv4(a: string): boolean {
  const o = octets(a);
  if (!o) return false;
  return o[0] === 10 || (o[0] === 172 && o[1]! >= 16 && o[1]! <= 31) || (o[0] === 192 && o[1] === 168);
}

/** RFC 6598 shared address space (carrier-grade NAT). */
export function isCgnatIpv4(a: string): boolean {
  const o = octets(a);
  return !!o && o[0] === 100 && o[1]! >= 64 && o[1]! <= 127;
}
