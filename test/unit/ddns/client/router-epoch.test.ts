import { describe, expect, it } from 'vitest';
import { RouterEpoch, epochValid } from '../../../../ddns/client/router-epoch.ts';

describe('RouterEpoch (RFC 6886 §3.6, RFC 6887 §8.5)', () => {
  it('an epoch that keeps pace with the clock shows no reboot; one that goes back does, once', () => {
    for (const rule of ['natpmp', 'pcp'] as const) {
      let now = 1_000_000;
      const epoch = new RouterEpoch(() => now, rule);
      epoch.observe(1000);
      expect(epoch.takeRebootSeen()).toBe(false);
      now += 16_000;
      epoch.observe(1016);
      expect(epoch.takeRebootSeen()).toBe(false);
      now += 16_000;
      epoch.observe(5); // the router restarted
      epoch.observe(5);
      expect(epoch.takeRebootSeen(), rule).toBe(true);
      expect(epoch.takeRebootSeen()).toBe(false);
    }
  });

  it('NAT-PMP: a reboot when the epoch is below the last plus 7/8 of the time elapsed, less 2 s', () => {
    expect(epochValid('natpmp', 1000, 1012, 16)).toBe(true); // 1012 + 2 = 1000 + 14
    expect(epochValid('natpmp', 1000, 1011.9, 16)).toBe(false);
    expect(epochValid('natpmp', 1000, 5000, 16)).toBe(true); // NAT-PMP does not test a fast epoch
  });

  it('PCP: back by up to one second is reordering; an epoch too slow or too fast against our clock is a restart', () => {
    expect(epochValid('pcp', 1000, 999, 0.2)).toBe(true); // reordered replies
    expect(epochValid('pcp', 1000, 998.9, 0.2)).toBe(false); // back by more than a second
    // 160 s on our clock: the router's elapsed time may be 160 ± (2 + 1/16)
    expect(epochValid('pcp', 1000, 1000 + 148, 160)).toBe(true); // 148 + 2 = 160 - 10 (just)
    expect(epochValid('pcp', 1000, 1000 + 147.9, 160)).toBe(false); // too slow: restarted and counted up again
    expect(epochValid('pcp', 1000, 1000 + 172.5, 160)).toBe(true); // 172.5 - 172.5/16 = 161.7 <= 160 + 2
    expect(epochValid('pcp', 1000, 1000 + 173, 160)).toBe(false); // too fast: 173 - 173/16 = 162.19 > 162
  });
});
