/**
 * The connection to LND's REST port: HTTPS pinned to LND's own self-signed `tls.cert` (the cert is
 * the only trust anchor and its exact fingerprint must match; verification is never turned off),
 * an undici Pool of keep-alive connections, and the baked macaroons read from
 * `<lndDir>/data/chain/bitcoin/<network>/{readonly,invoice,admin}.macaroon`, re-read when they change.
 * Also the owner's calls that need no token: wallet state and unlock (REST: /v1/state, /v1/unlockwallet).
 * The macaroon and the wallet password never enter an error, a log line or a response.
 */
import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { Pool, type Dispatcher } from 'undici';
import { NodegateError, isNodegateError, messageOf } from '../../core/errors.ts';
import type { Scope } from '../auth/tokens.ts';
import type { LndNetwork } from '../config.ts';
import { gatewayError } from './reply.ts';

/** How often the cert and macaroon files are stat-ed for changes (LND renews its cert in place). */
const FILE_RECHECK_MS = 1000;
/** Keep-alive connections to LND; LND serves REST from one process, more would only queue there. */
const UPSTREAM_CONNECTIONS = 64;
/** Owner calls (state, unlock) are short; LND answers them in milliseconds when it is up. */
const OWNER_CALL_TIMEOUT_MS = 10_000;

export interface LndUpstreamOptions {
  restUrl: string;
  lndDir: string;
  network: LndNetwork;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  now?: () => number;
}

/** LND wallet state as the owner pages see it. */
export type LndWalletState = 'locked' | 'unlocked' | 'starting' | 'no-wallet' | 'unreachable';

interface CachedFile {
  checkedAt: number;
  mtimeMs: number;
  ino: number;
  value: string;
}

export class LndUpstream {
  readonly origin: string;
  readonly #options: LndUpstreamOptions;
  readonly #now: () => number;
  /** Undefined until LND's tls.cert could be read: the gateway starts (and serves its owner pages) before LND. */
  #pool: Pool | undefined;
  #cert: CachedFile | undefined;
  readonly #macaroons = new Map<Scope, CachedFile>();
  readonly #retired = new Set<Pool>();

  constructor(options: LndUpstreamOptions) {
    const url = new URL(options.restUrl);
    if (url.protocol !== 'https:') throw new TypeError('lnd.restUrl must be https:');
    this.origin = url.origin;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    try {
      this.#load();
    } catch {
      // LND is not there yet (first boot, LND still creating its cert): every call retries, and
      // answers 502 NG_GW_UPSTREAM_TLS until it can.
    }
  }

  #load(): { pool: Pool; cert: CachedFile } {
    if (this.#pool && this.#cert) return { pool: this.#pool, cert: this.#cert };
    const cert = this.#readCert();
    const pool = this.#makePool(cert.value);
    this.#cert = cert;
    this.#pool = pool;
    return { pool, cert };
  }

  get #certPath(): string {
    return join(this.#options.lndDir, 'tls.cert');
  }

