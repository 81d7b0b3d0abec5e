import { describe, expect, it } from 'vitest';
import { RouterEpoch } from '../../../../ddns/client/router-epoch.ts';

describe('RouterEpoch (RFC 6886 §3.6, RFC 6887 §8.5)', () => {
  it('an epoch that keeps pace with the clock shows no reboot; one that goes back does, once', () => {
    let now = 1_000_000;
    const epoch = new RouterEpoch(() => now);
    epoch.observe(1000);
    expect(epoch.takeRebootSeen()).toBe(false);
    now += 16_000;
    epoch.observe(1012); // 1012 + 2 s is not below 1000 + 7/8 of 16 s
    expect(epoch.takeRebootSeen()).toBe(false);
    now += 16_000;
    epoch.observe(1023); // 1023 + 2 s is below 1012 + 14 s: the router restarted
    epoch.observe(1023);
    expect(epoch.takeRebootSeen()).toBe(true);
    expect(epoch.takeRebootSeen()).toBe(false);
  });
});
