/**
 * The whole node daemon (`nodegate start`): reads DATA/config.json and composes the parts —
 * certificates (certs/), the gateway's listeners (gateway/main.ts), reachability (ddns/client/) and
 * the onion service (tor/) — honouring Tor-only mode (tor/config.ts torOnlyPolicy), and stops them
 * in reverse order. Each part reads only its own section of the config.
 */
import { join } from 'node:path';
import type { TSchema, Static } from '@sinclair/typebox';
import { parseConfig } from '../core/config.ts';
import { readFileIfExists, writeJsonAtomic } from '../core/atomic-file.ts';
import { NodegateError, messageOf } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { AcmeConfig } from '../certs/config.ts';
import { CertificateService } from '../certs/manager.ts';
import { certificateNames, solverFor } from '../certs/cli.ts';
import { clientForRegisteredDevice, loadRegistration, type Registration } from '../ddns/client/enroll.ts';
import { ReachabilityConfig } from '../ddns/client/config.ts';
import { ReachabilityService } from '../ddns/client/service.ts';
import { diagnose } from '../ddns/client/reachability.ts';
import { TorConfigSchema, torOnlyPolicy, type TorConfig, type NetworkPolicy, type OnionPortMapping } from '../tor/config.ts';
import { OnionService } from '../tor/onion.ts';
import { torSourceFor, type TorSource } from '../tor/process.ts';
import { configPath, parseGatewayConfig, type GatewayConfig } from './config.ts';
import { startGateway, type RunningGateway, type TlsContextSource } from './main.ts';
import { StoredTlsSource } from './tls-source.ts';
import type { NodeStatus } from './owner-deps.ts';

/** The whole of DATA/config.json: one section per part. */
export interface NodeConfig {
  gateway: GatewayConfig;
  acme: AcmeConfig | undefined;
  reachability: ReachabilityConfig;
  tor: TorConfig;
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
  const known = new Set(['gateway', 'acme', 'reachability', 'tor', 'registry']);
  const unknown = Object.keys(whole).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new NodegateError('NG_CONFIG_INVALID', `${path} has unknown section(s) ${unknown.map((k) => `"${k}"`).join(', ')}; the known ones are ${[...known].join(', ')}. Check the spelling.`);
  if (whole.gateway === undefined) throw new NodegateError('NG_CONFIG_MISSING', `${path} has no "gateway" section. Run \`nodegate init\` first.`);
  return {
    gateway: parseGatewayConfig(whole.gateway, `${path} ("gateway")`),
    acme: whole.acme === undefined ? undefined : section(whole, 'acme', AcmeConfig, path),
    reachability: section(whole, 'reachability', ReachabilityConfig, path),
    tor: section(whole, 'tor', TorConfigSchema, path),
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

/** Onion ports when none are configured: 443 and 8080 both to the first HTTPS listener on loopback. */
function defaultOnionPorts(gateway: GatewayConfig): OnionPortMapping[] {
  const port = /:(\d+)$/.exec(gateway.listeners[0]!.listen)![1];
  const target = `127.0.0.1:${port}`;
  return [
    { virtualPort: 443, target },
    { virtualPort: 8080, target },
  ];
}

/** Rewrites the "tor" section of DATA/config.json, keeping the others. */
async function saveTorSection(dataDir: string, tor: TorConfig): Promise<void> {
  const path = configPath(dataDir);
  const raw = await readFileIfExists(path);
  const whole = raw ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
  whole.tor = tor;
  await writeJsonAtomic(path, whole, { mode: 0o600 });
}

export interface RunningNode {
  gateway: RunningGateway;
  certificates: CertificateService | undefined;
  reachability: ReachabilityService | undefined;
  readonly onion: OnionService | undefined;
  readonly tor: TorSource | undefined;
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

    // Tor: the onion service on the system's tor (managed) or an attached one. The owner page's
    // switch turns it on and off at run time and records the choice in DATA/config.json.
    const torDir = join(dataDir, 'tor');
    let tor: TorSource | undefined;
    let onion: OnionService | undefined;
    const startTor = async (torConfig: TorConfig) => {
      const source = torSourceFor(torDir, torConfig.control, {
        extraTorrc: torConfig.extraTorrc,
        ...(torConfig.torPath ? { torPath: torConfig.torPath } : {}),
      });
      const service = new OnionService({ dir: torDir, source, ports: torConfig.ports.length > 0 ? torConfig.ports : defaultOnionPorts(config.gateway), clientAuth: torConfig.clientAuth, logger: logger.child({ part: 'tor' }) });
      await service.address(); // a corrupt key fails here, before anything is published
      await service.start();
      tor = source;
      onion = service;
      // tor bootstraps in the background; the onion is (re)published on every control connection.
      source.start({ ...(options.signal ? { signal: options.signal } : {}) }).catch((err: unknown) => {
        logger.error({ code: (err as NodegateError).code, err: messageOf(err) }, 'tor did not start; the onion service is unavailable until it does');
      });
    };
    const stopTor = async () => {
      const [service, source] = [onion, tor];
      onion = undefined;
      tor = undefined;
      await service?.stop();
      await source?.stop();
    };
    stops.push(stopTor);
    if (config.tor.enabled) await startTor(config.tor);
    let torSwitching: Promise<void> = Promise.resolve();
    const setTorEnabled = (on: boolean): Promise<void> => {
      torSwitching = torSwitching.then(async () => {
        if (config.tor.torOnly && !on) throw new NodegateError('NG_USAGE', 'This node is Tor-only: Tor cannot be turned off here. Re-run `nodegate init` without --tor-only to leave Tor-only mode.', { status: 409 });
        if (on === (onion !== undefined)) return;
        if (on) await startTor(config.tor);
        else await stopTor();
        config.tor = { ...config.tor, enabled: on };
        await saveTorSection(dataDir, config.tor);
      });
      return torSwitching;
    };

    const reachRef = reachability;
    const statusExtras = (): Partial<NodeStatus> => {
      const extras: Partial<NodeStatus> = {};
      if (onion) {
        const s = onion.status();
        if (s.address) extras.onion = { address: s.address, clientAuth: s.clientAuth !== false };
      }
      extras.tor = { enabled: onion !== undefined };
      if (reachRef) {
        const state = reachRef.status();
        if (state.lastFacts) {
          const d = diagnose(state.lastFacts);
          extras.reachability = { verdict: d.verdict, details: d.verdicts.map((v) => v.title) };
        }
      }
      return extras;
    };
    const gateway = await startGateway({
      dataDir,
      config: config.gateway,
      tls,
      logger,
      statusExtras,
      certPem: () => (tls.info().selfSigned ? tls.certPem?.() : undefined),
      onionHost: () => onion?.status().address,
      setTorEnabled,
    });
    stops.push(() => gateway.stop());

    return {
      gateway,
      certificates,
      reachability,
      get onion() {
        return onion;
      },
      get tor() {
        return tor;
      },
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
