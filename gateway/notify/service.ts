/**
 * Notifications of the node daemon: watches what the owner must know (LND locked, renewal failing
 * for days, the node unreachable, a new wallet, a login from a new address), and delivers each
 * event once through every configured channel.
 *
 * - Conditions (LND locked, renewal failing, unreachable) are reported once when they begin (after
 *   a hold time, so a short outage says nothing) and again only after they ended and began anew.
 * - Dedup: the same event (message.ts dedupKey) is not queued twice within `dedupWindowMs`; at most
 *   `dailyCap` events per UTC day are queued, the rest only logged.
 * - Queue: each event becomes one delivery per channel, kept in DATA/notify/state.json (written
 *   atomically, core/atomic-file.ts) before the first attempt and removed after the receiver took
 *   it, so a restart neither loses nor re-sends (a crash between the receiver's "yes" and the write
 *   can repeat that one message: at least once). Failures are retried with jittered exponential
 *   back-off (certs/renew.ts backoffDelay) until `giveUpAfterMs`; a permanent refusal (HTTP 4xx,
 *   SMTP 5xx, a refused login) drops the delivery at once. Everything is logged by code only.
 * - Nothing waits on a channel: sends run in the background, each bounded by `sendTimeoutMs`; a
 *   dead receiver delays only its own queue.
 */
import { randomUUID } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readFileIfExists, removeStaleTemporaries, writeJsonAtomic } from '../../core/atomic-file.ts';
import { NodegateError, isNodegateError, messageOf } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { backoffDelay } from '../../certs/renew.ts';
import { sourceKey } from '../auth/owner.ts';
import type { NotifyConfig } from './config.ts';
import { dedupKey, renderEvent, type NotifyEvent } from './message.ts';
import { deliveryDetails, type Channel, type ChannelName, type DeliveryReason } from './channel.ts';
import { WebhookChannel } from './webhook.ts';
import { EmailChannel } from './email.ts';

export const STATE_FILE = join('notify', 'state.json');
/** Addresses remembered as "known" for the new-address login notice (oldest forgotten first). */
export const MAX_KNOWN_ADDRESSES = 50;
/** Token ids remembered (revoked ones included, so that none is announced twice). */
export const MAX_KNOWN_TOKENS = 5000;
/** The retry timer never sleeps longer than this, so a changed clock is noticed, ms. */
const MAX_TIMER_MS = 60 * 60 * 1000;

/** What the node looks at; each source is optional (a Tor-only node has no reachability). */
export interface NotifySources {
  /** LND's wallet state as the gateway reads it (`locked`, `unlocked`, `unreachable`…). */
  lndState?: () => Promise<string>;
  /** The certificate: since when renewals fail (absent while they succeed), the last code, expiry. */
  certificate?: () => { failingSince?: string; code?: string; notAfter: string } | undefined;
  /** Why the node is unreachable from the internet (a reach PathReason or doctor VerdictCode), or null. */
  reach?: () => Promise<{ code: string; vars: Record<string, string | number> } | null>;
  /** The wallets' tokens (never the tokens themselves). */
  tokens?: () => { id: string; name: string; scope: 'readonly' | 'invoice' | 'admin'; createdAt: string; revoked: boolean }[];
}

interface Delivery {
  id: string;
  channel: ChannelName;
  event: NotifyEvent;
  /** ms since the epoch */
  createdAt: number;
  attempts: number;
  nextAttemptAt: number;
  lastError?: { code: string; reason: DeliveryReason; at: number };
}

interface State {
  v: 1;
  deliveries: Delivery[];
  /** dedup key → when it was last queued (ms) */
  sent: Record<string, number>;
  /** UTC day (YYYY-MM-DD) and events queued on it, for the daily cap. */
  day: string;
  countToday: number;
  conditions: Record<string, { since: number; notified: boolean }>;
  /** null until the first look: tokens that existed before are not announced. */
  knownTokens: string[] | null;
  knownAddresses: string[];
  lastSentAt?: number;
  lastTestAt?: number;
}

const emptyState = (): State => ({ v: 1, deliveries: [], sent: {}, day: '', countToday: 0, conditions: {}, knownTokens: null, knownAddresses: [] });

