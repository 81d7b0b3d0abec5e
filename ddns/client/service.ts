/**
 * ReachabilityService: what the gateway daemon runs to stay reachable. It keeps the port mapping
 * alive (mapping.ts), follows the public/LAN/IPv6 addresses within seconds (watcher.ts), publishes
 * them to the registry at once, debounced and retried (updater.ts), listens for NAT-PMP address
 * announcements, and saves its state to DATA/reach/state.json (atomically) for `status`/`doctor`.
 *
 * @example
 *   const { registration, client } = await clientForRegisteredDevice(dataDir);
 *   const service = new ReachabilityService({ dataDir, config, registry: client, registration });
 *   await service.start();   // resolves once the first probe and address check are done (~1-2 s)
 *   service.status();        // ReachabilityState
 *   await service.stop();    // removes the mapping, bounded by the protocols' timeouts
 */
import { messageOf } from '../../core/errors.ts';
import type { ReachabilityConfig } from './config.ts';
import { STUN_DEFAULT_PORT } from './config.ts';
import { MappingKeeper, type MappingState } from './mapping.ts';
import { listenForAnnouncements, NatPmpMapper } from './natpmp.ts';
import { PcpMapper } from './pcp.ts';
import { defaultGateway, probePortMappers, type CreateUdpSocket, type PortMapper } from './portmapper.ts';
import { localAddresses, registrySource, routerSource, stunSource } from './public-ip.ts';
import { diagnose, gatherFacts, readState, writeState, type ReachabilityFacts, type ReachabilityState } from './reachability.ts';
import type { VerdictCode } from './messages.ts';
import type { RegistryPort } from './registry-port.ts';
import { AddressUpdater } from './updater.ts';
import { UpnpMapper } from './upnp.ts';
import { AddressWatcher } from './watcher.ts';

/** Smallest gap between two writes of state.json, ms (state changes come in bursts). */
export const STATE_WRITE_MIN_GAP_MS = 250;

export interface ServiceLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface ReachabilityServiceOptions {
  dataDir: string;
  config: ReachabilityConfig;
  registry: RegistryPort;
  registration: { name: string; lanName: string; registryUrl: string };
  log?: ServiceLog;
  /** Default: the IPv4 default route's gateway (/proc/net/route). */
  gateway?: string | null;
  createSocket?: CreateUdpSocket;
  fetch?: typeof fetch;
  /** Listen for NAT-PMP announcements on 224.0.0.1:5350 (default true). */
  announcements?: boolean;
}

export class ReachabilityService {
  watcher: AddressWatcher | undefined;
  updater: AddressUpdater | undefined;
  keeper: MappingKeeper | undefined;
  private stopAnnouncements: (() => void) | undefined;
  private writing: Promise<void> = Promise.resolve();
  private writeTimer: NodeJS.Timeout | undefined;
  private registryError: string | null = null;
  private running = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private lastFacts: ReachabilityFacts | null = null;
  private lastVerdict: VerdictCode | null = null;
  private gateway: string | null = null;
  /** How often the outside probe found the mapped port closed and the mapping was made again. */
  probeRecreations = 0;
  private upnp: UpnpMapper | undefined;

  constructor(private readonly options: ReachabilityServiceOptions) {}

  private get log(): ServiceLog {
    return this.options.log ?? { info: () => undefined, warn: () => undefined };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { config, registry, registration } = this.options;
    const gateway = this.options.gateway !== undefined ? this.options.gateway : await defaultGateway();
    this.gateway = gateway;
    const lan = localAddresses(gateway).lan;
    const sockets = this.options.createSocket ? { createSocket: this.options.createSocket } : {};
    const mappers: PortMapper[] = [];
    if (gateway && lan) {
      const saved = await readState(this.options.dataDir);
      if (config.protocols.includes('upnp')) {
        this.upnp = new UpnpMapper({
          internalClient: lan,
          ...sockets,
          ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
          ...(saved?.upnpLocation ? { locationHint: saved.upnpLocation } : {}),
        });
        mappers.push(this.upnp);
      }
      if (config.protocols.includes('natpmp')) mappers.push(new NatPmpMapper({ gateway, ...sockets }));
      if (config.protocols.includes('pcp')) mappers.push(new PcpMapper({ gateway, clientAddress: lan, ...sockets }));
    }
    this.updater = new AddressUpdater({
      registry,
      debounceMs: config.debounceMs,
      onPublished: (s) => {
        this.registryError = null;
        this.log.info({ published: s }, 'registry updated');
        this.scheduleWrite();
      },
      onError: (err) => {
        this.registryError = messageOf(err);
        this.log.warn({ err: messageOf(err) }, 'registry update failed; will retry');
        this.scheduleWrite();
      },
    });
    const externalPort = config.externalPort ?? config.internalPort;
    if (config.portMapping && mappers.length > 0) {
      this.keeper = new MappingKeeper({
        request: { protocol: 'tcp', internalPort: config.internalPort, externalPort, lifetimeS: config.leaseS, description: `nodegate ${registration.name}` },
        probe: (signal) => probePortMappers(mappers, { signal }),
        checkIntervalMs: config.mappingCheckIntervalS * 1000,
        onChange: (s) => {
          this.log.info({ mapping: { status: s.status, method: s.method, reason: s.reason, recreated: s.recreated } }, 'port mapping');
          this.scheduleWrite();
        },
        onError: (err) => this.log.warn({ err: messageOf(err) }, 'port mapping'),
      });
    }
    const stunHost = config.stun?.host ?? new URL(registration.registryUrl).hostname;
    const keeper = this.keeper;
    this.watcher = new AddressWatcher({
      stun: stunSource(stunHost, config.stun?.port ?? STUN_DEFAULT_PORT),
      registry: registrySource(registry),
      router: () => {
        const m = keeper?.activeMapper;
        return m ? routerSource(m) : undefined;
      },
      local: () => localAddresses(gateway),
      fastIntervalMs: config.fastCheckIntervalS * 1000,
      whoamiIntervalMs: config.whoamiIntervalS * 1000,
      publishLan: config.publishLan,
      publishIpv6: config.publishIpv6,
      onChange: (state, reason) => {
        this.log.info({ addresses: state, reason }, 'address change');
        this.updater?.set(state);
        this.scheduleWrite();
      },
    });
    await this.keeper?.start();
    await this.watcher.start();
    if (gateway && this.options.announcements !== false) {
      try {
        this.stopAnnouncements = await listenForAnnouncements(gateway, (reply) => {
          this.log.info({ announced: reply.address }, 'NAT-PMP address announcement');
          this.watcher?.nudge('natpmp-announcement');
          void this.keeper?.checkNow();
        });
      } catch (err) {
        this.log.warn({ err: messageOf(err) }, 'cannot listen for NAT-PMP announcements; polling only');
      }
    }
    if (config.probeIntervalS > 0) {
      this.probeTimer = setInterval(() => void this.checkFromOutside(), config.probeIntervalS * 1000);
      this.probeTimer.unref?.();
    }
    this.scheduleWrite();
  }

