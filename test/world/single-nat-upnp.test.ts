// World: one NAT router with UPnP IGD, NAT-PMP and PCP (patched miniupnpd), the registry on the
// simulated internet. The doctor says reachable; the service maps the port, publishes the address,
// follows a WAN address change without restart, re-creates the mapping after a router reboot, and
// removes it on a clean stop.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHome, NODE_PORT, type Home } from './home.ts';
import { eventually } from '../support/eventually.ts';
import type { RunningProcess } from '../../sim/process.ts';

describe('single NAT with UPnP', () => {
  let home: Home;
  let service: RunningProcess | undefined;
  beforeAll(async () => {
    home = await createHome('upnp');
  });
  afterAll(async () => {
    await service?.stop(5_000);
    await home?.destroy();
  });

  it('doctor: reachable through a UPnP mapping, no hairpin, the router reports the public address', () => {
    const d = home.doctor();
    expect(d.verdicts.map((v) => v.code)).toEqual(expect.arrayContaining(['REACHABLE', 'NO_HAIRPIN']));
    expect(d.verdicts.map((v) => v.code)).not.toContain('DOUBLE_NAT');
    expect(d.verdicts.map((v) => v.code)).not.toContain('CGNAT');
    expect(d.facts).toMatchObject({ routerWan: '198.51.100.2', internetView: '198.51.100.2', probe: { reachable: true }, mapping: { status: 'mapped', method: 'upnp' } });
    // the doctor removed its own test mapping again
    expect(home.world.routerRuleset()).not.toMatch(/dnat/);
  });

  it('service: maps the port, publishes public and LAN addresses', async () => {
    service = await home.startService();
    await eventually('the mapping on the router', 10_000, () => (/dnat ip to 192\.168\.1\.10:8443/.test(home.world.routerRuleset()) ? true : undefined));
    expect(await eventually('the A record', 10_000, () => (home.dnsA().length ? home.dnsA() : undefined))).toEqual(['198.51.100.2']);
    expect(home.dnsA(home.lanName)).toEqual(['192.168.1.10']);
    // from the router's side (UPnP's own listing)
    expect(home.world.exec(home.world.ns.node, 'upnpc', ['-i', '-l'], 10_000)).toMatch(new RegExp(`TCP\\s+${NODE_PORT}->192\\.168\\.1\\.10:${NODE_PORT}`));
  });

  it('follows the ISP changing the WAN address, without restart', async () => {
    home.world.changeWanAddress('198.51.100.7');
    expect(await eventually('the new A record', 15_000, () => (home.dnsA()[0] === '198.51.100.7' ? home.dnsA() : undefined))).toEqual(['198.51.100.7']);
    expect(service!.output()).not.toMatch(/stopped/);
  });

  it('a router that reboots and forgets its mappings gets the mapping back on its own', async () => {
    await home.world.rebootRouter();
    expect(home.world.routerRuleset()).not.toMatch(/dnat/);
    await eventually('the re-created mapping', 15_000, () => (/dnat ip to 192\.168\.1\.10:8443/.test(home.world.routerRuleset()) ? true : undefined));
    await eventually('recreated counter', 5_000, () => (/"recreated":1/.test(service!.output()) ? true : undefined));
  });

  it('a firewall that loses the rule behind the UPnP daemon\'s back: the mapping is made again on its own', async () => {
    home.world.flushMappings(); // miniupnpd still lists the mapping; only the nft rules are gone
    expect(home.world.routerRuleset()).not.toMatch(/dnat/);
    await eventually('the mapping made again', 15_000, () => (/dnat ip to 192\.168\.1\.10:8443/.test(home.world.routerRuleset()) ? true : undefined));
    // made again by the periodic check or by the outside probe, whichever saw it first
    await eventually('recreated counter', 5_000, () => (/"recreated":2/.test(service!.output()) ? true : undefined));
  });

  it('removes the mapping on a clean stop', async () => {
    await service!.stop(10_000);
    service = undefined;
    expect(home.world.routerRuleset()).not.toMatch(/dnat/);
  });
});