/** Why {@link NotificationService.notify} did not queue, or that it did. */
export type NotifyOutcome = 'queued' | 'muted' | 'no-channel' | 'duplicate' | 'capped';

export interface TestOutcome {
  channel: ChannelName;
  ok: boolean;
  reason?: DeliveryReason;
  status?: number;
}

export interface NotificationStatus {
  channels: ChannelName[];
  /** Deliveries waiting (for a retry, or their turn). */
  pending: number;
  /** ISO 8601 of the last delivery a receiver took. */
  lastSentAt?: string;
  /** The last failure of a waiting delivery, by code. */
  lastError?: { channel: ChannelName; code: string; reason: DeliveryReason; at: string };
}

export interface NotificationServiceOptions {
  dataDir: string;
  config: NotifyConfig;
  /** The node's name as notifications show it (its public name; "nodegate" when it has none). */
  node: string;
  sources: NotifySources;
  logger: Logger;
  /** Clock, ms since the epoch; default Date.now. */
  now?: () => number;
  /** Jitter of the retry back-off; default Math.random. */
  random?: () => number;
}

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function channelsFor(config: NotifyConfig): Channel[] {
  const channels: Channel[] = [];
  if (config.webhook) channels.push(new WebhookChannel(config.webhook, { timeoutMs: config.sendTimeoutMs }));
  if (config.email) channels.push(new EmailChannel(config.email, { timeoutMs: config.sendTimeoutMs }));
  return channels;
}

export class NotificationService {
  readonly #o: NotificationServiceOptions;
  readonly #path: string;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #log: Logger;
  #config: NotifyConfig;
  #channels: Channel[];
  #state: State;
  #saving: Promise<void> = Promise.resolve();
  #checkTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;
  #draining: Promise<void> | undefined;
  #drainAgain = false;
  readonly #stopped = new AbortController();

  private constructor(options: NotificationServiceOptions, state: State) {
    this.#o = options;
    this.#path = join(options.dataDir, STATE_FILE);
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#log = options.logger;
    this.#config = options.config;
    this.#channels = channelsFor(options.config);
    this.#state = state;
  }

