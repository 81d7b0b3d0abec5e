/**
 * What we read from a PEM pair: names, issuer, validity, and whether the key matches the leaf.
 * node:crypto's X509Certificate does the parsing; nothing here trusts a file before it parses.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { NodegateError } from '../core/errors.ts';

/** A certificate as the gateway, `nodegate status` and the renewal loop see it. */
export interface CertInfo {
  /** DNS names from subjectAltName, in certificate order. */
  names: string[];
  /** The issuer's common name (or the whole issuer DN when it has none). */
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** Serial number, upper-case hex. */
  serial: string;
  /** SHA-256 fingerprint of the leaf, "AA:BB:...". */
  fingerprint256: string;
  /** True for the fallback certificate certs/selfsigned.ts makes. */
  selfSigned: boolean;
}

/** A parsed, checked key + chain (leaf first). */
export interface CertPair {
  keyPem: string;
  /** Leaf first, then intermediates, PEM. */
  chainPem: string;
  info: CertInfo;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function splitPemChain(chainPem: string): string[] {
  return chainPem.match(PEM_CERT) ?? [];
}

export function certInfoOf(leaf: X509Certificate): CertInfo {
  const names = (leaf.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(leaf.issuer);
  return {
    names,
    issuer: cn?.[1] ?? leaf.issuer.replace(/\n/g, ', '),
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    serial: leaf.serialNumber.toUpperCase(),
    fingerprint256: leaf.fingerprint256,
    selfSigned: leaf.issuer === leaf.subject && leaf.verify(leaf.publicKey),
  };
}

/**
 * Parses and checks a pair: the chain holds at least one certificate, the key parses, and the key
 * belongs to the leaf. `source` names the file in errors.
 * @throws NG_CERT_STORE_CORRUPT (unparsable) or NG_CERT_KEY_MISMATCH
 */
export function parsePair(keyPem: string, chainPem: string, source: string): CertPair {
  const pems = splitPemChain(chainPem);
  if (pems.length === 0) throw new NodegateError('NG_CERT_STORE_CORRUPT', `${source} holds no certificate.`);
  let leaf: X509Certificate;
  let key: KeyObject;
  try {
    leaf = new X509Certificate(pems[0]!);
    for (const pem of pems.slice(1)) new X509Certificate(pem);
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new NodegateError('NG_CERT_STORE_CORRUPT', `${source} cannot be parsed (${(err as Error).message}).`, { cause: err });
  }
  if (!leaf.checkPrivateKey(key)) throw new NodegateError('NG_CERT_KEY_MISMATCH', `${source}: the private key does not belong to the certificate.`);
  return { keyPem, chainPem: pems.join('\n') + '\n', info: certInfoOf(leaf) };
}
