/**
 * A {@link TlsContextSource} over one key and certificate in memory: for tests, the demo, and the
 * self-signed fallback until certs/manager.ts supplies the real source.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { TlsContextSource } from './listener.ts';

export class StaticTlsSource implements TlsContextSource {
  #context: SecureContext;
  #certPem: string;

  constructor(certPem: string, keyPem: string) {
    this.#context = createSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' });
    this.#certPem = certPem;
  }

  /** Swaps the certificate: the next handshake serves the new one. */
  replace(certPem: string, keyPem: string): void {
    this.#context = createSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' });
    this.#certPem = certPem;
  }

  secureContext(): SecureContext {
    return this.#context;
  }

  info(): { certPem: string; publiclyTrusted: false; notAfter: string; subjectAltName: string | undefined } {
    const x = new X509Certificate(this.#certPem);
    return { certPem: this.#certPem, publiclyTrusted: false, notAfter: new Date(x.validTo).toISOString(), subjectAltName: x.subjectAltName };
  }
}
