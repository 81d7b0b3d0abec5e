/**
 * A {@link TlsContextSource} over one key and certificate in memory: for tests and the demo
 * (certs/manager.ts's CertificateService is the real source).
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { certInfoOf, type CertInfo } from '../certs/cert-info.ts';
import type { TlsContextSource } from './listener.ts';

export class StaticTlsSource implements TlsContextSource {
  #context: SecureContext;
  #info: CertInfo;
  #certPem: string;

  constructor(certPem: string, keyPem: string, options: { publiclyTrusted?: boolean } = {}) {
    this.#context = createSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' });
    this.#info = { ...certInfoOf(new X509Certificate(certPem)), selfSigned: !(options.publiclyTrusted ?? false) };
    this.#certPem = certPem;
  }

  /** Swaps the certificate: the next handshake serves the new one. */
  replace(certPem: string, keyPem: string): void {
    this.#context = createSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' });
    this.#info = { ...certInfoOf(new X509Certificate(certPem)), selfSigned: this.#info.selfSigned };
    this.#certPem = certPem;
  }

  secureContext(): SecureContext {
    return this.#context;
  }

  info(): CertInfo {
    return this.#info;
  }

  /** The served certificate (leaf PEM), for pairing while it is self-signed. */
  certPem(): string {
    return this.#certPem;
  }
}
