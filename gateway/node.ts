/**
 * The whole node daemon (`nodegate start`): reads DATA/config.json and composes the parts —
 * certificates (certs/), the gateway's listeners (gateway/main.ts), reachability (ddns/client/) and
 * the onion service (tor/) — honouring Tor-only mode (tor/config.ts torOnlyPolicy), and stops them
 * in reverse order. Each part reads only its own section of the config.
 */
import { join } from 'node:path';
import type { TSchema, Static } from '@sinclair/typebox';
import { parseConfig } from '../core/config.ts';
import { readFileIfExists } from '../core/atomic-file.ts';
import { parseHostPort } from '../core/cli.ts';
import { NodegateError, messageOf } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { AcmeConfig } from '../certs/config.ts';
import { CertificateService } from '../certs/manager.ts';
import { certificateNames, solverFor } from '../certs/cli.ts';
import { clientForRegisteredDevice, loadRegistration, type Registration } from '../ddns/client/enroll.ts';
import { ReachabilityConfig } from '../ddns/client/config.ts';
import { ReachabilityService } from '../ddns/client/service.ts';
import { diagnose } from '../ddns/client/reachability.ts';
import { TorConfigSchema, torOnlyPolicy, type TorConfig, type NetworkPolicy } from '../tor/config.ts';
import { loadOrCreateOnionKey } from '../tor/onion.ts';
import { TorService, onionPortsFromListeners, type ListenerAddress } from '../tor/service.ts';
import { configPath, parseGatewayConfig, type GatewayConfig } from './config.ts';
import { startGateway, type RunningGateway, type TlsContextSource } from './main.ts';
import { StoredTlsSource } from './tls-source.ts';
import type { NodeStatus } from './owner-deps.ts';
import { parseNotifyConfig, type NotifyConfig } from './notify/config.ts';
import { NotificationService, type NotifySources } from './notify/service.ts';
import { ownerNotifications } from './notify/owner.ts';
import { readReachStatus } from '../ddns/client/reach-status.ts';

/** The whole of DATA/config.json: one section per part. */
export interface NodeConfig {
  gateway: GatewayConfig;
  acme: AcmeConfig | undefined;
  reachability: ReachabilityConfig;
  tor: TorConfig;
  notify: NotifyConfig;
}

function section<S extends TSchema>(whole: Record<string, unknown>, key: string, schema: S, path: string): Static<S> {
  return parseConfig(schema, whole[key] ?? {}, `${path} ("${key}")`);
}

