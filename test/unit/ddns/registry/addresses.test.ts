import { describe, expect, it } from 'vitest';
import { AddressPolicy, CidrSet, isSpecialPurpose, normalizeSourceAddress, parseCidr } from '../../../../ddns/registry/addresses.ts';

describe('special-purpose ranges', () => {
  it.each([
    ['0.1.2.3', true], ['10.0.0.1', true], ['100.64.0.1', true], ['100.128.0.1', false], ['127.0.0.1', true], ['169.254.9.9', true],
    ['172.16.0.1', true], ['172.32.0.1', false], ['192.0.0.8', true], ['192.0.2.1', true], ['192.88.99.1', true], ['192.168.1.1', true],
    ['198.18.0.1', true], ['198.20.0.1', false], ['198.51.100.1', true], ['203.0.113.1', true], ['224.0.0.251', true], ['239.1.1.1', true],
    ['240.0.0.1', true], ['255.255.255.255', true], ['8.8.8.8', false], ['1.1.1.1', false],
    ['::', true], ['::1', true], ['::ffff:8.8.8.8', true], ['64:ff9b:1::1', true], ['100::1', true], ['2001::1', true], ['2001:db8::1', true],
    ['2002::1', true], ['3fff::1', true], ['5f00::1', true], ['fc00::1', true], ['fd12::1', true], ['fe80::1', true], ['ff02::1', true],
    ['2a00:1450::1', false], ['2600::1', false],
  ])('%s special: %s', (address, special) => {
    expect(isSpecialPurpose(address)).toBe(special);
  });
});

describe('AddressPolicy', () => {
  const policy = new AddressPolicy(['198.51.100.0/24', 'fd00::/8']);

  it('accepts public addresses and allowed ranges, refuses the rest with NG_REG_ADDRESS_SPECIAL', () => {
    expect(policy.checkPublic('8.8.8.8', 'ipv4')).toBe('8.8.8.8');
    expect(policy.checkPublic('198.51.100.7', 'ipv4')).toBe('198.51.100.7');
    expect(policy.checkPublic('fd00::1', 'ipv6')).toBe('fd00::1');
    expect(() => policy.checkPublic('203.0.113.7', 'ipv4')).toThrow(expect.objectContaining({ code: 'NG_REG_ADDRESS_SPECIAL', status: 422 }));
  });

  it('refuses the wrong family with NG_REG_ADDRESS_INVALID', () => {
    expect(() => policy.checkPublic('8.8.8.8', 'ipv6')).toThrow(expect.objectContaining({ code: 'NG_REG_ADDRESS_INVALID', status: 400 }));
    expect(() => policy.checkPublic('nonsense', 'ipv4')).toThrow(expect.objectContaining({ code: 'NG_REG_ADDRESS_INVALID' }));
  });

  it('refuses IPv4-mapped IPv6 even when its IPv4 range is allowed', () => {
    expect(() => policy.checkPublic('::ffff:198.51.100.7', 'ipv6')).toThrow(expect.objectContaining({ code: 'NG_REG_ADDRESS_SPECIAL' }));
  });

  it('LAN: RFC 1918 and ULA only', () => {
    for (const ok of ['10.1.1.1', '172.20.0.1', '192.168.0.10', 'fd12::5']) expect(new AddressPolicy().checkLan(ok)).toBe(ok);
    for (const bad of ['8.8.8.8', '127.0.0.1', '169.254.1.1', 'fe80::1', '100.64.0.1']) {
      expect(() => new AddressPolicy().checkLan(bad)).toThrow(expect.objectContaining({ code: 'NG_REG_ADDRESS_SPECIAL' }));
    }
  });

  it('probe targets: public or allowed only', () => {
    expect(policy.mayConnectTo('8.8.8.8')).toBe(true);
    expect(policy.mayConnectTo('198.51.100.1')).toBe(true);
    expect(policy.mayConnectTo('127.0.0.1')).toBe(false);
    expect(policy.mayConnectTo('not-an-ip')).toBe(false);
  });
});

describe('CIDR parsing and source addresses', () => {
  it('parses CIDRs and refuses malformed ones with a TypeError (operator misuse)', () => {
    expect(parseCidr('203.0.113.0/24')).toEqual({ address: '203.0.113.0', prefix: 24, family: 'ipv4' });
    expect(parseCidr('2001:db8::/32')).toEqual({ address: '2001:db8::', prefix: 32, family: 'ipv6' });
    for (const bad of ['203.0.113.0', '203.0.113.0/33', '2001:db8::/129', 'x/8', '']) expect(() => parseCidr(bad)).toThrow(TypeError);
    expect(new CidrSet(['127.0.0.0/8', '::1/128']).has('::1')).toBe(true);
  });

  it('unwraps IPv4-mapped peers', () => {
    expect(normalizeSourceAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeSourceAddress('::1')).toBe('::1');
  });
});
