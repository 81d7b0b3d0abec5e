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
import { writeState, type ReachabilityState } from './reachability.ts';
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

  constructor(private readonly options: ReachabilityServiceOptions) {}

  private get log(): ServiceLog {
    return this.options.log ?? { info: () => undefined, warn: () => undefined };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { config, registry, registration } = this.options;
    const gateway = this.options.gateway !== undefined ? this.options.gateway : await defaultGateway();
    const lan = localAddresses(gateway).lan;
    const sockets = this.options.createSocket ? { createSocket: this.options.createSocket } : {};
    const mappers: PortMapper[] = [];
    if (gateway && lan) {
      if (config.protocols.includes('upnp')) mappers.push(new UpnpMapper({ internalClient: lan, ...sockets, ...(this.options.fetch ? { fetch: this.options.fetch } : {}) }));
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
    this.scheduleWrite();
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
      lastFacts: null,
      lastVerdict: null,
      registryError: this.registryError,
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
