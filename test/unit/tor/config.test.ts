import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../core/config.ts';
import { TorConfigSchema, torConfigFromFlags, torOnlyPolicy } from '../../../tor/config.ts';

describe('tor config section', () => {
  it('fills defaults', () => {
    expect(parseConfig(TorConfigSchema, {}, 'test')).toEqual({ enabled: false, torOnly: false, control: 'managed', extraTorrc: [], ports: [], clientAuth: false, bootstrapTimeoutMs: 120_000 });
  });

  it('accepts attach targets and port mappings; rejects unknown keys and torrc line breaks', () => {
    const ok = parseConfig(TorConfigSchema, { enabled: true, control: { attach: 'unix:/run/tor/control' }, ports: [{ virtualPort: 443, target: '127.0.0.1:8443' }] }, 'test');
    expect(ok.control).toEqual({ attach: 'unix:/run/tor/control' });
    for (const bad of [{ enable: true }, { extraTorrc: ['A 1\nB 2'] }, { control: { attach: 'nowhere' } }, { ports: [{ virtualPort: 0, target: '127.0.0.1:1' }] }]) {
      expect(() => parseConfig(TorConfigSchema, bad, 'test'), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'NG_CONFIG_INVALID' }));
    }
  });

  it('Tor-only mode turns off every clearnet activity', () => {
    expect(torOnlyPolicy({ enabled: true, torOnly: true })).toEqual({ clearnetListeners: false, ddns: false, portMapping: false, publicIpLookup: false, acme: false, outbound: 'tor' });
    expect(torOnlyPolicy({ enabled: true, torOnly: false })).toEqual({ clearnetListeners: true, ddns: true, portMapping: true, publicIpLookup: true, acme: true, outbound: 'direct' });
  });

  it('builds the section nodegate init writes from --tor / --tor-only / --tor-control', () => {
    const ports = [{ virtualPort: 443, target: '127.0.0.1:8443' }];
    expect(torConfigFromFlags({ torOnly: true, ports })).toMatchObject({ enabled: true, torOnly: true, control: 'managed', ports });
    expect(torConfigFromFlags({ torControl: '127.0.0.1:9051', ports })).toMatchObject({ enabled: true, torOnly: false, control: { attach: '127.0.0.1:9051' } });
    expect(torConfigFromFlags({ ports })).toMatchObject({ enabled: false });
    expect(() => torConfigFromFlags({ torControl: 'localhost', ports })).toThrow(expect.objectContaining({ code: 'NG_USAGE' }));
  });
});
