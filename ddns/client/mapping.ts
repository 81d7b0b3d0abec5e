/**
 * Keeps one port mapping alive on the home router through whichever `PortMapper` answers:
 * finite leases renewed at half their life; a permanent lease only where the router demands one
 * (UPnP 725); a periodic check that the router still holds the mapping (routers that "work, then
 * silently stop", reboot or flush), re-created when it is gone; removed on a clean stop.
 */
import { NodegateError, isNodegateError, messageOf } from '../../core/errors.ts';
import type { MappingMethod, MappingRequest, PortMapper, PortMapping, ProbeResult } from './portmapper.ts';

/** After a failed attempt (no mapper, refused), try again this often, ms. */
export const MAPPING_RETRY_MS = 60_000;

export type MappingStatus =
  /** The router holds the mapping. */
  | 'mapped'
  /** The router speaks a protocol but refused (details in `reason`). */
  | 'refused'
  /** No UPnP, NAT-PMP or PCP answered. */
  | 'unavailable'
  /** Not started yet / switched off in the config. */
  | 'off';

export interface MappingState {
  status: MappingStatus;
  method: MappingMethod | null;
  mapping: PortMapping | null;
  /** Refusal reason: 'not-public' (double NAT), 'conflict', a protocol result name... */
  reason: string | null;
  /** What each protocol answered at the last probe. */
  answers: Record<MappingMethod, string> | null;
  /** Router WAN address as reported at the last probe ('' = none reported). */
  routerWan: string | null;
  /** How often the mapping was found gone and made again. */
  recreated: number;
  renewed: number;
  checks: number;
}

export interface KeeperOptions {
  request: MappingRequest;
  /** Probes the protocols (portmapper.ts probePortMappers bound to this LAN). */
  probe: (signal: AbortSignal) => Promise<Omit<ProbeResult, 'gateway'>>;
  checkIntervalMs: number;
  retryMs?: number;
  onChange?: (state: MappingState) => void;
  onError?: (err: unknown) => void;
  now?: () => number;
}

export class MappingKeeper {
  state: MappingState = { status: 'off', method: null, mapping: null, reason: null, answers: null, routerWan: null, recreated: 0, renewed: 0, checks: 0 };
  private mapper: PortMapper | undefined;
  private mappers: PortMapper[] = [];
  private checkTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private controller = new AbortController();
  private busy: Promise<void> | undefined;
  private stopped = false;
  private hadMapping = false;
  private readonly now: () => number;

