/**
 * The node's onion service: a v3 key made once and stored crash-safely (0600) in DATA/tor, so the
 * address never changes; published with ADD_ONION (control-spec §3.27) on every new control
 * connection, i.e. after tor restarts or the connection drops; optional client authorisation
 * (ClientAuthV3) from DATA/tor/clients.json.
 *
 * A stored key that cannot be read is reported (NG_TOR_KEY_CORRUPT) and never replaced: replacing it
 * would silently give the node a new address that no wallet knows.
 */
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { NodegateError, isNodegateError, messageOf } from '../core/errors.ts';
import { readFileIfExists, writeJsonAtomic } from '../core/atomic-file.ts';
import { strictObject } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import type { HsDescEvent, TorControl, TorEvent } from './control.ts';
import type { TorSource } from './process.ts';
import type { OnionPortMapping } from './config.ts';
import { listClients } from './clients.ts';
import { generateOnionKey, onionKeyFromSeed, type OnionKey } from './keys.ts';

export const ONION_KEY_FILE = 'onion-key.json';

const KeyFileSchema = strictObject({
  version: Type.Literal(1),
  type: Type.Literal('ED25519-V3'),
  /** base64 of the 32-byte ed25519 seed. */
  seed: Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$' }),
  /** The address it yields, stored to detect a damaged seed. */
  address: Type.String({ pattern: '^[a-z2-7]{56}$' }),
});

/**
 * Loads DATA/tor/onion-key.json, or creates it when absent. NG_TOR_KEY_CORRUPT when it exists but
 * is unreadable, malformed or does not yield its recorded address.
 */
export async function loadOrCreateOnionKey(torDir: string): Promise<{ key: OnionKey; created: boolean }> {
  const path = join(torDir, ONION_KEY_FILE);
  const raw = await readFileIfExists(path);
  if (raw === undefined) {
    const key = generateOnionKey();
    await writeJsonAtomic(path, { version: 1, type: 'ED25519-V3', seed: key.seed.toString('base64'), address: key.address }, { mode: 0o600 });
    return { key, created: true };
  }
  const corrupt = (why: string, cause?: unknown) =>
    new NodegateError(
      'NG_TOR_KEY_CORRUPT',
      `The onion service key ${path} is damaged (${why}). nodegate will not make a new one, because that would change the node's onion address. Restore the file from a backup; only if none exists, move it away to get a new address (wallets must then be paired again).`,
      cause ? { cause } : {},
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw corrupt('not valid JSON', err);
  }
  if (!Value.Check(KeyFileSchema, parsed)) throw corrupt('fields missing or malformed');
  const key = onionKeyFromSeed(Buffer.from(parsed.seed, 'base64'));
  if (key.address !== parsed.address) throw corrupt('the key does not match its recorded address');
  return { key, created: false };
}

/**
 * The node's onion address (`….onion`) for `nodegate status` / `pair --onion`, without creating a
 * key: undefined when Tor was never set up; NG_TOR_KEY_CORRUPT when the key file is damaged.
 */
export async function readOnionAddress(torDir: string): Promise<string | undefined> {
  const raw = await readFileIfExists(join(torDir, ONION_KEY_FILE));
  if (raw === undefined) return undefined;
  const { key } = await loadOrCreateOnionKey(torDir);
  return `${key.address}.onion`;
}

export interface OnionServiceOptions {
  /** DATA/tor. */
  dir: string;
  source: TorSource;
  /** Virtual ports → loopback listeners, e.g. 443 → dashboard, 8080 → LND REST. */
  ports: OnionPortMapping[];
  /** Publish with ClientAuthV3 using DATA/tor/clients.json. */
  clientAuth?: boolean;
  logger?: Logger;
}

export interface OnionStatus {
  /** `<56 chars>.onion`, known once the key is loaded. */
  address: string | undefined;
  /** True once a descriptor upload succeeded since the last (re)publication. */
  published: boolean;
  /** Number of authorised clients when client authorisation is on, else false. */
  clientAuth: false | number;
  /** Whether a control connection to tor is up right now. */
  torConnected: boolean;
  /** The last publication error, if the last attempt failed. */
  lastError?: { code: string; message: string };
}

/**
 * @example
 * const tor = new TorProcess({ dir: join(data, 'tor') });
 * const onion = new OnionService({ dir: join(data, 'tor'), source: tor, ports: [{ virtualPort: 443, target: '127.0.0.1:8443' }] });
 * await tor.start(); await onion.start();
 * onion.status().address; // 'xxxx...xxxx.onion'
 */
export class OnionService {
  private key: OnionKey | undefined;
  private published = false;
  private clientCount = 0;
  private lastError: NodegateError | undefined;
  private running = false;
  private publishing: Promise<void> = Promise.resolve();
  private readonly waiters = new Set<() => void>();

  private readonly onControl = (control: TorControl) => {
    this.publishing = this.publishing.then(() => this.publish(control)).catch(() => undefined);
  };
  private readonly onEvent = (ev: TorEvent) => {
    if (ev.type !== 'HS_DESC' || !this.key) return;
    const hs = ev as HsDescEvent;
    if (hs.address !== this.key.address) return;
    if (hs.action === 'UPLOADED') {
      this.published = true;
      for (const w of this.waiters) w();
    }
  };

