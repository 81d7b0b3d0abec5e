import { describe, expect, it } from 'vitest';
import { TokenBucketLimiter } from '../../../../ddns/registry/rate-limit.ts';

describe('TokenBucketLimiter', () => {
  it('allows the burst, then refills at the rate (injected clock)', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ burst: 3, perSecond: 2 }, () => now);
    expect([1, 2, 3, 4].map(() => limiter.tryTake('a'))).toEqual([true, true, true, false]);
    now += 499;
    expect(limiter.tryTake('a')).toBe(false);
    now += 1;
    expect(limiter.tryTake('a')).toBe(true);
    expect(limiter.tryTake('b')).toBe(true); // other sources have their own bucket
    expect(() => limiter.take('a')).toThrow(expect.objectContaining({ code: 'NG_REG_RATE_LIMITED', status: 429 }));
  });

  it('keeps at most maxSources buckets, forgetting the least recently seen', () => {
    const limiter = new TokenBucketLimiter({ burst: 1, perSecond: 0.001 }, () => 0, 3);
    for (const s of ['a', 'b', 'c']) limiter.tryTake(s);
    limiter.tryTake('a'); // refreshes a
    limiter.tryTake('d'); // evicts b
    expect(limiter.size).toBe(3);
    expect(limiter.tryTake('b')).toBe(true); // b forgotten: full bucket again
    expect(limiter.tryTake('a')).toBe(false);
  });
});
