// World: a router that speaks NAT-PMP and PCP but not UPnP. The mapping is made over PCP (or
// NAT-PMP), the doctor says reachable, and a router reboot (epoch going back) brings it back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHome, type Home } from './home.ts';
import { eventually } from '../support/eventually.ts';
import type { RunningProcess } from '../../sim/process.ts';

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
    await eventually('the mapping', 10_000, () => (/dnat ip to 192\.168\.1\.10:8443/.test(home.world.routerRuleset()) ? true : undefined));
    expect(await eventually('the A record', 10_000, () => (home.dnsA().length ? home.dnsA() : undefined))).toEqual(['198.51.100.2']);
    await new Promise((r) => setTimeout(r, 2_500)); // let the router's epoch grow past the first check
    await home.world.rebootRouter();
    await eventually('the re-created mapping', 15_000, () => (/dnat ip to 192\.168\.1\.10:8443/.test(home.world.routerRuleset()) ? true : undefined));
    await eventually('recreated counter', 5_000, () => (/"recreated":1/.test(service!.output()) ? true : undefined));
  });
});
