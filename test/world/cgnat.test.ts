// World: carrier-grade NAT on 100.64.0.0/10 between the ISP and the user's router; the router (an
// older-style miniupnpd build) reports its 100.64.0.2 WAN address and maps ports on it, which
// helps nothing. The doctor must name carrier-grade NAT, not call the node reachable. This router
// describes itself as an IGDv1 device (WANIPConnection:1), so the UPnP client's v1 path runs here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHome, type Home } from './home.ts';

describe('carrier-grade NAT', () => {
  let home: Home;
  beforeAll(async () => {
    home = await createHome('cgnat', { igdV1: true });
  });
  afterAll(async () => {
    await home?.destroy();
  });

  it('doctor: CGNAT with the router on 100.64.0.2 and the internet seeing the carrier address', () => {
    const d = home.doctor('fr');
    expect(d.verdict).toBe('CGNAT');
    expect(d.verdicts.map((v) => v.code)).toEqual(['CGNAT', 'PORT_CLOSED', 'DNS_STALE']);
    expect(d.facts).toMatchObject({ routerWan: '100.64.0.2', internetView: '198.51.100.2', mapping: { status: 'mapped', method: 'upnp' }, probe: { reachable: false } });
    const desc = /desc: (\S+)/.exec(home.world.exec(home.world.ns.node, 'upnpc', ['-i', '-s'], 10_000))![1]!;
    const xml = home.world.exec(home.world.ns.node, 'curl', ['-s', '--max-time', '5', desc]);
    expect(xml).toContain('urn:schemas-upnp-org:service:WANIPConnection:1');
    expect(xml).not.toContain('urn:schemas-upnp-org:service:WANIPConnection:2');
    expect(d.verdicts[0]!.title).toContain('100.64.0.2');
    expect(home.dnsA()).toEqual([]);
  });
});
