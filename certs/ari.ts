/**
 * ACME Renewal Information (RFC 9773): where the directory lists `renewalInfo`, ask it when this
 * certificate should be renewed. §4.1 the certificate identifier, §4.2 the `suggestedWindow`.
 * Where the directory does not offer it (pebble 2.4, older CAs), the answer is `undefined` and the
 * lifetime rule of certs/renew.ts applies alone.
 */
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { Agent, fetch } from 'undici';
import { NodegateError, messageOf } from '../core/errors.ts';
import type { AcmeConfig } from './config.ts';
import type { RenewalWindow } from './renew.ts';
import { splitPemChain } from './cert-info.ts';

/** One directory + renewalInfo round trip should take well under this: 10 s. */
export const ARI_TIMEOUT_MS = 10_000;

export interface RenewalInfo {
  window: RenewalWindow;
  explanationURL?: string;
  /** When to ask again (Retry-After, RFC 9773 §4.3), ms since the epoch. */
  retryAfter?: number;
}

/** RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial number bytes). */
export function ariCertId(leafPem: string): string {
  const cert = new x509.X509Certificate(leafPem);
  const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
  if (!aki?.keyId) throw new NodegateError('NG_CERT_ACME', 'The certificate has no Authority Key Identifier; ACME renewal information cannot name it.');
  let serial = Buffer.from(cert.serialNumber, 'hex');
  if (serial.length > 0 && (serial[0]! & 0x80) !== 0) serial = Buffer.concat([Buffer.from([0]), serial]); // DER INTEGER is signed
  return `${Buffer.from(aki.keyId, 'hex').toString('base64url')}.${serial.toString('base64url')}`;
}

export async function fetchRenewalInfo(config: Pick<AcmeConfig, 'directoryUrl' | 'caFile'>, chainPem: string, options: { signal?: AbortSignal; now?: () => number } = {}): Promise<RenewalInfo | undefined> {
  const leaf = splitPemChain(chainPem)[0];
  if (!leaf) return undefined;
  const ca = config.caFile ? [...rootCertificates, await readFile(config.caFile, 'utf8')] : undefined;
  const agent = new Agent(ca ? { connect: { ca } } : {});
  const signal = options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(ARI_TIMEOUT_MS)]) : AbortSignal.timeout(ARI_TIMEOUT_MS);
  try {
    const dir = (await (await fetch(config.directoryUrl, { dispatcher: agent, signal })).json()) as { renewalInfo?: unknown };
    if (typeof dir.renewalInfo !== 'string') return undefined;
    const res = await fetch(`${dir.renewalInfo.replace(/\/$/, '')}/${ariCertId(leaf)}`, { dispatcher: agent, signal });
    if (!res.ok) throw new NodegateError('NG_CERT_ACME', `The CA's renewal information answered HTTP ${res.status}.`);
    const body = (await res.json()) as { suggestedWindow?: { start?: unknown; end?: unknown }; explanationURL?: unknown };
    const start = Date.parse(String(body.suggestedWindow?.start));
    const end = Date.parse(String(body.suggestedWindow?.end));
    if (Number.isNaN(start) || Number.isNaN(end) || end < start) throw new NodegateError('NG_CERT_ACME', 'The CA sent renewal information without a valid suggestedWindow.');
    const retry = res.headers.get('retry-after');
    const retrySeconds = retry && /^\d+$/.test(retry) ? Number(retry) : undefined;
    return {
      window: { start: new Date(start), end: new Date(end) },
      ...(typeof body.explanationURL === 'string' ? { explanationURL: body.explanationURL } : {}),
      ...(retrySeconds !== undefined ? { retryAfter: (options.now ?? Date.now)() + retrySeconds * 1000 } : {}),
    };
  } catch (err) {
    if (err instanceof NodegateError) throw err;
    throw new NodegateError('NG_CERT_ACME', `Could not fetch ACME renewal information: ${messageOf(err)}.`, { cause: err });
  } finally {
    await agent.close();
  }
}