  /** Loads DATA/notify/state.json (a damaged one is set aside as state.json.corrupt-<ms>). Starts nothing. */
  static async open(options: NotificationServiceOptions): Promise<NotificationService> {
    const path = join(options.dataDir, STATE_FILE);
    await removeStaleTemporaries(dirname(path)); // a write cut by a power loss leaves its temp file
    let state = emptyState();
    const raw = await readFileIfExists(path);
    if (raw !== undefined) {
      try {
        const parsed = JSON.parse(raw.toString('utf8')) as Partial<State>;
        if (parsed.v !== 1 || !Array.isArray(parsed.deliveries)) throw new Error('not a notification state file');
        state = { ...emptyState(), ...parsed };
      } catch (err) {
        const aside = `${path}.corrupt-${Date.now()}`;
        await rename(path, aside).catch(() => undefined); // best effort: the fresh state is written next
        options.logger.error({ code: 'NG_FILE_CORRUPT', aside }, `notification state unreadable (${messageOf(err)}); starting afresh, the old file is kept beside it`);
      }
    }
    const service = new NotificationService(options, state);
    const known = new Set(service.#channels.map((c) => c.name));
    state.deliveries = state.deliveries.filter((d) => known.has(d.channel));
    return service;
  }

  /** Looks at the sources every `checkIntervalMs` and delivers what is queued. */
  start(): void {
    if (this.#checkTimer !== undefined || this.#stopped.signal.aborted) return;
    const loop = () => {
      this.#checkTimer = setTimeout(() => {
        void this.check().finally(() => {
          if (!this.#stopped.signal.aborted) loop();
        });
      }, this.#config.checkIntervalMs);
      this.#checkTimer.unref();
    };
    void this.check().finally(loop);
    this.#kick();
  }

  /** Stops the timers, cuts sends in progress (they stay queued) and writes the state. */
  async stop(): Promise<void> {
    this.#stopped.abort();
    clearTimeout(this.#checkTimer);
    clearTimeout(this.#retryTimer);
    await Promise.allSettled([this.#checking, this.#draining]);
    await Promise.allSettled(this.#channels.map((c) => c.close()));
    await this.#saving;
  }

  config(): NotifyConfig {
    return this.#config;
  }

  status(): NotificationStatus {
    const waiting = this.#state.deliveries.filter((d) => d.lastError).sort((a, b) => b.lastError!.at - a.lastError!.at)[0];
    return {
      channels: this.#channels.map((c) => c.name),
      pending: this.#state.deliveries.length,
      ...(this.#state.lastSentAt !== undefined ? { lastSentAt: new Date(this.#state.lastSentAt).toISOString() } : {}),
      ...(waiting?.lastError ? { lastError: { channel: waiting.channel, code: waiting.lastError.code, reason: waiting.lastError.reason, at: new Date(waiting.lastError.at).toISOString() } } : {}),
    };
  }

  /** New settings (the settings page saved them): new channels; deliveries for a removed channel are dropped. */
  async reconfigure(config: NotifyConfig): Promise<void> {
    const old = this.#channels;
    this.#config = config;
    this.#channels = channelsFor(config);
    await Promise.allSettled(old.map((c) => c.close()));
    const known = new Set(this.#channels.map((c) => c.name));
    this.#state.deliveries = this.#state.deliveries.filter((d) => known.has(d.channel));
    this.#save();
    this.#kick();
  }

  /** Queues `event` for every channel, unless muted, a duplicate, or over the daily cap. */
  notify(event: NotifyEvent): NotifyOutcome {
    const now = this.#now();
    if (event.kind !== 'test' && this.#config.muted.includes(event.kind)) return 'muted';
    if (this.#channels.length === 0) return 'no-channel';
    const key = dedupKey(event);
    const last = this.#state.sent[key];
    if (last !== undefined && now - last < this.#config.dedupWindowMs) {
      this.#log.debug({ kind: event.kind }, 'notification deduplicated');
      return 'duplicate';
    }
    if (!this.#takeDaily(now)) {
      this.#log.warn({ kind: event.kind, dailyCap: this.#config.dailyCap }, 'notification not sent: the daily cap is reached');
      return 'capped';
    }
    this.#state.sent[key] = now;
    for (const channel of this.#channels) {
      this.#state.deliveries.push({ id: randomUUID(), channel: channel.name, event, createdAt: now, attempts: 0, nextAttemptAt: now });
    }
    this.#log.info({ kind: event.kind, channels: this.#channels.map((c) => c.name) }, 'notification queued');
    this.#save();
    this.#kick();
    return 'queued';
  }

  /** The owner logged in from `address`: a notice when its network (IPv4 address, IPv6 /64) is new. */
  ownerLoggedIn(address: string): void {
    const key = sourceKey(address);
    const known = this.#state.knownAddresses;
    const at = known.indexOf(key);
    if (at >= 0) known.splice(at, 1);
    known.push(key);
    while (known.length > MAX_KNOWN_ADDRESSES) known.shift();
    if (at < 0) this.notify({ kind: 'login-new-address', at: new Date(this.#now()).toISOString(), address: key });
    else this.#save();
  }

  /**
   * Sends a test notification through every channel now (not queued, not retried) and tells how
   * each went. NG_NOTIFY_NO_CHANNEL without channels; NG_NOTIFY_RATE_LIMITED (429,
   * `details.retryAfterSeconds` or `details.cap`) within `testMinGapMs` of the last or over the cap.
   */
  async sendTest(): Promise<TestOutcome[]> {
    const now = this.#now();
    if (this.#channels.length === 0) throw new NodegateError('NG_NOTIFY_NO_CHANNEL', 'No webhook or e-mail is set up: save one first.', { status: 409 });
    const lastTest = this.#state.lastTestAt;
    if (lastTest !== undefined && now - lastTest < this.#config.testMinGapMs) {
      throw new NodegateError('NG_NOTIFY_RATE_LIMITED', 'A test notification was just sent.', { status: 429, details: { retryAfterSeconds: Math.ceil((this.#config.testMinGapMs - (now - lastTest)) / 1000) } });
    }
    if (!this.#takeDaily(now)) throw new NodegateError('NG_NOTIFY_RATE_LIMITED', "Today's notification cap is reached.", { status: 429, details: { cap: this.#config.dailyCap } });
    this.#state.lastTestAt = now;
    this.#save();
    const message = renderEvent({ kind: 'test', at: new Date(now).toISOString() }, this.#config.language, this.#o.node);
    return Promise.all(
      this.#channels.map(async (channel): Promise<TestOutcome> => {
        try {
          await channel.send(message, this.#stopped.signal);
          this.#state.lastSentAt = this.#now();
          this.#save();
          return { channel: channel.name, ok: true };
        } catch (err) {
          const d = deliveryDetails(err);
          this.#log.warn({ channel: channel.name, code: isNodegateError(err) ? err.code : 'NG_INTERNAL', reason: d.reason, status: d.status }, 'test notification not delivered');
          return { channel: channel.name, ok: false, reason: d.reason, ...(d.status !== undefined ? { status: d.status } : {}) };
        }
      }),
    );
  }

  /** One look at every source (the timer calls it; tests may too). Never throws. */
  check(): Promise<void> {
    this.#checking ??= this.#check()
      .catch((err: unknown) => this.#log.error({ err: messageOf(err) }, 'notification check failed'))
      .finally(() => {
        this.#checking = undefined;
      });
    return this.#checking;
  }

  async #check(): Promise<void> {
    const { sources } = this.#o;
    const now = this.#now();
    const iso = (ms: number) => new Date(ms).toISOString();
    if (sources.lndState) {
      const state = await sources.lndState().catch(() => undefined);
      if (state !== undefined) this.#condition('lnd-locked', state === 'locked', now, 0, () => ({ kind: 'lnd-locked', at: iso(now) }));
    }
    if (sources.certificate) {
      const cert = sources.certificate();
      const since = cert?.failingSince !== undefined ? Date.parse(cert.failingSince) : NaN;
      this.#condition('cert-failing', cert !== undefined && !Number.isNaN(since), since, this.#config.certFailingForMs, (s) => ({
        kind: 'cert-failing',
        at: iso(now),
        since: iso(s),
        code: cert?.code ?? 'NG_CERT_ACME',
        notAfter: cert!.notAfter,
      }));
    }
    if (sources.reach) {
      const reason = await sources.reach().catch(() => null);
      this.#condition('unreachable', reason !== null, now, this.#config.unreachableForMs, (s) => ({ kind: 'unreachable', at: iso(now), since: iso(s), code: reason!.code, vars: reason!.vars }));
    }
    if (sources.tokens) {
      const tokens = sources.tokens();
      const known = this.#state.knownTokens;
      if (known !== null) {
        const seen = new Set(known);
        for (const tok of tokens) {
          if (!seen.has(tok.id) && !tok.revoked) this.notify({ kind: 'wallet-paired', at: tok.createdAt, tokenId: tok.id, name: tok.name, scope: tok.scope });
        }
      }
      const ids = tokens.map((t) => t.id);
      if (known === null || ids.length !== known.length || ids.some((id, i) => known[i] !== id)) {
        this.#state.knownTokens = ids.slice(-MAX_KNOWN_TOKENS);
        this.#save();
      }
    }
  }

  /**
   * A condition that is `active` now: reported once it has lasted `holdMs` from `since`; forgotten
   * when it ends. Without a channel it stays unreported, so setting one up later still tells.
   */
  #condition(name: string, active: boolean, since: number, holdMs: number, make: (since: number) => NotifyEvent): void {
    const conditions = this.#state.conditions;
    if (!active) {
      if (conditions[name]) {
        delete conditions[name];
        this.#save();
      }
      return;
    }
    let c = conditions[name];
    if (!c) {
      c = conditions[name] = { since, notified: false };
      this.#save();
    }
    if (c.notified || this.#now() - c.since < holdMs) return;
    const outcome = this.notify(make(c.since));
    if (outcome !== 'no-channel') {
      c.notified = true;
      this.#save();
    }
  }

  #takeDaily(now: number): boolean {
    const day = utcDay(now);
    if (this.#state.day !== day) {
      this.#state.day = day;
      this.#state.countToday = 0;
    }
    if (this.#state.countToday >= this.#config.dailyCap) return false;
    this.#state.countToday++;
    return true;
  }

  /** Writes the state after the writes before it (never two at once); a failure is logged, and the next write tries again. */
  #save(): void {
    const now = this.#now();
    for (const [key, at] of Object.entries(this.#state.sent)) if (now - at >= this.#config.dedupWindowMs) delete this.#state.sent[key];
    this.#saving = this.#saving
      .then(() => writeJsonAtomic(this.#path, this.#state, { mode: 0o600 }))
      .catch((err: unknown) => this.#log.error({ code: isNodegateError(err) ? err.code : 'NG_FILE_IO' }, 'could not write the notification state'));
  }

  /** Delivers what is due now (in the background). */
  #kick(): void {
    if (this.#stopped.signal.aborted) return;
    if (this.#draining) {
      this.#drainAgain = true;
      return;
    }
    this.#draining = this.#drain().finally(() => {
      this.#draining = undefined;
      this.#armRetry();
    });
  }

  async #drain(): Promise<void> {
    do {
      this.#drainAgain = false;
      const now = this.#now();
      const expired = this.#state.deliveries.filter((d) => now - d.createdAt > this.#config.giveUpAfterMs);
      for (const d of expired) {
        this.#log.warn({ kind: d.event.kind, channel: d.channel, attempts: d.attempts, code: d.lastError?.code }, 'notification given up: the channel kept failing');
        this.#remove(d);
      }
      const due = this.#state.deliveries.filter((d) => d.nextAttemptAt <= now);
      await Promise.all(
        this.#channels.map(async (channel) => {
          for (const d of due.filter((x) => x.channel === channel.name)) {
            if (this.#stopped.signal.aborted) return;
            await this.#attempt(d, channel);
          }
        }),
      );
    } while (this.#drainAgain && !this.#stopped.signal.aborted);
  }

  async #attempt(d: Delivery, channel: Channel): Promise<void> {
    const message = renderEvent(d.event, this.#config.language, this.#o.node);
    try {
      await channel.send(message, this.#stopped.signal);
    } catch (err) {
      if (this.#stopped.signal.aborted) return; // cut by stop(): still queued, tried after the restart
      const details = deliveryDetails(err);
      const code = isNodegateError(err) ? err.code : 'NG_INTERNAL';
      const now = this.#now();
      if (details.permanent) {
        this.#log.warn({ kind: d.event.kind, channel: channel.name, code, reason: details.reason, status: details.status }, 'notification refused by the receiver; dropped');
        this.#remove(d);
        return;
      }
      d.attempts++;
      d.nextAttemptAt = now + backoffDelay(d.attempts, this.#config.retryMinMs, this.#config.retryMaxMs, this.#random);
      d.lastError = { code, reason: details.reason, at: now };
      this.#log.warn({ kind: d.event.kind, channel: channel.name, code, reason: details.reason, status: details.status, attempts: d.attempts, retryInMs: d.nextAttemptAt - now }, 'notification not delivered; will retry');
      this.#save();
      return;
    }
    this.#state.lastSentAt = this.#now();
    this.#log.info({ kind: d.event.kind, channel: channel.name }, 'notification delivered');
    this.#remove(d);
  }

  #remove(d: Delivery): void {
    this.#state.deliveries = this.#state.deliveries.filter((x) => x.id !== d.id);
    this.#save();
  }

  #armRetry(): void {
    clearTimeout(this.#retryTimer);
    if (this.#stopped.signal.aborted || this.#state.deliveries.length === 0) return;
    const next = Math.min(...this.#state.deliveries.map((d) => d.nextAttemptAt));
    this.#retryTimer = setTimeout(() => this.#kick(), Math.min(Math.max(0, next - this.#now()), MAX_TIMER_MS));
    this.#retryTimer.unref();
  }

  /** Resolves once the deliveries due now were attempted (for tests and a clean stop). */
  async settled(): Promise<void> {
    while (this.#draining) await this.#draining;
    await this.#saving;
  }
}
