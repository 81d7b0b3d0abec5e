/**
 * Tor for the node as one switch: the "tor" config section → a tor source (our own tor, or an
 * attached one) → the onion service. This is what the gateway's composition calls; the owner
 * page's switch calls {@link TorService.setEnabled}.
 *
 * @example
 * const tor = new TorService({ dataDir, config: torConfig, logger });
 * if (torConfig.enabled) await tor.start();
 * startGateway({ ..., onionHost: () => tor.onionHost(), statusExtras: () => tor.statusExtras() });
 */
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import type { ConnectionOptions } from 'node:tls';
import { NodegateError } from '../core/errors.ts';
import { readFileIfExists, writeJsonAtomic } from '../core/atomic-file.ts';
import { parseConfig } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import { TorConfigSchema, torOnlyPolicy, type NetworkPolicy, type TorConfig } from './config.ts';
import { OnionService, type OnionStatus } from './onion.ts';
import { TorAttachment, TorProcess, type TorSource } from './process.ts';
import { createSocksDispatcher } from './socks.ts';

export interface TorServiceOptions {
  /** DATA (the service uses DATA/tor). */
  dataDir: string;
  config: TorConfig;
  logger?: Logger;
  /** Where `setEnabled` persists the switch; default DATA/config.json. */
  configPath?: string;
}

export interface TorServiceStatus {
  enabled: boolean;
  torOnly: boolean;
  /** Bootstrap progress of the tor in use (percent), when connected. */
  bootstrap: number | undefined;
  onion: OnionStatus | undefined;
}

export class TorService {
  private source: TorSource | undefined;
  private onion: OnionService | undefined;
  private config: TorConfig;
  private bootstrap: number | undefined;
  private address: string | undefined;

  constructor(private readonly options: TorServiceOptions) {
    this.config = options.config;
  }

  get torDir(): string {
    return join(this.options.dataDir, 'tor');
  }

  /** What the rest of the node must not do (Tor-only mode). */
  policy(): NetworkPolicy {
    return torOnlyPolicy(this.config);
  }

  /**
   * Starts tor (or attaches) and publishes the onion service; resolves with the address once the
   * service is added (the descriptor upload follows; see status().onion.published).
   */
  async start(options: { signal?: AbortSignal } = {}): Promise<string> {
    if (this.onion) return this.onion.address();
    if (this.config.ports.length === 0) {
      throw new NodegateError('NG_CONFIG_INVALID', 'Tor is on but the "tor" config section maps no ports. Add "ports": [{ "virtualPort": 443, "target": "127.0.0.1:8443" }] (nodegate init does this).');
    }
    const source: TorSource =
      this.config.control === 'managed'
        ? new TorProcess({ dir: this.torDir, extraTorrc: this.config.extraTorrc, ...(this.config.torPath ? { torPath: this.config.torPath } : {}) })
        : new TorAttachment({ control: this.config.control.attach, ...(this.config.cookieFile ? { cookieFile: this.config.cookieFile } : {}) });
    source.on('bootstrap', (p) => {
      this.bootstrap = p;
    });
    source.on('failed', (err) => this.options.logger?.error({ err }, 'tor gave up'));
    source.on('lost', (err) => this.options.logger?.warn({ code: err.code }, 'tor connection lost; reconnecting'));
    const onion = new OnionService({ dir: this.torDir, source, ports: this.config.ports, clientAuth: this.config.clientAuth, ...(this.options.logger ? { logger: this.options.logger } : {}) });
    this.address = await onion.address(); // a corrupt key fails here, before tor is started
    this.source = source;
    this.onion = onion;
    try {
      await source.start(options);
      this.bootstrap = await source.control?.bootstrapProgress();
      await onion.start();
    } catch (err) {
      await this.stop().catch((e: unknown) => this.options.logger?.warn({ err: e }, 'stopping tor after a failed start failed too'));
      throw err;
    }
    return this.address;
  }

  async stop(): Promise<void> {
    const { onion, source } = this;
    this.onion = undefined;
    this.source = undefined;
    try {
      await onion?.stop();
    } finally {
      await source?.stop();
    }
  }

  /** The last lines our own tor logged (empty when attached to someone else's tor). */
  torLog(): string[] {
    return this.source instanceof TorProcess ? this.source.log : [];
  }

  /** The onion host for pairing (`….onion`), when Tor is on. */
  onionHost(): string | undefined {
    return this.config.enabled ? this.address : undefined;
  }

  /** The SOCKS endpoint as an undici dispatcher (Tor-only outbound). */
  async dispatcher(options: { tls?: ConnectionOptions } = {}): Promise<Dispatcher> {
    if (!this.source) throw new NodegateError('NG_TOR_CONTROL_CLOSED', 'Tor is not running; start it before making connections through it.');
    return createSocksDispatcher(await this.source.socksAddress(), options);
  }

  status(): TorServiceStatus {
    return { enabled: this.config.enabled, torOnly: this.config.torOnly, bootstrap: this.bootstrap, onion: this.onion?.status() };
  }

  /** Fields for the gateway's owner status (`onion`, `tor`). */
  statusExtras(): { onion?: { address: string; clientAuth: boolean }; tor: { enabled: boolean; bootstrap?: number } } {
    const s = this.onion?.status();
    return {
      tor: { enabled: this.config.enabled, ...(this.bootstrap !== undefined ? { bootstrap: this.bootstrap } : {}) },
      ...(this.config.enabled && s?.address ? { onion: { address: s.address, clientAuth: s.clientAuth !== false } } : {}),
    };
  }

  /** The owner page's switch: persists `tor.enabled` and starts or stops tor accordingly. */
  async setEnabled(on: boolean): Promise<void> {
    await saveTorEnabled(this.options.configPath ?? join(this.options.dataDir, 'config.json'), on);
    this.config = { ...this.config, enabled: on };
    if (on) await this.start();
    else await this.stop();
  }
}

/** Rewrites only `tor.enabled` in DATA/config.json (atomically, 0600), keeping every other section. */
export async function saveTorEnabled(configPath: string, on: boolean): Promise<void> {
  const raw = await readFileIfExists(configPath);
  let parsed: Record<string, unknown> = {};
  if (raw !== undefined) {
    try {
      parsed = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new NodegateError('NG_CONFIG_INVALID', `${configPath} is not valid JSON; fix it before switching Tor.`, { cause: err });
    }
  }
  const tor = parseConfig(TorConfigSchema, { ...((parsed.tor as object | undefined) ?? {}), enabled: on }, `${configPath} ("tor")`);
  await writeJsonAtomic(configPath, { ...parsed, tor }, { mode: 0o600 });
}
