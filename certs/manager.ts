/**
 * What the gateway consumes: a {@link TlsContextSource} whose SNI callback always reads the current
 * certificate, and a {@link CertificateService} that keeps it valid.
 *
 * - At open: the newest good pair from the store (problems found are logged and kept in status);
 *   with none, a self-signed certificate for the names (certs/selfsigned.ts) until ACME succeeds.
 * - A renewal: lock (certs/lock.ts) → re-read the store (another process may have renewed) → issue
 *   (certs/acme.ts) → check the certificate against our clock → store atomically → swap the
 *   in-memory context → release the lock in `finally`. Open TLS connections keep the context they
 *   were made with; new handshakes get the new one. No restart.
 * - Scheduling: one timer at a time (plain `setTimeout`, re-armed after each run; node-cron adds
 *   nothing for a single moving deadline). Long waits are cut into {@link MAX_TIMER_MS} slices so a
 *   renewal done by `nodegate certs renew` in another process is picked up and a suspended laptop
 *   wakes up to a fresh decision.
 */
import { createSecureContext, type SecureContext, type Server as TlsServer, type TlsOptions } from 'node:tls';
import { join } from 'node:path';
import type { Logger } from '../core/log.ts';
import { NodegateError, isNodegateError, messageOf } from '../core/errors.ts';
import { readFileIfExists, writeJsonAtomic } from '../core/atomic-file.ts';
import type { AcmeConfig } from './config.ts';
import type { Dns01Solver } from './solver.ts';
import type { CertInfo, CertPair } from './cert-info.ts';
import { FileCertStore, type CertStore } from './store.ts';
import { acquireLock } from './lock.ts';
import { renewalTime, backoffDelay, checkClock } from './renew.ts';
import { authoritativeServersFor, type TxtLookup } from './propagation.ts';
import type { DnsServerAddress } from './txt-query.ts';
import type { RenewalInfo } from './ari.ts';

export type { CertInfo } from './cert-info.ts';

/** Longest single timer: 1 hour, then the store and the clock are looked at again. */
export const MAX_TIMER_MS = 60 * 60 * 1000;
/** How long a renewal waits for another process holding the lock: 2 minutes (one issuance). */
export const RENEW_LOCK_WAIT_MS = 2 * 60 * 1000;
/** Lock file name under DATA/certs. */
export const LOCK_FILE = 'renew.lock';
/** Last renewal outcome, for `nodegate status` in another process. */
export const STATE_FILE = 'state.json';

/** What a TLS listener needs: the context to use for a handshake, and what it holds. */
export interface TlsContextSource {
  /** The current context; call it from an SNI callback so each new handshake sees the newest certificate. */
  secureContext(servername?: string): SecureContext;
  info(): CertInfo;
}

/** `nodegate status` and the owner pages show this. */
export interface CertStatus {
  issuer: string;
  names: string[];
  notAfter: string;
  /** ISO time of the next renewal attempt (or check), if scheduled. */
  nextRenewal: string | undefined;
  lastError?: { code: string; message: string; at: string };
  /** ISO time of the first failure since the last success (kept across restarts in state.json). */
  failingSince?: string;
  selfSigned: boolean;
}

export interface CertificateServiceOptions {
  /** DATA: the store lives in DATA/certs. */
  dataDir: string;
  /** Names to certify, first is the common name: ["<id>.<zone>", "*.<id>.<zone>"]. */
  names: string[];
  /** The zone the names are in (for NS discovery when acme.authoritativeServers is not set). */
  zone: string;
  acme: AcmeConfig;
  solver: Dns01Solver;
  logger: Logger;
  /** Clock, ms since the epoch. Default Date.now. */
  now?: () => number;
  /** Randomness for jitter and the ARI point. Default Math.random. */
  random?: () => number;
  /** Storage; default the file store in DATA/certs. */
  store?: CertStore;
  /** Authoritative servers to check; default from acme.authoritativeServers or NS discovery. */
  authoritativeServers?: DnsServerAddress[];
  txtLookup?: TxtLookup;
}

interface StateFile {
  lastError?: { code: string; message: string; at: string };
  /** First failure since the last success: a node restarted daily must still see "failing for days". */
  failingSince?: string;
  lastSuccess?: string;
  nextRenewal?: string;
}

function contextOf(pair: CertPair): SecureContext {
  return createSecureContext({ key: pair.keyPem, cert: pair.chainPem });
}

function covers(info: CertInfo, names: string[]): boolean {
  const have = new Set(info.names.map((n) => n.toLowerCase()));
  return names.every((n) => have.has(n.toLowerCase()));
}

export class CertificateService implements TlsContextSource {
  readonly #o: CertificateServiceOptions;
  readonly #store: CertStore;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #certsDir: string;
  #pair: CertPair;
  #context: SecureContext;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = new AbortController();
  #failures = 0;
  #nextRenewal: number | undefined;
  #lastError: CertStatus['lastError'];
  #failingSince: string | undefined;
  #ari: RenewalInfo | undefined;
  #listeners = new Set<(pair: CertPair) => void>();

