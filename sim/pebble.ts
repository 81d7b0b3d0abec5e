/**
 * Debian's pebble (ACME test CA, /usr/bin/pebble) as a child process for tests and benchmarks.
 * Debian ships no TLS certificate for pebble's own API, so we make a throwaway CA and a leaf for
 * 127.0.0.1/localhost here; `apiCaPem` is what clients must trust for the ACME API. pebble makes a
 * new issuing root and intermediate at every start: `rootPem`/`intermediatePem` come from its
 * management port (`/roots/0`, `/intermediates/0`). Stopped by PID.
 */
import { webcrypto, KeyObject, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { Agent, fetch } from 'undici';
import { startProcess, tempDir, freePort, stopThenRemove, type RunningProcess } from './process.ts';

export interface PebbleOptions {
  /** HOST:PORT of the DNS server pebble asks for DNS-01 TXT records (`-dnsserver`). */
  dnsServer: string;
  /** Percentage of valid nonces rejected as badNonce (PEBBLE_WFE_NONCEREJECT). Default 0. */
  nonceRejectPercent?: number;
  /** Lifetime of issued certificates, seconds (pebble's certificateValidityPeriod). Default pebble's (5 years). */
  certificateValiditySeconds?: number;
  /** External Account Binding keys (kid → base64url HMAC key): EAB is then required. */
  eabKeys?: Record<string, string>;
}

export interface Pebble {
  readonly directoryUrl: string;
  /** The CA (PEM) that signed pebble's API TLS certificate: trust it for the ACME API. */
  readonly apiCaPem: string;
  /** Path of a file holding {@link apiCaPem}. */
  readonly apiCaFile: string;
  /** pebble's issuing root and intermediate of this run (PEM). */
  readonly rootPem: string;
  readonly intermediatePem: string;
  readonly process: RunningProcess;
  stop(): Promise<void>;
}

/** pebble starts in well under a second; 20 s covers a loaded CI machine. */
const PEBBLE_READY_TIMEOUT_MS = 20_000;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument --
   @peculiar/x509's types name the DOM's CryptoKey, which this project's lib (ES2023, no DOM) lacks. */
async function makeApiCertificates(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const now = Date.now();
  const caKeys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as x509.X509CertificateCreateSelfSignedParams['keys'];
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01' + randomBytes(8).toString('hex'),
    name: 'CN=nodegate test pebble API CA',
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 7 * 24 * 3600_000),
    keys: caKeys,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  const leafKeys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as x509.X509CertificateCreateSelfSignedParams['keys'];
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '02' + randomBytes(8).toString('hex'),
    subject: 'CN=localhost',
    issuer: ca.subject,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 7 * 24 * 3600_000),
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: alg,
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ]),
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  });
  const keyPem = KeyObject.from(leafKeys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
  return { caPem: ca.toString('pem'), certPem: leaf.toString('pem'), keyPem };
}
/* eslint-enable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument */

export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = await tempDir('nodegate-pebble-');
  let child: RunningProcess | undefined;
  try {
    const api = await makeApiCertificates();
    const apiCaFile = join(dir.path, 'api-ca.pem');
    await writeFile(apiCaFile, api.caPem);
    await writeFile(join(dir.path, 'cert.pem'), api.certPem);
    await writeFile(join(dir.path, 'key.pem'), api.keyPem);
    const [port, mgmtPort, httpPort, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const config = {
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: join(dir.path, 'cert.pem'),
        privateKey: join(dir.path, 'key.pem'),
        httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: options.eabKeys !== undefined,
        ...(options.eabKeys ? { externalAccountMACKeys: options.eabKeys } : {}),
        ...(options.certificateValiditySeconds ? { certificateValidityPeriod: options.certificateValiditySeconds } : {}),
      },
    };
    await writeFile(join(dir.path, 'pebble-config.json'), JSON.stringify(config));
    child = startProcess('/usr/bin/pebble', ['-config', join(dir.path, 'pebble-config.json'), '-dnsserver', options.dnsServer], {
      env: {
        PATH: process.env.PATH,
        PEBBLE_VA_NOSLEEP: '1',
        PEBBLE_WFE_NONCEREJECT: String(options.nonceRejectPercent ?? 0),
        PEBBLE_AUTHZREUSE: '0',
      },
    });
    await child.waitFor(/Listening on: 127\.0\.0\.1:\d+/, PEBBLE_READY_TIMEOUT_MS);
    await child.waitFor(new RegExp(`ACME directory available at`), PEBBLE_READY_TIMEOUT_MS);
    const agent = new Agent({ connect: { ca: api.caPem } });
    const get = async (path: string) => {
      const res = await fetch(`https://127.0.0.1:${mgmtPort}${path}`, { dispatcher: agent, signal: AbortSignal.timeout(PEBBLE_READY_TIMEOUT_MS) });
      if (!res.ok) throw new Error(`pebble management ${path}: HTTP ${res.status}`);
      return res.text();
    };
    const rootPem = await get('/roots/0');
    const intermediatePem = await get('/intermediates/0');
    await agent.close();
    const running = child;
    return {
      directoryUrl: `https://127.0.0.1:${port}/dir`,
      apiCaPem: api.caPem,
      apiCaFile,
      rootPem,
      intermediatePem,
      process: running,
      stop: () => stopThenRemove(running, dir),
    };
  } catch (err) {
    await child?.stop().catch(() => undefined);
    await dir.remove().catch(() => undefined);
    throw err;
  }
}
