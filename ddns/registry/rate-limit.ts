/**
 * Per-source rate limits: a token bucket per client address, in memory. The map is bounded: at
 * {@link MAX_TRACKED_SOURCES} the least recently seen source is forgotten (a forgotten source starts
 * again with a full bucket, which errs towards serving).
 */
import { NodegateError } from '../../core/errors.ts';

export const MAX_TRACKED_SOURCES = 50_000;

export interface BucketSpec {
  /** Requests allowed at once. */
  burst: number;
  /** Tokens refilled per second. */
  perSecond: number;
}

/** Defaults: registration is rare (a device registers once), updates frequent but small. */
export const DEFAULT_RATE_LIMITS = {
  /** nonce + register + acme-dns register, per source address */
  register: { burst: 20, perSecond: 0.2 } satisfies BucketSpec,
  /** every other API call, per source address */
  api: { burst: 120, perSecond: 20 } satisfies BucketSpec,
};
export type RateLimits = { register: BucketSpec; api: BucketSpec };

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly spec: BucketSpec,
    private readonly now: () => number,
    private readonly maxSources = MAX_TRACKED_SOURCES,
  ) {}

  /** Takes one token for `source`; false when the bucket is empty. */
  tryTake(source: string): boolean {
    const now = this.now();
    let bucket = this.buckets.get(source);
    if (bucket) {
      this.buckets.delete(source); // re-insert: Map order = least recently seen first
      bucket.tokens = Math.min(this.spec.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.spec.perSecond);
      bucket.at = now;
    } else {
      if (this.buckets.size >= this.maxSources) this.buckets.delete(this.buckets.keys().next().value as string);
      bucket = { tokens: this.spec.burst, at: now };
    }
    this.buckets.set(source, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Like tryTake, but throws NG_REG_RATE_LIMITED (429) with a retry hint. */
  take(source: string): void {
    if (!this.tryTake(source)) {
      const retryAfterS = Math.ceil(1 / this.spec.perSecond);
      throw new NodegateError('NG_REG_RATE_LIMITED', `Too many requests from ${source}; retry in ${retryAfterS} s.`, { status: 429, details: { retryAfterS } });
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}