  constructor(private readonly options: KeeperOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The mapper in use (for the watcher's router WAN checks). */
  get activeMapper(): PortMapper | undefined {
    return this.mapper ?? this.mappers[0];
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.controller = new AbortController();
    await this.establish();
    this.checkTimer = setInterval(() => void this.serial(() => this.verify()), this.options.checkIntervalMs);
    this.checkTimer.unref?.();
  }

  private serial(work: () => Promise<void>): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const run = (this.busy ?? Promise.resolve()).then(work).catch((err: unknown) => this.options.onError?.(err));
    this.busy = run;
    return run;
  }

  private set(patch: Partial<MappingState>): void {
    this.state = { ...this.state, ...patch };
    this.options.onChange?.(this.state);
  }

  /** Probes and maps through the first protocol that grants the mapping. */
  private async establish(): Promise<void> {
    const signal = this.controller.signal;
    const probe = await this.options.probe(signal);
    this.mappers = probe.mappers;
    let routerWan: string | null = null;
    if (probe.mappers.length === 0) {
      this.mapper = undefined;
      this.set({ status: 'unavailable', method: null, mapping: null, reason: null, answers: probe.answers, routerWan: null });
      return;
    }
    let lastRefusal: NodegateError | undefined;
    for (const m of probe.mappers) {
      try {
        const mapping = await m.map({ ...this.options.request }, { signal });
        this.mapper = m;
        routerWan = mapping.externalAddress ?? '';
        // a mapping made again after one was lost (router reboot, flush, expiry) counts as re-created
        const recreated = this.hadMapping ? this.state.recreated + 1 : this.state.recreated;
        this.hadMapping = true;
        this.set({ status: 'mapped', method: m.method, mapping, reason: null, answers: probe.answers, routerWan, recreated });
        this.scheduleRenew(mapping);
        return;
      } catch (err) {
        // keep the most telling refusal: "not public" (double NAT) explains every other one
        if (isNodegateError(err) && lastRefusal?.details?.reason !== 'not-public') lastRefusal = err;
        this.options.onError?.(err);
      }
    }
    this.mapper = undefined;
    const reason = typeof lastRefusal?.details?.reason === 'string' ? lastRefusal.details.reason : lastRefusal ? lastRefusal.code : 'unknown';
    for (const m of probe.mappers) {
      try {
        routerWan = (await m.externalAddress({ signal })) ?? '';
        break;
      } catch {
        // the refusal above says enough
      }
    }
    this.set({ status: 'refused', method: null, mapping: null, reason, answers: probe.answers, routerWan });
  }

  private scheduleRenew(mapping: PortMapping): void {
    clearTimeout(this.renewTimer);
    if (mapping.lifetimeS === 0) return; // permanent: only the periodic check keeps watch
    const inMs = Math.max(1_000, (mapping.lifetimeS * 1000) / 2);
    this.renewTimer = setTimeout(
      () =>
        void this.serial(async () => {
          const m = this.mapper;
          if (!m || !this.state.mapping) return;
          // keep the public port the router granted (it may have picked another one)
          const renewed = await m.map({ ...this.options.request, externalPort: this.state.mapping.externalPort }, { signal: this.controller.signal });
          this.set({ mapping: renewed, renewed: this.state.renewed + 1 });
          this.scheduleRenew(renewed);
        }),
      inMs,
    );
    this.renewTimer.unref?.();
  }

  /** The periodic check: is the mapping still there? If not (or never made), make it again. */
  private async verify(): Promise<void> {
    this.set({ checks: this.state.checks + 1 });
    const m = this.mapper;
    const mapping = this.state.mapping;
    if (!m || !mapping) {
      await this.establish();
      return;
    }
    let present: boolean;
    try {
      present = await m.check(mapping, { signal: this.controller.signal });
    } catch (err) {
      // the router did not answer: it may be rebooting, or its service moved; probe afresh
      this.options.onError?.(err);
      await this.establish();
      return;
    }
    if (!present) await this.establish();
  }

  /**
   * The mapping exists on the router but does not answer from outside (the registry's probe): the
   * router "works, then silently stops" (its firewall lost the rule behind its UPnP daemon's back).
   * Remove and make it again.
   */
  recreate(): Promise<void> {
    return this.serial(async () => {
      const m = this.mapper;
      const mapping = this.state.mapping;
      if (m && mapping) {
        try {
          await m.unmap(mapping, { signal: this.controller.signal });
        } catch (err) {
          this.options.onError?.(err); // best effort: the add below is what matters
        }
      }
      await this.establish();
    });
  }

  /** Checks at once (tests, the doctor, a NAT-PMP announcement). */
  checkNow(): Promise<void> {
    return this.serial(() => this.verify());
  }

  /** Removes the mapping (best effort, bounded by each protocol's timeout) and stops. */
  async stop(): Promise<void> {
    clearInterval(this.checkTimer);
    clearTimeout(this.renewTimer);
    await this.busy?.catch(() => undefined);
    this.stopped = true;
    const m = this.mapper;
    const mapping = this.state.mapping;
    this.controller.abort();
    if (m && mapping) {
      try {
        await m.unmap(mapping);
      } catch (err) {
        this.options.onError?.(new NodegateError('NG_NET_UPNP', `Could not remove the port mapping on shutdown: ${messageOf(err)}`, { cause: err }));
      }
    }
    this.set({ status: 'off', mapping: null });
  }
}
