/**
 * Follows this node's addresses within seconds, also where the router offers no UPnP or NAT-PMP:
 * - every `fastIntervalMs` (default 2 s): a STUN Binding to the registry's echo (one 20-byte UDP
 *   packet each way; the answer is the address the internet sees right now) and, where the router
 *   speaks UPnP/NAT-PMP/PCP, its WAN address (one hop away); local interface addresses (LAN, IPv6);
 * - at once on a NAT-PMP/PCP address-change announcement (224.0.0.1:5350, RFC 6886 §3.2.1);
 * - every `whoamiIntervalMs` (default 5 min): the registry's whoami as the ground truth, and as the
 *   fallback where STUN is blocked.
 * A change is handed to `onChange` (the updater debounces and publishes).
 */
import { isNodegateError } from '../../core/errors.ts';
import type { PublicIpSource, LocalAddresses } from './public-ip.ts';
import type { AddressState } from './updater.ts';

/** See {@link WatcherOptions.stunRelaxEvery}. */
export const DEFAULT_STUN_RELAX_EVERY = 15;

export interface WatcherOptions {
  /** Sources that see the internet's view, cheapest first (STUN, then registry whoami). */
  stun?: PublicIpSource;
  registry?: PublicIpSource;
  /** The router's own WAN address (UPnP/NAT-PMP/PCP), when it speaks one. */
  router?: () => PublicIpSource | undefined;
  local: () => LocalAddresses;
  fastIntervalMs: number;
  /**
   * While the router itself reports a public WAN address equal to what the internet sees (no NAT
   * in front of it), its one-hop check already catches a change, so the STUN echo is asked only
   * every `stunRelaxEvery`-th tick (default 15: every 30 s at 2 s ticks). This cuts the registry's
   * load for homes with UPnP/NAT-PMP; behind a double NAT or with no router protocol, every tick.
   */
  stunRelaxEvery?: number;
  whoamiIntervalMs: number;
  publishLan: boolean;
  publishIpv6: boolean;
  onChange: (state: AddressState, reason: string) => void;
  onError?: (source: string, err: unknown) => void;
}

export class AddressWatcher {
  current: AddressState = { ipv4: null, ipv6: null, lan: null };
  /** Router WAN address last seen ('' when it reports none). */
  routerWan: string | null | undefined;
  /** The last address the internet-facing sources reported and which source. */
  lastSeen: { address: string; source: string; at: number } | undefined;
  readonly counters = { fastChecks: 0, whoamiChecks: 0, changes: 0, announcements: 0 };
  private fastTimer: NodeJS.Timeout | undefined;
  private slowTimer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = true;
  private controller = new AbortController();

  constructor(private readonly options: WatcherOptions) {}

  async start(): Promise<void> {
    this.stopped = false;
    this.controller = new AbortController();
    await this.check('start', true);
    this.fastTimer = setInterval(() => void this.check('interval', false), this.options.fastIntervalMs);
    this.slowTimer = setInterval(() => void this.check('whoami', true), this.options.whoamiIntervalMs);
    this.fastTimer.unref?.();
    this.slowTimer.unref?.();
  }

  stop(): void {
    this.stopped = true;
    this.controller.abort();
    clearInterval(this.fastTimer);
    clearInterval(this.slowTimer);
  }

  /** A NAT-PMP/PCP announcement or a local event: check now (and ask whoami if STUN is absent). */
  nudge(reason: string): void {
    this.counters.announcements++;
    void this.check(reason, !this.options.stun);
  }

  /** One check; concurrent calls share the one in flight. */
  check(reason: string, withWhoami: boolean): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.inFlight) return this.inFlight;
    this.inFlight = this.run(reason, withWhoami).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async ask(source: PublicIpSource | undefined): Promise<string | null | undefined> {
    if (!source) return undefined;
    try {
      return await source.publicIpv4({ signal: this.controller.signal });
    } catch (err) {
      if (!(isNodegateError(err, 'NG_ABORTED') && this.stopped)) this.options.onError?.(source.name, err);
      return undefined;
    }
  }

  private async run(reason: string, withWhoami: boolean): Promise<void> {
    this.counters.fastChecks++;
    const local = this.options.local();
    const router = this.options.router?.();
    const relax = this.options.stunRelaxEvery ?? DEFAULT_STUN_RELAX_EVERY;
    const routerTrusted = reason === 'interval' && this.routerWan && this.lastSeen?.address === this.routerWan;
    const askStun = !routerTrusted || this.counters.fastChecks % relax === 0;
    const [firstStun, routerAddr] = await Promise.all([askStun ? this.ask(this.options.stun) : Promise.resolve(undefined), this.ask(router)]);
    let stunAddr = firstStun;
    const routerChanged = routerAddr !== undefined && this.routerWan !== undefined && routerAddr !== this.routerWan;
    // the router's WAN address moved: ask the echo now (a fresh UDP flow, so the new NAT address)
    if (routerChanged && !askStun) stunAddr = await this.ask(this.options.stun);
    let ipv4 = stunAddr ?? undefined;
    let source = 'stun';
    if (routerAddr !== undefined) this.routerWan = routerAddr;
    if (withWhoami || routerChanged || (ipv4 === undefined && this.lastSeen === undefined)) {
      this.counters.whoamiChecks++;
      const who = await this.ask(this.options.registry);
      if (who) {
        ipv4 = who;
        source = 'registry';
      }
    }
    if (this.stopped) return;
    if (ipv4) this.lastSeen = { address: ipv4, source, at: Date.now() };
    const next: AddressState = {
      ipv4: ipv4 ?? this.current.ipv4,
      ipv6: this.options.publishIpv6 ? (local.ipv6Global[0] ?? null) : null,
      lan: this.options.publishLan ? local.lan : null,
    };
    if (next.ipv4 !== this.current.ipv4 || next.ipv6 !== this.current.ipv6 || next.lan !== this.current.lan) {
      this.current = next;
      this.counters.changes++;
      this.options.onChange(next, reason);
    }
  }
}
