// World: a plain NAT router with UPnP, NAT-PMP and PCP all off. The doctor says so and that the
// port is closed; the service still follows a WAN address change within seconds (the registry's
// STUN echo), without restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHome, type Home } from './home.ts';
import { eventually } from '../support/eventually.ts';
import type { RunningProcess } from '../../sim/process.ts';

describe('router with UPnP and NAT-PMP off', () => {
  let home: Home;
  let service: RunningProcess | undefined;
  beforeAll(async () => {
    home = await createHome('no-upnp');
  });
  afterAll(async () => {
    await service?.stop(5_000);
    await home?.destroy();
  });

  it('doctor: UPnP off and the port closed from outside', () => {
    const d = home.doctor();
    expect(d.verdicts.map((v) => v.code)).toEqual(['PORT_CLOSED', 'DNS_STALE', 'UPNP_OFF']);
    expect(d.facts).toMatchObject({ mapping: { status: 'unavailable', answers: { upnp: 'NG_NET_UPNP_UNAVAILABLE', natpmp: 'NG_NET_TIMEOUT', pcp: 'NG_NET_TIMEOUT' } }, internetView: '198.51.100.2', probe: { reachable: false } });
  });

  it('doctor speaks the user language, same codes', () => {
    const d = home.doctor('de');
    expect(d.verdicts.map((v) => v.code)).toEqual(['PORT_CLOSED', 'DNS_STALE', 'UPNP_OFF']);
    expect(d.verdicts[2]!.title).toBe(
      'Ihr Router bietet weder UPnP noch NAT-PMP oder PCP, der Port kann nicht automatisch geöffnet werden.',
    );
  });

  it('publishes the address and follows WAN changes through the STUN echo alone', async () => {
    service = await home.startService();
    expect(await eventually('the A record', 10_000, () => (home.dnsA().length ? home.dnsA() : undefined))).toEqual(['198.51.100.2']);
    home.world.changeWanAddress('198.51.100.9');
    expect(await eventually('the new A record', 15_000, () => (home.dnsA()[0] === '198.51.100.9' ? home.dnsA() : undefined))).toEqual(['198.51.100.9']);
    home.world.changeWanAddress('198.51.100.10');
    expect(await eventually('the second new A record', 15_000, () => (home.dnsA()[0] === '198.51.100.10' ? home.dnsA() : undefined))).toEqual(['198.51.100.10']);
    expect(home.world.routerRuleset()).not.toMatch(/dnat/);
  });
});