  constructor(private readonly options: OnionServiceOptions) {
    if (options.ports.length === 0) throw new TypeError('an onion service needs at least one port mapping');
  }

  /** The address (`….onion`), loading or creating the key if needed; no tor needed. */
  async address(): Promise<string> {
    this.key ??= (await loadOrCreateOnionKey(this.options.dir)).key;
    return `${this.key.address}.onion`;
  }

  /**
   * Loads the key and publishes on the source's current control connection (if any) and on every
   * new one. Rejects with the first publication's error when tor is connected and refuses.
   */
  async start(): Promise<string> {
    const address = await this.address();
    if (this.running) return address;
    this.running = true;
    this.options.source.on('control', this.onControl);
    this.options.source.on('event', this.onEvent);
    const control = this.options.source.control;
    if (control) {
      const first = this.publishing.then(() => this.publish(control));
      this.publishing = first.catch(() => undefined);
      await first;
    }
    return address;
  }

  private async publish(control: TorControl): Promise<void> {
    if (!this.running || !this.key || control.closed) return;
    this.published = false;
    try {
      const clients = this.options.clientAuth ? await listClients(this.options.dir) : [];
      this.clientCount = clients.length;
      if (this.options.clientAuth && clients.length === 0) {
        this.options.logger?.warn('onion client authorisation is on but no client is authorised yet: add one with `nodegate tor client add NAME`');
      }
      const clientAuthV3 = clients.map((c) => c.publicKey);
      let serviceId: string;
      try {
        ({ serviceId } = await control.addOnion({ key: { type: 'ED25519-V3', blob: this.key.torBlob }, ports: this.options.ports, ...(clientAuthV3.length ? { clientAuthV3 } : {}) }));
      } catch (err) {
        // Already published on this tor (e.g. a second connection, or Detach by an earlier run):
        // replace it so the port mappings and client keys are the current ones.
        if (isNodegateError(err, 'NG_TOR_COMMAND') && /collision/i.test(String(err.details?.text))) {
          await control.delOnion(this.key.address);
          ({ serviceId } = await control.addOnion({ key: { type: 'ED25519-V3', blob: this.key.torBlob }, ports: this.options.ports, ...(clientAuthV3.length ? { clientAuthV3 } : {}) }));
        } else throw err;
      }
      if (serviceId !== this.key.address) {
        // our address derivation and tor's disagree: never publish under an unexpected name
        await control.delOnion(serviceId).catch(() => undefined);
        throw new NodegateError('NG_TOR_KEY_CORRUPT', `Tor derived ${serviceId}.onion from the stored key, not ${this.key.address}.onion. The key file in ${this.options.dir} is damaged; restore it from a backup.`);
      }
      this.lastError = undefined;
      this.options.logger?.info({ address: `${this.key.address}.onion` }, 'onion service published');
    } catch (err) {
      this.lastError = isNodegateError(err) ? err : new NodegateError('NG_TOR_COMMAND', `Publishing the onion service failed: ${messageOf(err)}`, { cause: err });
      this.options.logger?.error({ err: this.lastError }, 'onion service publication failed');
      throw this.lastError;
    }
  }

  /** Re-publishes now (after `tor client add/remove`, or a port change). */
  async republish(): Promise<void> {
    const control = this.options.source.control;
    if (!control || !this.key) return;
    await control.delOnion(this.key.address).catch(() => undefined); // may not be published yet
    const next = this.publishing.then(() => this.publish(control));
    this.publishing = next.catch(() => undefined);
    await next;
  }

  /** Resolves when tor reports a descriptor upload for our address (bounded by `timeoutMs`). */
  waitPublished(timeoutMs: number): Promise<void> {
    if (this.published) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        reject(new NodegateError('NG_TIMEOUT', `Tor did not upload the onion descriptor within ${timeoutMs} ms. Check that tor has bootstrapped (nodegate status) and can reach the Tor network.`));
      }, timeoutMs);
      this.waiters.add(done);
    });
  }

  status(): OnionStatus {
    return {
      address: this.key ? `${this.key.address}.onion` : undefined,
      published: this.published,
      clientAuth: this.options.clientAuth ? this.clientCount : false,
      torConnected: this.options.source.control !== undefined,
      ...(this.lastError ? { lastError: { code: this.lastError.code, message: this.lastError.message } } : {}),
    };
  }

  /** Withdraws the service (DEL_ONION, best effort) and stops following the source. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.options.source.off('control', this.onControl);
    this.options.source.off('event', this.onEvent);
    await this.publishing;
    const control = this.options.source.control;
    if (control && this.key && !control.closed) {
      await control.delOnion(this.key.address).catch((err: unknown) => {
        // tor went away first (it stops with us): the service went with it, nothing to report
        if (isNodegateError(err, 'NG_TOR_CONTROL_CLOSED')) return;
        this.options.logger?.warn({ code: isNodegateError(err) ? err.code : undefined, err: messageOf(err) }, 'DEL_ONION failed while stopping');
      });
    }
    this.published = false;
  }
}
