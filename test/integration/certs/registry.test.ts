// `nodegate certs renew` end to end with the real registry (embedded DNS serving the TXT values)
// and pebble validating against that DNS; then the registry down.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { initRegistration } from '../../../gateway/cli/init.ts';
import { startPebble, type Pebble } from '../../../sim/pebble.ts';
import { startTestRegistry, type TestRegistry } from '../../support/registry.ts';
import { startProcess, tempDir } from '../../../sim/process.ts';
import { registerDevice } from '../../../ddns/client/enroll.ts';
import { certStatus, saveAcmeSection, renewCertificate, openCertificateService } from '../../../certs/cli.ts';
import { createLogger } from '../../../core/log.ts';

const run = promisify(execFile);

let registry: TestRegistry;
let pebble: Pebble;
const dirs: Array<{ remove(): Promise<void> }> = [];

beforeAll(async () => {
  registry = await startTestRegistry({ allowAddresses: ['127.0.0.0/8'] });
  pebble = await startPebble({ dnsServer: `${registry.dnsAddress.host}:${registry.dnsAddress.port}` });
});
afterAll(async () => {
  await pebble?.stop();
  await registry?.stop();
  for (const d of dirs) await d.remove();
});

async function registeredNode(): Promise<{ data: string; name: string }> {
  const d = await tempDir();
  dirs.push(d);
  const { registration } = await registerDevice({ dataDir: d.path, registryUrl: registry.apiUrl });
  await saveAcmeSection(d.path, {
    directoryUrl: pebble.directoryUrl,
    caFile: pebble.apiCaFile,
    solver: { type: 'registry' },
    authoritativeServers: [`${registry.dnsAddress.host}:${registry.dnsAddress.port}`],
    propagationIntervalMs: 50,
    propagationTimeoutMs: 3000,
  });
  return { data: d.path, name: registration.name };
}

async function nodegate(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = startProcess(process.execPath, ['bin/nodegate.js', ...args], { env: { ...process.env, NODEGATE_LOG_LEVEL: 'silent' } });
  const code = await child.exited;
  return { code, out: child.output() };
}

describe('nodegate certs renew with the registry solver', () => {
  it('init-like flow: register, write the acme section, renew; openssl accepts the served chain with pebble\'s root for both names', async () => {
    const d = await tempDir();
    dirs.push(d);
    const { registration } = await initRegistration({ dataDir: d.path, registryUrl: registry.apiUrl });
    await saveAcmeSection(d.path, {
      directoryUrl: pebble.directoryUrl,
      caFile: pebble.apiCaFile,
      authoritativeServers: [`${registry.dnsAddress.host}:${registry.dnsAddress.port}`],
      propagationIntervalMs: 50,
    });
    const logger = createLogger({ level: 'silent' });
    const info = await renewCertificate(d.path, { logger });
    expect(info.names).toEqual([registration.name, `*.${registration.name}`]);
    const service = await openCertificateService(d.path, { logger });
    expect(service.info().fingerprint256).toBe(info.fingerprint256);
    const server: Server = createServer({ SNICallback: (name, cb) => cb(null, service.secureContext(name)) }, (_q, r) => r.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const root = join(d.path, 'pebble-root.pem');
      await writeFile(root, pebble.rootPem);
      for (const name of [registration.name, registration.lanName]) {
        const { stderr } = await run('sh', ['-c', `openssl s_client -connect 127.0.0.1:${port} -servername ${name} -verify_hostname ${name} -CAfile ${root} -verify_return_error -brief </dev/null`], { timeout: 10_000 });
        expect(stderr).toContain('Verification: OK');
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
  });


  it('exits 0 once a certificate for <id>.<zone> and *.<id>.<zone> is stored; a second run renews nothing', async () => {
    const { data, name } = await registeredNode();
    const first = await nodegate(['certs', 'renew', '--data', data]);
    expect(first.code).toBe(0);
    const status = await certStatus(data);
    expect(status).toMatchObject({ present: true, selfSigned: false, names: [name, `*.${name}`] });
    if (!status.present) throw new Error('unreachable');
    expect(status.issuer).toMatch(/^Pebble Intermediate CA/);
    expect(status.lastError).toBeUndefined();
    const notAfter = status.notAfter;

    const second = await nodegate(['certs', 'renew', '--data', data]);
    expect(second.code).toBe(0);
    expect((await certStatus(data)).present && (await certStatus(data))).toMatchObject({ notAfter });
    // the challenge values were withdrawn from the registry
    expect(registry.store.getDevice(name.split('.')[0]!)?.acmeTxt).toEqual([]);
  });

  it('exits 2 with NG_CONFIG_MISSING for a data directory that was never initialised', async () => {
    const d = await tempDir();
    dirs.push(d);
    const r = await nodegate(['certs', 'renew', '--data', d.path]);
    expect(r.code).toBe(2);
    expect(r.out).toContain('[NG_CONFIG_MISSING]');
    expect(r.out).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('exits 1 with NG_REG_UNAVAILABLE when the registry is down, and status shows the error', async () => {
    const { data } = await registeredNode();
    await registry.close();
    const r = await nodegate(['certs', 'renew', '--data', data]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('[NG_REG_UNAVAILABLE]');
    expect(await certStatus(data)).toMatchObject({ present: false, lastError: { code: 'NG_REG_UNAVAILABLE' } });
  });
});
