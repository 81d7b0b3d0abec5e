/**
 * Keeps the DNS backend in step with the store. The store is the truth: a change is committed
 * there first, then published. Publications of one device are serialised (the DnsBackend contract)
 * and always send the device's latest stored records; a publication that fails is retried every
 * {@link REPUBLISH_INTERVAL_MS} until it succeeds, so no stored change is lost to a backend outage.
 */
import type { Logger } from '../../core/log.ts';
import { NodegateError, messageOf } from '../../core/errors.ts';
import type { DeviceRecordSet, DnsBackend } from './dns-backend.ts';

/** Longest wait for the backend to confirm one device's records, ms (RFC 2136 round trip + margin). */
export const PUBLISH_TIMEOUT_MS = 5_000;
/** How often failed publications are retried, ms. */
export const REPUBLISH_INTERVAL_MS = 2_000;
/** Most failed publications retried per round (each is one backend call). */
export const REPUBLISH_BATCH = 500;

export class Publisher {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly pending = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  /** Publications that failed and were queued for retry (a counter for tests and status). */
  failures = 0;

  constructor(
    private readonly backend: DnsBackend,
    /** The current record set of an id from the store, or undefined if it no longer exists. */
    private readonly current: (id: string) => DeviceRecordSet | undefined,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => void this.retryPending(), REPUBLISH_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * Publishes the stored records of `id`. Rejects with NG_REG_UNAVAILABLE (503, details.stored =
   * true) when the backend fails; the change stays stored and is retried in the background.
   */
  async publish(id: string): Promise<void> {
    try {
      await this.serialised(id);
      this.pending.delete(id);
    } catch (err) {
      this.failures++;
      this.pending.add(id);
      this.log.warn({ id, err: messageOf(err) }, 'DNS backend did not take the change; it is stored and will be retried');
      throw new NodegateError('NG_REG_UNAVAILABLE', 'The change is stored but the DNS server did not confirm it yet; it is retried automatically. Retrying the request is safe.', {
        status: 503,
        cause: err,
        details: { stored: true },
      });
    }
  }

  /** Ids whose latest records are not confirmed by the backend. */
  get pendingCount(): number {
    return this.pending.size;
  }

  private serialised(id: string): Promise<void> {
    const previous = this.chains.get(id) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined) // the previous call's failure belongs to its own caller
      .then(async () => {
        const set = this.current(id);
        const signal = AbortSignal.timeout(PUBLISH_TIMEOUT_MS);
        if (set) await this.backend.putDevice(set, { signal });
        else await this.backend.removeDevice(id, { signal });
      });
    this.chains.set(id, next);
    const cleanup = () => {
      if (this.chains.get(id) === next) this.chains.delete(id);
    };
    next.then(cleanup, cleanup);
    return next;
  }

  /** Retries failed publications once (also run by the timer). */
  async retryPending(): Promise<void> {
    if (this.closed || this.pending.size === 0) return;
    const batch = [...this.pending].slice(0, REPUBLISH_BATCH);
    await Promise.all(
      batch.map(async (id) => {
        try {
          await this.serialised(id);
          this.pending.delete(id);
          this.log.info({ id }, 'DNS backend took the delayed change');
        } catch (err) {
          this.log.warn({ id, err: messageOf(err) }, 'DNS backend still refuses the change; will retry');
        }
      }),
    );
  }

  /** Stops retrying and waits for publications in flight. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await Promise.allSettled([...this.chains.values()]);
  }
}
