// ACME Renewal Information (RFC 9773). pebble 2.4 (Debian) does not offer it, so a small HTTP server
// plays the CA's directory + renewalInfo endpoints; the certificate is a real one with an AKI.
import { describe, it, expect, afterEach } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { ariCertId, fetchRenewalInfo } from '../../../certs/ari.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

async function certWithAki(serialHex: string): Promise<{ pem: string; akiHex: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as x509.X509CertificateCreateSelfSignedParams['keys'];
  const akiHex = '69882ca9a6b4ad4c2bc2e47a2c4b1c0d11ca5e3f';
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialHex,
    subject: 'CN=ari.example.test',
    issuer: 'CN=issuer',
    notBefore: new Date(),
    notAfter: new Date(Date.now() + 86_400_000),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: alg,
    extensions: [new x509.AuthorityKeyIdentifierExtension(akiHex)],
  });
  return { pem: cert.toString('pem'), akiHex };
}

function serve(handler: (path: string) => { status: number; body: unknown; headers?: Record<string, string> }): Promise<string> {
  server = createServer((req, res) => {
    const r = handler(req.url ?? '/');
    res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
    res.end(JSON.stringify(r.body));
  });
  return new Promise((resolve) => server!.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server!.address() as AddressInfo).port}`)));
}

describe('ACME renewal information', () => {
  it('names the certificate as base64url(AKI).base64url(serial), with a leading zero for a high-bit serial (RFC 9773 §4.1)', async () => {
    const { pem, akiHex } = await certWithAki('87654321');
    expect(ariCertId(pem)).toBe(`${Buffer.from(akiHex, 'hex').toString('base64url')}.${Buffer.from('0087654321', 'hex').toString('base64url')}`);
  });

  it('reads the suggested window and Retry-After from the directory\'s renewalInfo', async () => {
    const { pem } = await certWithAki('0123');
    const asked: string[] = [];
    const base = await serve((path) => {
      asked.push(path);
      if (path === '/dir') return { status: 200, body: { renewalInfo: `${baseUrl}/ari/` } };
      return { status: 200, body: { suggestedWindow: { start: '2026-12-01T00:00:00Z', end: '2026-12-03T00:00:00Z' } }, headers: { 'retry-after': '21600' } };
    });
    const baseUrl = base;
    const info = await fetchRenewalInfo({ directoryUrl: `${base}/dir` }, pem, { now: () => 1000 });
    expect(info).toEqual({ window: { start: new Date('2026-12-01T00:00:00Z'), end: new Date('2026-12-03T00:00:00Z') }, retryAfter: 1000 + 21_600_000 });
    expect(asked).toEqual(['/dir', `/ari/${ariCertId(pem)}`]);
  });

  it('is undefined when the directory offers no renewalInfo (pebble 2.4)', async () => {
    const { pem } = await certWithAki('0123');
    const base = await serve(() => ({ status: 200, body: { newNonce: 'x' } }));
    expect(await fetchRenewalInfo({ directoryUrl: `${base}/dir` }, pem)).toBeUndefined();
  });

  it('rejects a window whose end is before its start with NG_CERT_ACME', async () => {
    const { pem } = await certWithAki('0123');
    let base = '';
    base = await serve((path) => (path === '/dir' ? { status: 200, body: { renewalInfo: `${base}/ari` } } : { status: 200, body: { suggestedWindow: { start: '2026-12-03T00:00:00Z', end: '2026-12-01T00:00:00Z' } } }));
    await expect(fetchRenewalInfo({ directoryUrl: `${base}/dir` }, pem)).rejects.toMatchObject({ code: 'NG_CERT_ACME' });
  });
});