/** Reads and validates every section of DATA/config.json (missing optional sections get defaults). */
export async function loadNodeConfig(dataDir: string): Promise<NodeConfig> {
  const path = configPath(dataDir);
  const raw = await readFileIfExists(path);
  if (raw === undefined) throw new NodegateError('NG_CONFIG_MISSING', `No config at ${path}. Run \`nodegate init --data ${dataDir} ...\` first.`);
  let whole: Record<string, unknown>;
  try {
    whole = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new NodegateError('NG_CONFIG_INVALID', `${path} is not valid JSON (${messageOf(err)}). Fix it or re-create it with \`nodegate init\`.`, { cause: err });
  }
  const known = new Set(['gateway', 'acme', 'reachability', 'tor', 'registry', 'notify']);
  const unknown = Object.keys(whole).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new NodegateError('NG_CONFIG_INVALID', `${path} has unknown section(s) ${unknown.map((k) => `"${k}"`).join(', ')}; the known ones are ${[...known].join(', ')}. Check the spelling.`);
  const tor = section(whole, 'tor', TorConfigSchema, path);
  if (whole.gateway === undefined) throw new NodegateError('NG_CONFIG_MISSING', `${path} has no "gateway" section. Run \`nodegate init\` first.`);
  return {
    gateway: parseGatewayConfig(whole.gateway, `${path} ("gateway")`),
    acme: whole.acme === undefined ? undefined : section(whole, 'acme', AcmeConfig, path),
    reachability: section(whole, 'reachability', ReachabilityConfig, path),
    tor,
    notify: parseNotifyConfig(whole.notify ?? {}, `${path} ("notify")`, { torOnly: tor.torOnly }),
  };
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

/** Tor-only mode: every listener must be on loopback (tor reaches it there; nothing else may). */
function assertLoopbackOnly(gateway: GatewayConfig, path: string): void {
  const listens = [...gateway.listeners.map((l) => l.listen), ...(gateway.httpRedirect ? [gateway.httpRedirect.listen] : [])];
  for (const listen of listens) {
    const host = listen.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    if (!LOOPBACK_HOSTS.has(host) && !host.startsWith('127.')) {
      throw new NodegateError('NG_CONFIG_INVALID', `${path}: Tor-only mode is on but the gateway listens on ${listen}, which is reachable without tor. Use 127.0.0.1:PORT (tor forwards the onion's ports there), or turn Tor-only off.`);
    }
  }
}

/** The gateway's configured listeners as the tor service maps them to onion ports. */
function listenerAddresses(gateway: GatewayConfig): ListenerAddress[] {
  return gateway.listeners.map((l) => {
    const { host, port } = parseHostPort(l.listen, 'gateway.listeners[].listen');
    return { host, port, route: l.route };
  });
}

/**
 * Why the internet cannot reach this node right now, for the "unreachable" notification, or null:
 * the reach model's HTTPS path (ddns/client/reach-status.ts) when its writer runs, else the doctor's
 * verdict on the registry's last dial-back (only a dial-back that failed counts: no probe yet is
 * not "unreachable").
 */
export async function unreachableReason(dataDir: string, reach: ReachabilityService | undefined): Promise<{ code: string; vars: Record<string, string | number> } | null> {
  const model = await readReachStatus(dataDir);
  if (model.https) {
    const { path, reason, relay } = model.https;
    return path === 'none' || (path === 'tor' && reason !== 'TOR_ONLY') ? { code: reason, vars: relay ? { relay: relay.host } : {} } : null;
  }
  const facts = reach?.status().lastFacts;
  if (!facts?.probe || facts.probe.reachable) return null;
  const problem = diagnose(facts).verdicts.find((v) => v.severity === 'problem');
  const vars = { name: facts.name ?? '?', lan: facts.lanName ?? '?', port: facts.mapping.externalPort ?? facts.port, public: facts.internetView ?? '?', router: facts.routerWan || '?' };
  return { code: problem?.code ?? 'PORT_CLOSED', vars };
}

export interface RunningNode {
  gateway: RunningGateway;
  certificates: CertificateService | undefined;
  reachability: ReachabilityService | undefined;
  tor: TorService;
  notifications: NotificationService;
  policy: NetworkPolicy;
  registration: Registration | undefined;
  /** The Tor switch: starts or stops tor and the onion service, and records it in the config. */
  setTorEnabled(on: boolean): Promise<void>;
  /** Stops every part, newest first; bounded by each part's own limits. */
  stop(): Promise<void>;
}

export interface StartNodeOptions {
  dataDir: string;
  logger: Logger;
  signal?: AbortSignal;
  /** Clock for renewal and notification decisions, ms since the epoch; default Date.now (tests move it). */
  now?: () => number;
}

/** Starts every part DATA/config.json asks for. On failure, what started is stopped again. */
export async function startNode(options: StartNodeOptions): Promise<RunningNode> {
  const { dataDir, logger } = options;
  const config = await loadNodeConfig(dataDir);
  const policy = torOnlyPolicy(config.tor);
  if (!policy.clearnetListeners) assertLoopbackOnly(config.gateway, configPath(dataDir));
  const registration = policy.ddns ? await loadRegistration(dataDir) : undefined;
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) {
      await stop().catch((err: unknown) => logger.error({ err: messageOf(err) }, 'a part failed to stop cleanly'));
    }
  };

  try {
    // Certificates: ACME when allowed and configured, else the stored pair or a self-signed one.
    let certificates: CertificateService | undefined;
    let tls: TlsContextSource & { certPem?(): string };
    if (policy.acme && registration && config.acme) {
      certificates = await CertificateService.open({
        dataDir,
        names: certificateNames(registration.name),
        zone: registration.zone,
        acme: config.acme,
        solver: await solverFor(dataDir, config.acme, registration.name),
        logger: logger.child({ part: 'certs' }),
        ...(options.now ? { now: options.now } : {}),
      });
      certificates.start();
      const c = certificates;
      stops.push(() => c.stop());
      tls = certificates;
    } else {
      tls = await StoredTlsSource.open(dataDir, config.gateway.serverNames, logger);
    }

    // Reachability (DDNS, port mapping) unless Tor-only.
    let reachability: ReachabilityService | undefined;
    if (policy.ddns && registration && config.reachability.enabled) {
      const { client } = await clientForRegisteredDevice(dataDir);
      const reachConfig: ReachabilityConfig = { ...config.reachability, portMapping: config.reachability.portMapping && policy.portMapping };
      reachability = new ReachabilityService({
        dataDir,
        config: reachConfig,
        registry: client,
        registration,
        log: logger.child({ part: 'reach' }),
        ...(config.reachability.router === 'auto' ? {} : { gateway: config.reachability.router === 'none' ? null : config.reachability.router }),
      });
      await reachability.start();
      const r = reachability;
      stops.push(() => r.stop());
    }

    // Tor: the onion service on the system's tor (managed) or an attached one (tor/service.ts). The
    // owner page's switch turns it on and off at run time and records the choice in the config.
    const torDir = join(dataDir, 'tor');
    const tor = new TorService({ dataDir, config: config.tor, logger: logger.child({ part: 'tor' }), defaultPorts: () => onionPortsFromListeners(listenerAddresses(config.gateway)) });
    stops.push(() => tor.stop());
    const startTorInBackground = () => {
      // tor launching and bootstrapping take seconds to minutes; the gateway serves meanwhile, and a
      // tor that cannot start is reported, not fatal (the onion is re-published whenever tor is back).
      tor.start({ ...(options.signal ? { signal: options.signal } : {}) }).catch((err: unknown) => {
        logger.error({ code: (err as NodegateError).code, err: messageOf(err) }, 'tor did not start; the onion service is unavailable until it does');
      });
    };
    if (config.tor.enabled) {
      await loadOrCreateOnionKey(torDir); // a corrupt key stops start-up here: never a silent new address
      startTorInBackground();
    }
    let torSwitching: Promise<void> = Promise.resolve();
    const setTorEnabled = (on: boolean): Promise<void> => {
      torSwitching = torSwitching.then(async () => {
        if (config.tor.torOnly && !on) throw new NodegateError('NG_USAGE', 'This node is Tor-only: Tor cannot be turned off here. Re-run `nodegate init` without --tor-only to leave Tor-only mode.', { status: 409 });
        await tor.setEnabled(on);
      });
      return torSwitching;
    };

    const reachRef = reachability;
    const statusExtras = (): Partial<NodeStatus> => {
      const extras: Partial<NodeStatus> = { ...tor.statusExtras() };
      if (reachRef) {
        const state = reachRef.status();
        if (state.lastFacts) {
          const d = diagnose(state.lastFacts);
          extras.reachability = { verdict: d.verdict, details: d.verdicts.map((v) => v.title) };
        }
      }
      return extras;
    };
    // Notifications: the sources are read only once the gateway runs (LND and tokens are its).
    const started: { gateway?: RunningGateway } = {};
    const certRef = certificates;
    const sources: NotifySources = {
      lndState: async () => (started.gateway ? started.gateway.lnd.walletState() : 'starting'),
      tokens: () => (started.gateway ? started.gateway.tokens.list().map((t) => ({ id: t.id, name: t.name, scope: t.scope, createdAt: t.createdAt, revoked: t.revokedAt !== undefined })) : []),
      ...(certRef
        ? {
            certificate: () => {
              const s = certRef.status();
              return { notAfter: s.notAfter, ...(s.failingSince ? { failingSince: s.failingSince } : {}), ...(s.lastError ? { code: s.lastError.code } : {}) };
            },
          }
        : {}),
      ...(policy.ddns ? { reach: () => unreachableReason(dataDir, reachRef) } : {}),
    };
    const notifications = await NotificationService.open({
      dataDir,
      config: config.notify,
      node: registration?.name ?? config.gateway.serverNames[0] ?? 'nodegate',
      sources,
      logger: logger.child({ part: 'notify' }),
      ...(options.now ? { now: options.now } : {}),
    });
    stops.push(() => notifications.stop());

    const gateway = await startGateway({
      dataDir,
      config: config.gateway,
      tls,
      logger,
      statusExtras,
      certPem: () => (tls.info().selfSigned ? tls.certPem?.() : undefined),
      onionHost: () => tor.onionHost(),
      setTorEnabled,
      notifications: ownerNotifications(notifications, { dataDir, torOnly: config.tor.torOnly }),
    });
    stops.push(() => gateway.stop());
    started.gateway = gateway;
    notifications.start();

    return {
      gateway,
      certificates,
      reachability,
      tor,
      notifications,
      setTorEnabled,
      policy,
      registration,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
