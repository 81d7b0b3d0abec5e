import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../core/config.ts';
import { isNodegateError } from '../../../../core/errors.ts';
import { defaultReachabilityConfig, ReachabilityConfig, RegistryConfig } from '../../../../ddns/client/config.ts';

describe('reachability config', () => {
  it('defaults live beside the schema', () => {
    expect(defaultReachabilityConfig()).toEqual({
      enabled: true,
      internalPort: 443,
      portMapping: true,
      protocols: ['upnp', 'natpmp', 'pcp'],
      leaseS: 7200,
      mappingCheckIntervalS: 60,
      fastCheckIntervalS: 2,
      whoamiIntervalS: 300,
      probeIntervalS: 600,
      debounceMs: 300,
      publishLan: true,
      publishIpv6: true,
    });
  });

  it('unknown keys and bad values fail with NG_CONFIG_INVALID naming them', () => {
    let err: unknown;
    try {
      parseConfig(ReachabilityConfig, { internalPrt: 8443, leaseS: 5 }, 'config.json ("reachability")');
    } catch (e) {
      err = e;
    }
    expect(isNodegateError(err, 'NG_CONFIG_INVALID')).toBe(true);
    expect((err as { details: { problems: string[] } }).details.problems.join('\n')).toMatch(/^\/internalPrt:[\s\S]*^\/leaseS:/m);
    expect(() => parseConfig(RegistryConfig, { url: 'ftp://x' }, 'config.json ("registry")')).toThrow();
    expect(parseConfig(RegistryConfig, { url: 'https://registry.example.net' }, 'x')).toEqual({ url: 'https://registry.example.net' });
  });
});
