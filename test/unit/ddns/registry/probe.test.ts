import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { createServer as createTcpServer, type Server as TcpServer, type AddressInfo, type Socket } from 'node:net';
import { generateIdentity } from '../../../../ddns/client/identity.ts';
import { RegistryClient } from '../../../../ddns/client/registry-client.ts';
import { freePort, tempDir } from '../../../../sim/process.ts';
import { probeEndpoint } from '../../../../ddns/registry/probe.ts';
import { startTestRegistry, TEST_ZONE, type TestRegistry } from '../../../support/registry.ts';

const identity = generateIdentity();
const name = `${identity.id}.${TEST_ZONE}`;
let dir: { path: string; remove(): Promise<void> };
let reg: TestRegistry;
let client: RegistryClient;
let tlsServer: TlsServer;
let tcpServer: TcpServer;

function listen(server: TlsServer | TcpServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

beforeAll(async () => {
  dir = await tempDir('ng-probe-');
  const key = join(dir.path, 'key.pem');
  const cert = join(dir.path, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name},DNS:*.${name}`], { stdio: 'ignore' });
  tlsServer = createTlsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (s) => s.end());
  tcpServer = createTcpServer((s) => s.end());
  reg = await startTestRegistry({ allowAddresses: ['127.0.0.0/8'], probeCa: cert });
  ({ client } = await RegistryClient.register({ url: reg.apiUrl, identity }));
});
afterAll(async () => {
  tlsServer?.close();
  tcpServer?.close();
  await reg?.stop();
  await dir?.remove();
});

describe('probe connects back to the caller', () => {
  it('reports an open TLS port with the certificate it saw, trusted through --probe-ca', async () => {
    const port = await listen(tlsServer);
    const r = await client.probe({ port });
    expect(r).toMatchObject({ address: '127.0.0.1', port, reachable: true });
    expect(r.failure).toBeUndefined();
    expect(r.certificate).toMatchObject({ subject: `CN=${name}`, issuer: `CN=${name}`, names: [name, `*.${name}`], trusted: true });
    expect(r.certificate!.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('reports an open plain TCP port with tls false', async () => {
    const port = await listen(tcpServer);
    const r = await client.probe({ port, tls: false });
    expect(r).toMatchObject({ address: '127.0.0.1', port, reachable: true });
    expect(r.certificate).toBeUndefined();
  });

  it('reports a TLS failure on a port that does not speak TLS', async () => {
    const port = (tcpServer.address() as AddressInfo).port;
    const r = await client.probe({ port });
    expect(r).toMatchObject({ reachable: true, failure: 'tls' });
  });

  it('reports a closed port as refused', async () => {
    const port = await freePort();
    const r = await client.probe({ port, tls: false });
    expect(r).toMatchObject({ address: '127.0.0.1', port, reachable: false, failure: 'refused' });
  });

  it('refuses a port out of range: NG_REG_BAD_REQUEST', async () => {
    await expect(client.probe({ port: 70000 })).rejects.toMatchObject({ code: 'NG_REG_BAD_REQUEST', status: 400 });
  });
});

describe('probe never reaches special-purpose addresses unless allowed', () => {
  it('refuses to connect back to loopback without --allow-address: NG_REG_ADDRESS_SPECIAL', async () => {
    const strict = await startTestRegistry();
    try {
      const { client: c } = await strict.device();
      await expect(c.probe({ port: 443 })).rejects.toMatchObject({ code: 'NG_REG_ADDRESS_SPECIAL', status: 422 });
    } finally {
      await strict.stop();
    }
  });

  it('trusts nothing extra without --probe-ca', async () => {
    const plain = await startTestRegistry({ allowAddresses: ['127.0.0.0/8'] });
    try {
      const c = (await RegistryClient.register({ url: plain.apiUrl, identity })).client;
      const r = await c.probe({ port: (tlsServer.address() as AddressInfo).port });
      expect(r.certificate?.trusted).toBe(false);
    } finally {
      await plain.stop();
    }
  });
});

describe('probeEndpoint bounds', () => {
  it('gives up on a server that accepts TCP but never answers the TLS handshake (failure tls, bounded)', async () => {
    const sockets: Socket[] = [];
    const silent = createTcpServer((s) => sockets.push(s)); // holds the connection, says nothing
    const port = await listen(silent);
    try {
      const r = await probeEndpoint({ address: '127.0.0.1', port, servername: name, tlsTimeoutMs: 300 });
      expect(r).toMatchObject({ address: '127.0.0.1', port, reachable: true, failure: 'tls' });
      expect(r.certificate).toBeUndefined();
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