  #readCert(): CachedFile {
    try {
      const st = statSync(this.#certPath);
      const pem = readFileSync(this.#certPath, 'utf8');
      new X509Certificate(pem); // fail early on a torn or foreign file
      return { checkedAt: this.#now(), mtimeMs: st.mtimeMs, ino: st.ino, value: pem };
    } catch (err) {
      throw new NodegateError('NG_GW_UPSTREAM_TLS', `Cannot read LND's certificate ${this.#certPath}. Check lnd.lndDir in the config (it holds tls.cert).`, { cause: err, status: 502 });
    }
  }

  #makePool(certPem: string): Pool {
    const fingerprint = new X509Certificate(certPem).fingerprint256;
    return new Pool(this.origin, {
      connections: UPSTREAM_CONNECTIONS,
      pipelining: 1,
      connectTimeout: this.#options.connectTimeoutMs,
      headersTimeout: this.#options.headersTimeoutMs,
      bodyTimeout: 0, // subscriptions stay silent for hours; headersTimeout bounds a stuck LND
      connect: {
        ca: certPem,
        rejectUnauthorized: true,
        // The chain is already verified against the pinned cert as the only CA; LND's cert names
        // rarely match the address it is reached on, so identity is the exact certificate instead.
        checkServerIdentity: (_host: string, cert: PeerCertificate) =>
          cert.fingerprint256 === fingerprint ? undefined : Object.assign(new Error('LND presented a certificate other than its tls.cert'), { code: 'ERR_TLS_PINNED_CERT_MISMATCH' }),
      },
    });
  }

  /** Swaps the pool when LND's tls.cert changed on disk (checked at most once a second). */
  #maybeReloadCert(): { pool: Pool; cert: CachedFile } {
    const current = this.#load();
    const now = this.#now();
    if (now - current.cert.checkedAt < FILE_RECHECK_MS) return current;
    current.cert.checkedAt = now;
    try {
      const st = statSync(this.#certPath);
      if (st.mtimeMs === current.cert.mtimeMs && st.ino === current.cert.ino) return current;
      const next = this.#readCert();
      if (next.value === current.cert.value) {
        this.#cert = next;
        return { pool: current.pool, cert: next };
      }
      const old = current.pool;
      const pool = this.#makePool(next.value);
      this.#cert = next;
      this.#pool = pool;
      this.#retired.add(old);
      old.close().then(
        () => this.#retired.delete(old),
        () => this.#retired.delete(old),
      );
      return { pool, cert: next };
    } catch {
      // keep the old pinned cert: a missing or torn file during LND's rewrite is transient
      return current;
    }
  }

  /** Hex of the macaroon baked for `scope`, for the Grpc-Metadata-macaroon header. 502 NG_GW_MACAROON_MISSING if absent. */
  macaroonHex(scope: Scope): string {
    const cached = this.#macaroons.get(scope);
    const now = this.#now();
    if (cached && now - cached.checkedAt < FILE_RECHECK_MS) return cached.value;
    const path = join(this.#options.lndDir, 'data', 'chain', 'bitcoin', this.#options.network, `${scope}.macaroon`);
    try {
      const st = statSync(path);
      if (cached && st.mtimeMs === cached.mtimeMs && st.ino === cached.ino) {
        cached.checkedAt = now;
        return cached.value;
      }
      const value = readFileSync(path).toString('hex');
      if (value.length === 0) throw new Error('empty');
      this.#macaroons.set(scope, { checkedAt: now, mtimeMs: st.mtimeMs, ino: st.ino, value });
      return value;
    } catch (err) {
      if (cached) return cached.value; // a rewrite in progress: keep serving the last good one
      throw new NodegateError('NG_GW_MACAROON_MISSING', `LND's ${scope}.macaroon is missing in ${this.#options.lndDir} for network ${this.#options.network}. Check lnd.lndDir and lnd.network in the config.`, { status: 502, cause: err });
    }
  }

  /** The pinned-cert pool for proxying. */
  dispatcher(): Pool {
    return this.#maybeReloadCert().pool;
  }

  /** The pinned certificate (PEM), for WebSocket connections made outside the pool. */
  certPem(): string {
    return this.#maybeReloadCert().cert.value;
  }

  /** Wallet state from /v1/state (needs no macaroon). */
  async walletState(options: { signal?: AbortSignal } = {}): Promise<LndWalletState> {
    return (await this.walletStateDetail(options)).state;
  }

  /** {@link walletState} with, when LND is unreachable, why (for `nodegate status` and support). */
  async walletStateDetail(options: { signal?: AbortSignal } = {}): Promise<{ state: LndWalletState; problem?: string }> {
    let body: { status: number; json: unknown };
    try {
      body = await this.#ownerCall('GET', '/v1/state', undefined, options.signal);
    } catch (err) {
      return { state: 'unreachable', problem: isNodegateError(err) ? `${err.message} [${err.code}]` : messageOf(err) };
    }
    if (body.status !== 200) return { state: 'unreachable', problem: `LND answered /v1/state with HTTP ${body.status}.` };
    const state = (body.json as { state?: unknown } | undefined)?.state;
    switch (state) {
      case 'LOCKED':
        return { state: 'locked' };
      case 'NON_EXISTING':
        return { state: 'no-wallet' };
      case 'UNLOCKED':
      case 'WAITING_TO_START':
        return { state: 'starting' };
      case 'RPC_ACTIVE':
      case 'SERVER_ACTIVE':
        return { state: 'unlocked' };
      default:
        return { state: 'unreachable', problem: `LND reported an unknown wallet state ${JSON.stringify(state)}.` };
    }
  }

  /** GET /v1/getinfo with the readonly macaroon; undefined when LND cannot answer. */
  async getInfo(options: { signal?: AbortSignal } = {}): Promise<Record<string, unknown> | undefined> {
    try {
      const r = await this.#ownerCall('GET', '/v1/getinfo', undefined, options.signal, this.macaroonHex('readonly'));
      return r.status === 200 ? (r.json as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Sends the wallet password to LND's /v1/unlockwallet once. The password is neither stored nor
   * logged, and never included in an error. Throws NG_GW_WALLET_UNLOCK (400: wrong password or
   * already unlocked), NG_GW_UPSTREAM_UNREACHABLE / NG_GW_UPSTREAM_TLS (502) or
   * NG_GW_UPSTREAM_TIMEOUT (504) when LND cannot be reached.
   */
  async unlockWallet(password: string, signal?: AbortSignal): Promise<void> {
    if (typeof password !== 'string' || password.length === 0) throw new NodegateError('NG_GW_WALLET_UNLOCK', 'Enter the wallet password.', { status: 400 });
    const body = JSON.stringify({ wallet_password: Buffer.from(password, 'utf8').toString('base64'), stateless_init: false });
    let r: { status: number; json: unknown };
    try {
      r = await this.#ownerCall('POST', '/v1/unlockwallet', body, signal);
    } catch (err) {
      if ((err as { name?: string }).name === 'AbortError' || (err as { name?: string }).name === 'TimeoutError') {
        throw gatewayError('NG_GW_UPSTREAM_TIMEOUT', 504, 'LND did not answer the unlock request in time.');
      }
      throw upstreamFailure(err, 'LND'); // never carries the request body
    }
    if (r.status === 200) return;
    const raw = (r.json as { message?: unknown } | undefined)?.message;
    const message = typeof raw === 'string' ? raw : '';
    const reason = /already unlocked|no longer available/.test(message) ? 'already-unlocked' : /invalid passphrase/.test(message) ? 'wrong-password' : 'refused';
    throw new NodegateError('NG_GW_WALLET_UNLOCK', reason === 'wrong-password' ? 'LND refused the password. Try again.' : reason === 'already-unlocked' ? 'The wallet is already unlocked.' : 'LND refused to unlock the wallet.', {
      status: 400,
      details: { reason },
    });
  }

  async #ownerCall(method: 'GET' | 'POST', path: string, body: string | undefined, signal?: AbortSignal, macaroon?: string): Promise<{ status: number; json: unknown }> {
    const timeout = AbortSignal.timeout(OWNER_CALL_TIMEOUT_MS);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (macaroon !== undefined) headers['grpc-metadata-macaroon'] = macaroon;
    const r = await this.dispatcher().request({
      origin: this.origin,
      method,
      path,
      headers,
      body,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const text = await r.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: r.statusCode, json };
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#pool?.close(), ...[...this.#retired].map((p) => p.close())]);
  }

  /** Cuts every upstream connection now (graceful stop's deadline passed). */
  async destroy(): Promise<void> {
    await Promise.allSettled([this.#pool?.destroy(), ...[...this.#retired].map((p) => p.destroy())]);
  }
}

/** Maps an undici/TLS failure to the client-facing 502/504 error; never carries request headers. */
export function upstreamFailure(err: unknown, upstream: string): NodegateError {
  const code = (err as { code?: string } | null)?.code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return gatewayError('NG_GW_UPSTREAM_TIMEOUT', 504, `${upstream} did not answer in time.`);
  }
  if (code.startsWith('ERR_TLS') || code.startsWith('CERT_') || code.includes('SELF_SIGNED') || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
    return gatewayError('NG_GW_UPSTREAM_TLS', 502, `${upstream}'s TLS certificate does not match the pinned one.`);
  }
  return gatewayError('NG_GW_UPSTREAM_UNREACHABLE', 502, `${upstream} is not reachable.`, { cause: code || 'unknown' });
}

export type { Dispatcher };
