/**
 * Which addresses a device may publish. Public records (`<id>`, `*.<id>`) refuse the IANA
 * special-purpose ranges — IPv4: RFC 6890 registry
 * (https://www.iana.org/assignments/iana-ipv4-special-registry) plus multicast (RFC 5771) and the
 * reserved 240/4; IPv6: https://www.iana.org/assignments/iana-ipv6-special-registry plus multicast
 * and link-local — unless the operator allows a range with `--allow-address CIDR` (labs, tests, the
 * demo). The LAN record (`lan.<id>`) is the opposite: it must be a private address (RFC 1918 or an
 * RFC 4193 ULA), because that is what it is for; link-local is refused there since a DNS answer
 * cannot carry the interface an fe80:: address needs.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { NodegateError } from '../../core/errors.ts';

type Family = 'ipv4' | 'ipv6';

/** IPv4 special-purpose blocks that are not globally reachable (IANA), plus multicast and 240/4. */
export const SPECIAL_IPV4: readonly string[] = [
  '0.0.0.0/8', // "this network" (RFC 791)
  '10.0.0.0/8', // private (RFC 1918)
  '100.64.0.0/10', // shared address space, CGNAT (RFC 6598)
  '127.0.0.0/8', // loopback (RFC 1122)
  '169.254.0.0/16', // link-local (RFC 3927)
  '172.16.0.0/12', // private (RFC 1918)
  '192.0.0.0/24', // IETF protocol assignments (RFC 6890)
  '192.0.2.0/24', // documentation TEST-NET-1 (RFC 5737)
  '192.88.99.0/24', // deprecated 6to4 relay anycast (RFC 7526)
  '192.168.0.0/16', // private (RFC 1918)
  '198.18.0.0/15', // benchmarking (RFC 2544)
  '198.51.100.0/24', // documentation TEST-NET-2 (RFC 5737)
  '203.0.113.0/24', // documentation TEST-NET-3 (RFC 5737)
  '224.0.0.0/4', // multicast (RFC 5771)
  '240.0.0.0/4', // reserved (RFC 1112), includes limited broadcast 255.255.255.255
];

/** IPv6 special-purpose blocks that are not globally reachable (IANA), plus multicast and link-local. */
export const SPECIAL_IPV6: readonly string[] = [
  '::/128', // unspecified (RFC 4291)
  '::1/128', // loopback (RFC 4291)
  '::ffff:0:0/96', // IPv4-mapped (RFC 4291): publish the IPv4 address as A instead
  '64:ff9b:1::/48', // local-use IPv4/IPv6 translation (RFC 8215)
  '100::/64', // discard-only (RFC 6666)
  '2001::/23', // IETF protocol assignments (RFC 2928), includes Teredo 2001::/32 and benchmarking
  '2001:db8::/32', // documentation (RFC 3849)
  '2002::/16', // 6to4 (RFC 3056)
  '3fff::/20', // documentation (RFC 9637)
  '5f00::/16', // segment routing SIDs (RFC 9602)
  'fc00::/7', // unique local (RFC 4193)
  'fe80::/10', // link-local (RFC 4291)
  'ff00::/8', // multicast (RFC 4291)
];

const PRIVATE_LAN_IPV4 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];
const PRIVATE_LAN_IPV6 = ['fc00::/7'];

function blockList(cidrs: readonly string[], family: 'ipv4' | 'ipv6'): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [net, bits] = cidr.split('/') as [string, string];
    list.addSubnet(net, Number(bits), family);
  }
  return list;
}

const IPV4_MAPPED = blockList(['::ffff:0:0/96'], 'ipv6');
const SPECIAL = { ipv4: blockList(SPECIAL_IPV4, 'ipv4'), ipv6: blockList(SPECIAL_IPV6, 'ipv6') };
const LAN = { ipv4: blockList(PRIVATE_LAN_IPV4, 'ipv4'), ipv6: blockList(PRIVATE_LAN_IPV6, 'ipv6') };