  private constructor(options: CertificateServiceOptions, store: CertStore, pair: CertPair) {
    this.#o = options;
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#certsDir = join(options.dataDir, 'certs');
    this.#pair = pair;
    this.#context = contextOf(pair);
  }

  /** Loads the stored certificate (or makes the self-signed fallback). Starts nothing. */
  static async open(options: CertificateServiceOptions): Promise<CertificateService> {
    if (options.names.length === 0) throw new TypeError('CertificateService needs at least one name');
    const store = options.store ?? new FileCertStore(join(options.dataDir, 'certs'));
    const { pair, problems } = await store.load();
    for (const p of problems) options.logger.error({ code: p.code }, p.message + ' The last good certificate is used instead.');
    const usable = pair && covers(pair.info, options.names) ? pair : await (await import('./selfsigned.ts')).createSelfSigned(options.names, { now: options.now });
    const service = new CertificateService(options, store, usable);
    const saved = await readCertState(options.dataDir);
    if (saved?.lastError && typeof saved.failingSince === 'string') {
      service.#failingSince = saved.failingSince;
      service.#lastError = saved.lastError;
    }
    if (problems[0]) service.#lastError = { code: problems[0].code, message: problems[0].message, at: new Date(service.#now()).toISOString() };
    return service;
  }

  secureContext(_servername?: string): SecureContext {
    return this.#context;
  }

  /** The served chain (PEM): for lndconnect's `cert=` while the certificate is self-signed. */
  certPem(): string {
    return this.#pair.chainPem;
  }

  info(): CertInfo {
    return this.#pair.info;
  }

