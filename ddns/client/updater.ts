/**
 * Pushes this node's addresses to the registry: at once when they change, merged when they flap
 * (changes within `debounceMs` collapse; the last one wins), and never lost when the registry is
 * down — the wanted state is kept and retried with capped exponential backoff until the registry
 * accepts it. Only the latest wanted state is ever sent: a stale address is never re-sent after a
 * newer one.
 */
import type { AddressUpdateRequest } from '../protocol.ts';
import type { RegistryPort } from './registry-port.ts';
import { isNodegateError, messageOf } from '../../core/errors.ts';

/**
 * First retry delay after a failed update, ms; doubled up to {@link RETRY_MAX_MS}. Short because
 * the usual failure right after an address change is the HTTP keep-alive connection that died with
 * the old NAT mapping: a new connection succeeds at once.
 */
export const RETRY_MIN_MS = 100;
/** Longest wait between retries, ms: a registry back from an outage is used within this. */
export const RETRY_MAX_MS = 30_000;

export interface AddressState {
  ipv4: string | null;
  ipv6: string | null;
  lan: string | null;
}

export interface UpdaterOptions {
  registry: RegistryPort;
  debounceMs: number;
  /** Called after the registry accepted a state. */
  onPublished?: (state: AddressState) => void;
  onError?: (err: unknown) => void;
  retryMinMs?: number;
  retryMaxMs?: number;
}

type Key = keyof AddressState;
const KEYS: Key[] = ['ipv4', 'ipv6', 'lan'];

export class AddressUpdater {
  /** What the registry holds as far as we know (null: not yet known). */
  published: AddressState | null = null;
  private wanted: Partial<AddressState> = {};
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private retryMs: number;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  /** Ends a retry wait early (a new change, or stop). */
  private wake: (() => void) | undefined;
  readonly counters = { sent: 0, failed: 0, merged: 0 };
  lastError: unknown;

  constructor(private readonly options: UpdaterOptions) {
    this.retryMs = options.retryMinMs ?? RETRY_MIN_MS;
  }

  /** Records wanted values (fields left out are unchanged) and schedules a push. */
  set(next: Partial<AddressState>): void {
    if (this.stopped) return;
    let changed = false;
    for (const k of KEYS) {
      if (!(k in next)) continue;
      const v = next[k] ?? null;
      if (this.wanted[k] !== v) {
        this.wanted[k] = v;
        changed = true;
      }
    }
    if (!changed && !this.pending()) return;
    if (this.running) {
      // a push is under way: it re-reads the wanted state after each attempt; a new change ends a
      // retry wait at once (the registry may be back)
      if (changed) this.wake?.();
      return;
    }
    if (this.timer) {
      clearTimeout(this.timer);
      this.counters.merged++;
    }
    this.timer = setTimeout(() => this.flush(), this.options.debounceMs);
  }

  /** The fields whose wanted value the registry does not hold yet. */
  private diff(): AddressUpdateRequest {
    const out: AddressUpdateRequest = {};
    for (const k of KEYS) {
      if (!(k in this.wanted)) continue;
      const v = this.wanted[k] ?? null;
      if (!this.published || this.published[k] !== v) (out as Record<Key, string | null>)[k] = v;
    }
    return out;
  }

  pending(): boolean {
    return Object.keys(this.diff()).length > 0;
  }

  /** Resolves when the registry holds every wanted value (or the updater stopped). */
  idle(): Promise<void> {
    if (!this.pending() || this.stopped) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private flush(): void {
    this.timer = undefined;
    if (this.running || this.stopped) return;
    this.running = this.push().finally(() => {
      this.running = undefined;
    });
  }

  private async push(): Promise<void> {
    while (!this.stopped) {
      const update = this.diff();
      if (Object.keys(update).length === 0) break;
      try {
        this.counters.sent++;
        const device = await this.options.registry.updateAddress(update);
        this.published = { ipv4: device.records.ipv4, ipv6: device.records.ipv6, lan: device.records.lan };
        this.retryMs = this.options.retryMinMs ?? RETRY_MIN_MS;
        this.lastError = undefined;
        this.options.onPublished?.(this.published);
      } catch (err) {
        this.counters.failed++;
        this.lastError = err;
        this.options.onError?.(err);
        if (isNodegateError(err) && err.status !== undefined && err.status >= 400 && err.status < 500 && err.status !== 429) {
          // the registry refused these values (e.g. a special-purpose address): retrying the same
          // request cannot help; wait for the next change instead, slowly
          this.retryMs = this.options.retryMaxMs ?? RETRY_MAX_MS;
        }
        const wait = this.retryMs;
        this.retryMs = Math.min(this.retryMs * 2, this.options.retryMaxMs ?? RETRY_MAX_MS);
        await new Promise<void>((r) => {
          const done = () => {
            clearTimeout(this.timer);
            this.timer = undefined;
            this.wake = undefined;
            r();
          };
          this.wake = done;
          this.timer = setTimeout(done, wait);
        });
      }
    }
    if (!this.pending()) for (const w of this.idleWaiters.splice(0)) w();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  describeLastError(): string | undefined {
    return this.lastError === undefined ? undefined : messageOf(this.lastError);
  }
}