/** Parses `a.b.c.d/n` or `x::/n`; TypeError (caller misuse) when malformed. */
export function parseCidr(cidr: string): { address: string; prefix: number; family: Family } {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr.trim());
  const address = m?.[1] ?? '';
  const prefix = Number(m?.[2]);
  const family: Family | undefined = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  if (!m || !family || prefix > (family === 'ipv4' ? 32 : 128)) {
    throw new TypeError(`"${cidr}" is not a CIDR block (like 203.0.113.0/24 or 2001:db8::/32)`);
  }
  return { address, prefix, family };
}

/** A set of CIDR blocks, IPv4 and IPv6. */
export class CidrSet {
  private readonly list = new BlockList();
  readonly cidrs: readonly string[];
  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const { address, prefix, family } = parseCidr(cidr);
      this.list.addSubnet(address, prefix, family);
    }
    this.cidrs = [...cidrs];
  }
  has(address: string): boolean {
    const family = familyOf(address);
    return family !== undefined && this.list.check(address, family);
  }
}

export function familyOf(address: string): Family | undefined {
  return isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
}

/** `::ffff:1.2.3.4` (how a dual-stack socket reports an IPv4 peer) as `1.2.3.4`; others unchanged. */
export function normalizeSourceAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

export function isSpecialPurpose(address: string): boolean {
  const family = familyOf(address);
  return family !== undefined && SPECIAL[family].check(address, family);
}

export class AddressPolicy {
  readonly allowed: CidrSet;
  constructor(allowAddresses: readonly string[] = []) {
    this.allowed = new CidrSet(allowAddresses);
  }

  /** Validates an address for the public record of `family`; NG_REG_ADDRESS_INVALID / _SPECIAL. */
  checkPublic(address: string, family: Family): string {
    if (familyOf(address) !== family) {
      throw new NodegateError('NG_REG_ADDRESS_INVALID', `"${address}" is not an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address; send ${family} as ${family === 'ipv4' ? 'a.b.c.d' : 'x:x::x'}, "auto" or null.`, {
        status: 400,
        details: { field: family },
      });
    }
    // IPv4-mapped IPv6 is never published (even when its IPv4 range is allowed): send it as ipv4.
    const mapped = family === 'ipv6' && IPV4_MAPPED.check(address, 'ipv6');
    if (mapped || (isSpecialPurpose(address) && !this.allowed.has(address))) {
      throw new NodegateError(
        'NG_REG_ADDRESS_SPECIAL',
        `${address} is in a special-purpose range (private, loopback, link-local, CGNAT, documentation or multicast) and cannot be a public record; send the public address (or the operator allows the range with --allow-address).`,
        { status: 422, details: { field: family, address } },
      );
    }
    return address;
  }

  /** Validates the LAN address: RFC 1918 or ULA (or an allowed range); NG_REG_ADDRESS_INVALID / _SPECIAL. */
  checkLan(address: string): string {
    const family = familyOf(address);
    if (!family) {
      throw new NodegateError('NG_REG_ADDRESS_INVALID', `"${address}" is not an IP address; send lan as the node's private address or null.`, { status: 400, details: { field: 'lan' } });
    }
    if (!LAN[family].check(address, family) && !this.allowed.has(address)) {
      throw new NodegateError('NG_REG_ADDRESS_SPECIAL', `${address} is not a private address (10/8, 172.16/12, 192.168/16 or fc00::/7); the LAN name is only for the node's address at home.`, {
        status: 422,
        details: { field: 'lan', address },
      });
    }
    return address;
  }

  /** Whether the registry may connect back to `address` (probe): public, or allowed by the operator. */
  mayConnectTo(address: string): boolean {
    return familyOf(address) !== undefined && (!isSpecialPurpose(address) || this.allowed.has(address));
  }
}
