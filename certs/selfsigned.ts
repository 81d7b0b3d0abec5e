/**
 * The fallback certificate served until the first real one is stored: self-signed, ECDSA P-256,
 * for the device's names, made in-process with @peculiar/x509 over WebCrypto (no openssl shell-out).
 */
import { webcrypto, randomBytes, KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { parsePair, type CertPair } from './cert-info.ts';

/** Lifetime of the fallback certificate: 30 days (it is replaced as soon as ACME succeeds). */
export const SELF_SIGNED_LIFETIME_MS = 30 * 24 * 3600 * 1000;
/** Back-date notBefore by one hour so a client clock slightly behind ours still accepts it. */
const CLOCK_SKEW_MS = 3600 * 1000;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** Makes a self-signed pair for `names` (first one is the subject CN). */
export async function createSelfSigned(names: string[], options: { now?: () => number } = {}): Promise<CertPair> {
  if (names.length === 0) throw new TypeError('createSelfSigned needs at least one name');
  const now = (options.now ?? Date.now)();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01' + randomBytes(15).toString('hex'),
    name: `CN=${names[0]}, O=nodegate self-signed`,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + SELF_SIGNED_LIFETIME_MS),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value }))),
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  });
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
  return parsePair(keyPem, cert.toString('pem'), 'the self-signed certificate');
}
