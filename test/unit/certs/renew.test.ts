import { describe, it, expect } from 'vitest';
import { renewalTime, renewalDue, backoffDelay, checkClock } from '../../../certs/renew.ts';

const DAY = 24 * 3600 * 1000;
const notBefore = new Date(Date.UTC(2026, 0, 1));
const notAfter = new Date(notBefore.getTime() + 90 * DAY);

describe('renewal window', () => {
  it('renews when a third of the lifetime is left (day 60 of 90)', () => {
    expect(renewalTime({ notBefore, notAfter }, 1 / 3)).toBe(notBefore.getTime() + 60 * DAY);
    expect(renewalDue({ notBefore, notAfter }, 1 / 3, notBefore.getTime() + 59 * DAY)).toBe(false);
    expect(renewalDue({ notBefore, notAfter }, 1 / 3, notBefore.getTime() + 60 * DAY)).toBe(true);
  });

  it('uses a point inside an earlier ARI window, and ignores a later one', () => {
    const early = { start: new Date(notBefore.getTime() + 10 * DAY), end: new Date(notBefore.getTime() + 12 * DAY) };
    expect(renewalTime({ notBefore, notAfter }, 1 / 3, early, () => 0.5)).toBe(notBefore.getTime() + 11 * DAY);
    const late = { start: new Date(notBefore.getTime() + 70 * DAY), end: new Date(notBefore.getTime() + 80 * DAY) };
    expect(renewalTime({ notBefore, notAfter }, 1 / 3, late, () => 0.5)).toBe(notBefore.getTime() + 60 * DAY);
  });
});

describe('back-off', () => {
  it('doubles from the minimum up to the maximum, with full jitter and a floor of half the minimum', () => {
    expect([1, 2, 3, 4, 20].map((n) => backoffDelay(n, 1000, 6000, () => 1))).toEqual([1000, 2000, 4000, 6000, 6000]);
    expect(backoffDelay(3, 1000, 6000, () => 0)).toBe(500);
    expect(backoffDelay(3, 1000, 6000, () => 0.5)).toBe(2000);
  });

  it('waits at least as long as the CA asked (Retry-After)', () => {
    expect(backoffDelay(1, 1000, 6000, () => 1, 3_600_000)).toBe(3_600_000);
  });
});

describe('clock check', () => {
  it('accepts a certificate inside its validity', () => {
    expect(() => checkClock({ notBefore, notAfter }, notBefore.getTime() + DAY)).not.toThrow();
  });
  it('reports NG_CERT_CLOCK when our clock is before notBefore or after notAfter', () => {
    expect(() => checkClock({ notBefore, notAfter }, notBefore.getTime() - DAY)).toThrow(expect.objectContaining({ code: 'NG_CERT_CLOCK' }));
    expect(() => checkClock({ notBefore, notAfter }, notAfter.getTime() + 1)).toThrow(expect.objectContaining({ code: 'NG_CERT_CLOCK' }));
  });
});