  /**
   * Asks the registry to probe the public port, records the diagnosis for the status page, and
   * re-creates a mapping the router holds but that does not answer ("works, then silently stops").
   */
  async checkFromOutside(): Promise<ReachabilityFacts | null> {
    if (!this.running || !this.keeper || this.outsideCheck) return this.outsideCheck ?? null;
    this.outsideCheck = this.runOutsideCheck().finally(() => {
      this.outsideCheck = undefined;
    });
    return this.outsideCheck;
  }

  private outsideCheck: Promise<ReachabilityFacts | null> | undefined;

  private async runOutsideCheck(): Promise<ReachabilityFacts | null> {
    if (!this.keeper) return null;
    const { config, registry, registration } = this.options;
    try {
      const facts = await gatherFacts({
        registry,
        name: registration.name,
        lanName: registration.lanName,
        port: config.internalPort,
        externalPort: config.externalPort ?? config.internalPort,
        mapping: this.keeper.state,
        gateway: this.gateway,
        previous: this.lastFacts,
      });
      this.lastFacts = facts;
      this.lastVerdict = diagnose(facts).verdict;
      // the watcher asks the router every tick; the keeper's copy dates from the last mapping
      const routerWan = this.watcher?.routerWan ?? this.keeper.state.routerWan;
      const wanPublic = !!routerWan && routerWan === facts.internetView;
      if (this.keeper.state.status === 'mapped' && wanPublic && facts.listening === true && facts.probe && !facts.probe.reachable) {
        this.probeRecreations++;
        this.log.warn({ probe: facts.probe }, 'the mapped port does not answer from outside; making the mapping again');
        await this.keeper.recreate();
      }
      this.scheduleWrite();
      return facts;
    } catch (err) {
      this.log.warn({ err: messageOf(err) }, 'outside check failed');
      return null;
    }
  }

  /** The state as saved to DATA/reach/state.json. */
  status(): ReachabilityState {
    const off: MappingState = { status: 'off', method: null, mapping: null, reason: null, answers: null, routerWan: null, recreated: 0, renewed: 0, checks: 0 };
    return {
      version: 1,
      updatedAt: new Date().toISOString(),
      addresses: this.watcher?.current ?? { ipv4: null, ipv6: null, lan: null },
      published: this.updater?.published ?? null,
      mapping: this.keeper?.state ?? off,
      lastFacts: this.lastFacts,
      lastVerdict: this.lastVerdict,
      registryError: this.registryError,
      ...(this.upnp?.location ? { upnpLocation: this.upnp.location } : {}),
    };
  }

  private scheduleWrite(): void {
    if (this.writeTimer) return;
    this.writeTimer = setTimeout(() => {
      this.writeTimer = undefined;
      this.writing = this.writing
        .then(() => writeState(this.options.dataDir, this.status()))
        .catch((err: unknown) => this.log.warn({ err: messageOf(err) }, 'cannot save reachability state'));
    }, STATE_WRITE_MIN_GAP_MS);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.probeTimer);
    this.stopAnnouncements?.();
    this.watcher?.stop();
    this.updater?.stop();
    await this.keeper?.stop();
    clearTimeout(this.writeTimer);
    this.writeTimer = undefined;
    await this.writing;
    await writeState(this.options.dataDir, this.status()).catch((err: unknown) => this.log.warn({ err: messageOf(err) }, 'cannot save reachability state'));
  }
}