  status(): CertStatus {
    const info = this.#pair.info;
    return {
      issuer: info.issuer,
      names: info.names,
      notAfter: info.notAfter.toISOString(),
      nextRenewal: this.#nextRenewal === undefined ? undefined : new Date(this.#nextRenewal).toISOString(),
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
      ...(this.#failingSince ? { failingSince: this.#failingSince } : {}),
      selfSigned: info.selfSigned,
    };
  }

  /** When the current certificate should be renewed, ms since the epoch (0 for the self-signed fallback: overdue). */
  dueAt(): number {
    // Not `now()`: comparing a second reading of the clock with the first made "due now" look
    // like "not due" whenever the millisecond ticked in between.
    if (this.#pair.info.selfSigned || !covers(this.#pair.info, this.#o.names)) return 0;
    return renewalTime(this.#pair.info, this.#o.acme.renewFractionLeft, this.#ari?.window, () => 0.5);
  }

  /** Runs renewals on their own until {@link stop}. */
  start(): void {
    if (this.#timer !== undefined || this.#stopped.signal.aborted) return;
    this.#schedule(Math.max(0, this.dueAt() - this.#now()));
  }

  /** Stops the timer and cancels a renewal in progress; resolves when it has ended. */
  async stop(): Promise<void> {
    this.#stopped.abort();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextRenewal = undefined;
    await this.#running?.catch(() => undefined); // its failure was already logged and recorded
  }

  #schedule(delayMs: number): void {
    if (this.#stopped.signal.aborted) return;
    this.#nextRenewal = this.#now() + delayMs;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#tick(), Math.min(delayMs, MAX_TIMER_MS));
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    if (this.#stopped.signal.aborted) return;
    if (this.#nextRenewal !== undefined && this.#now() < this.#nextRenewal) {
      await this.#reload(); // a slice of a long wait: pick up another process's renewal
      this.#schedule(Math.max(0, Math.min(this.#nextRenewal - this.#now(), this.dueAt() - this.#now())));
      return;
    }
    try {
      await this.renew({ signal: this.#stopped.signal });
      this.#schedule(Math.max(0, this.dueAt() - this.#now()));
    } catch (err) {
      if (this.#stopped.signal.aborted) return;
      const retryAfterMs = isNodegateError(err) && typeof err.details?.retryAfterSeconds === 'number' ? err.details.retryAfterSeconds * 1000 : undefined;
      // A wrong clock makes every fresh certificate look expired (or not yet valid): retrying soon
      // would only order more of them. Wait the longest back-off for the clock to be fixed.
      const delay = isNodegateError(err, 'NG_CERT_CLOCK')
        ? this.#o.acme.backoffMaxMs
        : backoffDelay(this.#failures, this.#o.acme.backoffMinMs, this.#o.acme.backoffMaxMs, this.#random, retryAfterMs);
      this.#schedule(delay);
      await this.#writeState().catch((e: unknown) => this.#o.logger.warn({ err: e }, 'could not write the certificate state file')); // now with nextRenewal
    }
  }

  async #reload(): Promise<void> {
    const { pair } = await this.#store.load();
    if (pair && covers(pair.info, this.#o.names) && !pair.info.selfSigned && pair.info.fingerprint256 !== this.#pair.info.fingerprint256 && pair.info.notAfter > this.#pair.info.notAfter) {
      this.#use(pair);
    }
  }

  #use(pair: CertPair): void {
    this.#context = contextOf(pair);
    this.#pair = pair;
    for (const listener of this.#listeners) {
      try {
        listener(pair);
      } catch (err) {
        this.#o.logger.warn({ err }, 'a certificate change listener failed');
      }
    }
  }

  /** Calls `listener` with each new pair once it is served. Returns the unsubscribe function. */
  onChange(listener: (pair: CertPair) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The current key and chain (PEM), e.g. for a server's default context. */
  currentPem(): { key: string; cert: string } {
    return { key: this.#pair.keyPem, cert: this.#pair.chainPem };
  }

  /**
   * Obtains and stores a new certificate now unless (without `force`) the stored one is not due.
   * Lock → re-check the store → issue → clock check → store → swap → unlock.
   * @returns the certificate now served
   */
  async renew(options: { force?: boolean; signal?: AbortSignal } = {}): Promise<CertInfo> {
    const run = this.#renew(options);
    this.#running = run;
    return run;
  }

  async #renew(options: { force?: boolean; signal?: AbortSignal }): Promise<CertInfo> {
    const { logger } = this.#o;
    const lock = await acquireLock(join(this.#certsDir, LOCK_FILE), { waitMs: RENEW_LOCK_WAIT_MS, signal: options.signal, now: this.#now });
    try {
      await this.#reload();
      if (!options.force && this.#now() < this.dueAt()) {
        logger.info({ notAfter: this.#pair.info.notAfter }, 'certificate not due for renewal');
        return this.#pair.info;
      }
      const servers = this.#o.authoritativeServers ?? (await authoritativeServersFor(this.#o.zone, this.#o.acme.authoritativeServers));
      // acme-client (with axios) and @peculiar/x509 are loaded only when a certificate is due: they
      // would add ~30 MB to a daemon that needs them a few minutes every two months.
      const { issueCertificate } = await import('./acme.ts');
      const issued = await issueCertificate({
        names: this.#o.names,
        config: this.#o.acme,
        certsDir: this.#certsDir,
        solver: this.#o.solver,
        authoritativeServers: servers,
        logger,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(this.#o.txtLookup ? { txtLookup: this.#o.txtLookup } : {}),
      });
      const saved = await this.#store.save(issued.keyPem, issued.chainPem);
      this.#use(saved);
      this.#failures = 0;
      this.#lastError = undefined;
      this.#failingSince = undefined;
      checkClock(saved.info, this.#now());
      const { fetchRenewalInfo } = await import('./ari.ts');
      this.#ari = await fetchRenewalInfo(this.#o.acme, saved.chainPem, { signal: options.signal }).catch((err: unknown) => {
        logger.warn({ err }, 'could not fetch ACME renewal information; renewing by lifetime');
        return undefined;
      });
      await this.#writeState();
      logger.info({ names: saved.info.names, notAfter: saved.info.notAfter, issuer: saved.info.issuer }, 'certificate stored and now served');
      return saved.info;
    } catch (err) {
      const coded = isNodegateError(err) ? err : new NodegateError('NG_INTERNAL', `Renewal failed unexpectedly: ${messageOf(err)}`, { cause: err });
      this.#failures++;
      this.#lastError = { code: coded.code, message: coded.message, at: new Date(this.#now()).toISOString() };
      this.#failingSince ??= this.#lastError.at;
      logger.error({ code: coded.code }, `certificate renewal failed: ${coded.message}`);
      await this.#writeState().catch((e: unknown) => logger.warn({ err: e }, 'could not write the certificate state file'));
      throw coded;
    } finally {
      await lock.release().catch((e: unknown) => logger.warn({ err: e }, 'could not release the renewal lock'));
    }
  }

  async #writeState(): Promise<void> {
    const state: StateFile = {
      ...(this.#lastError ? { lastError: this.#lastError } : { lastSuccess: new Date(this.#now()).toISOString() }),
      ...(this.#failingSince ? { failingSince: this.#failingSince } : {}),
      ...(this.#nextRenewal !== undefined ? { nextRenewal: new Date(this.#nextRenewal).toISOString() } : {}),
    };
    await writeJsonAtomic(join(this.#certsDir, STATE_FILE), state, { mode: 0o600 });
  }
}

/**
 * TLS server options that always present the current certificate: the SNI callback for clients that
 * send a name, and the default context (clients that connect by IP address send none) which
 * {@link attachTlsServer} keeps current.
 * @example const server = https.createServer(tlsServerOptions(certs), app); attachTlsServer(server, certs);
 */
export function tlsServerOptions(service: CertificateService): TlsOptions {
  return { ...service.currentPem(), SNICallback: (name, cb) => cb(null, service.secureContext(name)) };
}

/** Swaps `server`'s default context whenever the service stores a new certificate. Returns the detach function. */
export function attachTlsServer(server: TlsServer, service: CertificateService): () => void {
  return service.onChange((pair) => server.setSecureContext({ key: pair.keyPem, cert: pair.chainPem }));
}

/** Reads DATA/certs/state.json (the last outcome recorded by a renewal), if any. */
export async function readCertState(dataDir: string): Promise<StateFile | undefined> {
  const raw = await readFileIfExists(join(dataDir, 'certs', STATE_FILE));
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw.toString('utf8')) as StateFile;
  } catch {
    return undefined; // a damaged state file only loses the last error message
  }
}
