/**
 * The TLS source `nodegate start` uses on its own: the stored certificate (DATA/certs, written by
 * `nodegate certs renew` / the renewal service), else a self-signed fallback for the server names.
 * The stored pair is re-read when the file changes, so a renewal by another process is served on
 * the next handshake. When the lead composes certs' CertificateService into `start`, that replaces this.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { SecureContext } from 'node:tls';
import { createSecureContext } from 'node:tls';
import type { Logger } from '../core/log.ts';
import { FileCertStore } from '../certs/store.ts';
import type { CertInfo, CertPair } from '../certs/cert-info.ts';
import type { TlsContextSource } from './listener.ts';

/** How often the store file is stat-ed for a renewed certificate. */
const STORE_RECHECK_MS = 5000;

export class StoredTlsSource implements TlsContextSource {
  #pair: CertPair;
  #context: SecureContext;
  #checkedAt = 0;
  #mtimeMs: number | undefined;
  #reloading = false;
  readonly #store: FileCertStore;
  readonly #logger: Logger;

  private constructor(store: FileCertStore, pair: CertPair, mtimeMs: number | undefined, logger: Logger) {
    this.#store = store;
    this.#pair = pair;
    this.#context = createSecureContext({ key: pair.keyPem, cert: pair.chainPem, minVersion: 'TLSv1.2' });
    this.#mtimeMs = mtimeMs;
    this.#logger = logger;
  }

  static async open(dataDir: string, names: string[], logger: Logger): Promise<StoredTlsSource> {
    const store = new FileCertStore(join(dataDir, 'certs'));
    const { pair, problems } = await store.load();
    for (const p of problems) logger.error({ code: p.code }, p.message);
    const mtime = mtimeOf(store.currentPath);
    if (pair) return new StoredTlsSource(store, pair, mtime, logger);
    logger.warn({ code: 'NG_CERT_NONE' }, 'no certificate stored yet: serving a self-signed one (run `nodegate certs renew`)');
    return new StoredTlsSource(store, await (await import('../certs/selfsigned.ts')).createSelfSigned(names.length > 0 ? names : ['localhost']), mtime, logger);
  }

  #maybeReload(): void {
    const now = Date.now();
    if (now - this.#checkedAt < STORE_RECHECK_MS || this.#reloading) return;
    this.#checkedAt = now;
    const mtime = mtimeOf(this.#store.currentPath);
    if (mtime === undefined || mtime === this.#mtimeMs) return;
    this.#reloading = true;
    this.#store.load().then(
      ({ pair }) => {
        this.#reloading = false;
        if (!pair) return;
        this.#pair = pair;
        this.#context = createSecureContext({ key: pair.keyPem, cert: pair.chainPem, minVersion: 'TLSv1.2' });
        this.#mtimeMs = mtime;
        this.#logger.info({ notAfter: pair.info.notAfter.toISOString() }, 'serving the renewed certificate');
      },
      (err: unknown) => {
        this.#reloading = false;
        this.#logger.error({ err: (err as Error).message }, 'could not re-read the certificate store; the current certificate keeps serving');
      },
    );
  }

  secureContext(): SecureContext {
    this.#maybeReload();
    return this.#context;
  }

  info(): CertInfo {
    return this.#pair.info;
  }

  /** The leaf certificate PEM (for lndconnect's `cert=` while self-signed). */
  certPem(): string {
    return /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(this.#pair.chainPem)?.[0] ?? this.#pair.chainPem;
  }
}

function mtimeOf(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined; // nothing stored yet
  }
}
