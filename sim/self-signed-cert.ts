/**
 * Self-signed certificates for tests and the demo, made by the system's openssl (P-256, 30 days).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  certPem: string;
  keyPem: string;
}

/** A self-signed cert for `names` (first is the CN) plus IP SANs `ips`. */
export function makeSelfSignedCert(names: string[], ips: string[] = []): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'ng-cert-'));
  try {
    const san = [...names.map((n) => `DNS:${n}`), ...ips.map((ip) => `IP:${ip}`)].join(',');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '30',
      '-subj', `/CN=${names[0] ?? ips[0] ?? 'localhost'}`, '-addext', `subjectAltName=${san}`,
    ], { stdio: 'ignore' });
    return { certPem: readFileSync(join(dir, 'cert.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
