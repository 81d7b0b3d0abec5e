// World: carrier-grade NAT on 100.64.0.0/10 between the ISP and the user's router; the router (an
// older-style miniupnpd build) reports its 100.64.0.2 WAN address and maps ports on it, which
// helps nothing. The doctor must name carrier-grade NAT, not call the node reachable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHome, type Home } from './home.ts';

describe('carrier-grade NAT', () => {
  let home: Home;
  beforeAll(async () => {
    home = await createHome('cgnat');
  });
  afterAll(async () => {
    await home?.destroy();
  });

  it('doctor: CGNAT with the router on 100.64.0.2 and the internet seeing the carrier address', () => {
    const d = home.doctor('fr');
    expect(d.verdict).toBe('CGNAT');
    expect(d.verdicts.map((v) => v.code)).toEqual(['CGNAT', 'PORT_CLOSED', 'DNS_STALE']);
    expect(d.facts).toMatchObject({ routerWan: '100.64.0.2', internetView: '198.51.100.2', mapping: { status: 'mapped' }, probe: { reachable: false } });
    expect(d.verdicts[0]!.title).toContain('100.64.0.2');
    expect(home.dnsA()).toEqual([]);
  });
});
