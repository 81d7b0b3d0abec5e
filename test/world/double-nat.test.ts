// World: the ISP's modem router (NAT, no UPnP) with the user's router (miniupnpd 2.3.1) behind it.
// miniupnpd answers GetExternalIPAddress with an empty string and AddPortMapping with 501: the
// doctor must name double NAT. The public name still follows the modem's WAN address changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHome, type Home } from './home.ts';
import { eventually } from '../support/eventually.ts';
import type { RunningProcess } from '../../sim/process.ts';

describe('double NAT', () => {
  let home: Home;
  let service: RunningProcess | undefined;
  beforeAll(async () => {
    home = await createHome('double-nat');
  });
  afterAll(async () => {
    await service?.stop(5_000);
    await home?.destroy();
  });

  it('doctor: double NAT (empty external address, mapping refused with 501), port closed', () => {
    const d = home.doctor();
    expect(d.verdict).toBe('DOUBLE_NAT');
    expect(d.verdicts.map((v) => v.code)).toEqual(['DOUBLE_NAT', 'PORT_CLOSED', 'DNS_STALE']);
    expect(d.facts).toMatchObject({ routerWan: '', internetView: '198.51.100.2', mapping: { status: 'refused', reason: 'not-public' } });
    expect(home.world.routerRuleset()).not.toMatch(/dnat/);
  });

  it('the public name follows the modem getting a new address', async () => {
    service = await home.startService();
    expect(await eventually('the A record', 10_000, () => (home.dnsA().length ? home.dnsA() : undefined))).toEqual(['198.51.100.2']);
    home.world.changeWanAddress('198.51.100.20');
    expect(await eventually('the new A record', 15_000, () => (home.dnsA()[0] === '198.51.100.20' ? home.dnsA() : undefined))).toEqual(['198.51.100.20']);
  });
});
