// World: a router that speaks NAT-PMP and PCP but not UPnP. The mapping is made over PCP (or
// NAT-PMP), the doctor says reachable, and a router reboot (epoch going back) brings it back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHome, eventually, type Home } from './home.ts';
import type { RunningProcess } from '../support/process.ts';

describe('router with NAT-PMP/PCP only', () => {
  let home: Home;
  let service: RunningProcess | undefined;
  beforeAll(async () => {
    home = await createHome('pmp-only');
  });
  afterAll(async () => {
    await service?.stop(5_000);
    await home?.destroy();
  });

  it('doctor: reachable through a PCP mapping', () => {
    const d = home.doctor();
    expect(d.verdicts.map((v) => v.code)).toContain('REACHABLE');
    expect(d.facts).toMatchObject({ routerWan: '198.51.100.2', mapping: { status: 'mapped', method: 'pcp', answers: { upnp: 'NG_NET_UPNP_UNAVAILABLE', natpmp: 'ok', pcp: 'ok' } } });
  });

  it('service keeps the mapping through a router reboot and publishes the address', async () => {
    service = await home.startService();
    await eventually(() => (/dnat ip to 192\.168\.1\.10:8443/.test(home.world.routerRuleset()) ? true : undefined), 10_000, 'the mapping');
    expect(await eventually(() => (home.dnsA().length ? home.dnsA() : undefined), 10_000, 'the A record')).toEqual(['198.51.100.2']);
    await new Promise((r) => setTimeout(r, 2_500)); // let the router's epoch grow past the first check
    await home.world.rebootRouter();
    await eventually(() => (/dnat ip to 192\.168\.1\.10:8443/.test(home.world.routerRuleset()) ? true : undefined), 15_000, 'the re-created mapping');
    await eventually(() => (/"recreated":1/.test(service!.output()) ? true : undefined), 5_000, 'recreated counter');
  });
});
