// End to end: pebble validates DNS-01 against a real Knot zone that the RFC 2136 solver updates; the
// CertificateService serves self-signed first, then swaps to pebble's certificate in place.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer as createHttpsServer, Agent as HttpsAgent, request as httpsRequest, type Server } from 'node:https';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { writeFile, stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startPebble, type Pebble } from '../../../sim/pebble.ts';
import { tempDir } from '../../../sim/process.ts';
import { startKnotZone, type KnotZone } from './knot-zone.ts';
import { parseConfig } from '../../../core/config.ts';
import { createLogger } from '../../../core/log.ts';
import { AcmeConfig } from '../../../certs/config.ts';
import { Rfc2136Solver } from '../../../certs/solvers/rfc2136.ts';
import { CertificateService, tlsServerOptions, attachTlsServer } from '../../../certs/manager.ts';
import { accountKeyPath } from '../../../certs/acme.ts';
import type { Dns01Solver } from '../../../certs/solver.ts';

const run = promisify(execFile);
const ZONE = 'nodegate.test';
const NAME = 'abc7defghijklmno.nodegate.test';
const NAMES = [NAME, `*.${NAME}`];

let knot: KnotZone;
let pebble: Pebble;
const logger = createLogger({ level: 'silent' });

function acmeConfig(extra: Record<string, unknown> = {}) {
  return parseConfig(
    AcmeConfig,
    {
      directoryUrl: pebble.directoryUrl,
      caFile: pebble.apiCaFile,
      solver: { type: 'rfc2136', server: knot.address, zone: ZONE, tsig: knot.tsig },
      authoritativeServers: [knot.address],
      propagationIntervalMs: 50,
      propagationTimeoutMs: 3000,
      ...extra,
    },
    'test',
  );
}

function solver(): Rfc2136Solver {
  return new Rfc2136Solver({ type: 'rfc2136', server: knot.address, zone: ZONE, tsig: knot.tsig });
}

/** Counts the calls a solver receives (and can drop or alter them). */
function countingSolver(inner: Dns01Solver, change: (value: string) => string | undefined = (v) => v) {
  const calls = { present: 0, cleanup: 0 };
  const s: Dns01Solver = {
    kind: 'counting',
    async present(name, value, o) {
      calls.present++;
      const v = change(value);
      if (v !== undefined) await inner.present(name, v, o);
    },
    async cleanup(name, value, o) {
      calls.cleanup++;
      const v = change(value);
      if (v !== undefined) await inner.cleanup(name, v, o);
    },
  };
  return { solver: s, calls };
}

beforeAll(async () => {
  knot = await startKnotZone(ZONE);
  pebble = await startPebble({ dnsServer: knot.address });
});
afterAll(async () => {
  await pebble?.stop();
  await knot?.stop();
});

function peerOf(port: number, servername: string, agent?: HttpsAgent): Promise<{ cert: PeerCertificate; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, servername, path: '/', agent, rejectUnauthorized: false }, (res) => {
      const socket = res.socket as TLSSocket;
      const cert = socket.getPeerCertificate();
      const reused = (socket as unknown as { __seen?: boolean }).__seen === true;
      (socket as unknown as { __seen?: boolean }).__seen = true;
      res.resume();
      res.on('end', () => resolve({ cert, reused }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('issuance through DNS-01 (pebble + Knot via RFC 2136)', () => {
  it('serves self-signed, then swaps to the issued certificate without dropping an open keep-alive connection', async () => {
    const data = await tempDir();
    let server: Server | undefined;
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
    try {
      const { solver: s, calls } = countingSolver(solver());
      const service = await CertificateService.open({ dataDir: data.path, names: NAMES, zone: ZONE, acme: acmeConfig(), solver: s, logger });
      expect(service.info().selfSigned).toBe(true);
      expect(service.status().selfSigned).toBe(true);
      server = createHttpsServer(tlsServerOptions(service), (_req, res) => res.end('ok'));
      attachTlsServer(server, service);
      // the idle keep-alive connection must outlive a slow issuance on a loaded machine (default 5 s)
      server.keepAliveTimeout = 60_000;
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;

      const before = await peerOf(port, NAME, agent);
      expect(before.cert.fingerprint256).toBe(service.info().fingerprint256);

      const info = await service.renew();
      expect(info.selfSigned).toBe(false);
      expect(info.names.sort()).toEqual([...NAMES].sort());
      expect(calls).toEqual({ present: 2, cleanup: 2 });

      // the open keep-alive connection survives the swap and still shows the old certificate
      const same = await peerOf(port, NAME, agent);
      expect(same.reused).toBe(true);
      expect(same.cert.fingerprint256).toBe(before.cert.fingerprint256);
      // a new connection sees the new certificate
      const fresh = await peerOf(port, `lan.${NAME}`);
      expect(fresh.cert.fingerprint256).toBe(info.fingerprint256);
      // and so does a client that sends no SNI (connects by IP address): the default context was swapped
      const noSni = await new Promise<string>((resolve, reject) => {
        const sock = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
          resolve(sock.getPeerCertificate().fingerprint256);
          sock.end();
        });
        sock.on('error', reject);
      });
      expect(noSni).toBe(info.fingerprint256);

      // the chain verifies against pebble's root for both names, with node's TLS...
      for (const servername of [NAME, `lan.${NAME}`]) {
        const verified = await new Promise<boolean>((resolve, reject) => {
          const sock = tlsConnect({ host: '127.0.0.1', port, servername, ca: pebble.rootPem }, () => {
            resolve(sock.authorized);
            sock.end();
          });
          sock.on('error', reject);
        });
        expect(verified).toBe(true);
      }
      // ...and with openssl s_client -verify_return_error
      const rootFile = join(data.path, 'pebble-root.pem');
      await writeFile(rootFile, pebble.rootPem);
      for (const servername of [NAME, `lan.${NAME}`]) {
        const { stderr } = await run('sh', ['-c', `openssl s_client -connect 127.0.0.1:${port} -servername ${servername} -verify_hostname ${servername} -CAfile ${rootFile} -verify_return_error -brief </dev/null`], { timeout: 10_000 });
        expect(stderr).toContain('Verification: OK');
      }

      // stored: key + chain in one 0600 file; the account key is kept (0600)
      expect((await stat(join(data.path, 'certs', 'current.pem'))).mode & 0o777).toBe(0o600);
      const accountFile = accountKeyPath(join(data.path, 'certs'), pebble.directoryUrl);
      expect((await stat(accountFile)).mode & 0o777).toBe(0o600);
      const accountKey = await readFile(accountFile, 'utf8');

      // a forced second issuance reuses the account key and replaces the certificate
      const second = await service.renew({ force: true });
      expect(second.serial).not.toBe(info.serial);
      expect(await readFile(accountFile, 'utf8')).toBe(accountKey);
      // Two more challenges, or one: even with PEBBLE_AUTHZREUSE=0 pebble hands back a still-valid
      // authorization about 1 time in 100 (it creates a new one only when rand.Intn(100) > 0).
      expect(calls.present === 3 || calls.present === 4, `present ${calls.present}`).toBe(true);
      expect(calls.cleanup).toBe(calls.present);
      const afterSecond = { ...calls };
      // not due: no order at all
      const third = await service.renew();
      expect(third.serial).toBe(second.serial);
      expect(calls).toEqual(afterSecond);

      const stored = await readFile(join(data.path, 'certs', 'current.pem'), 'utf8');
      const leaf = new X509Certificate(stored.slice(stored.indexOf('-----BEGIN CERTIFICATE')));
      expect(leaf.checkHost(NAME)).toBe(NAME);
    } finally {
      agent.destroy();
      await new Promise((r) => (server ? server.close(r) : r(undefined)));
      await data.remove();
    }
  });

  it('two services renewing the same data directory at once make one order: the second re-checks the store under the lock', async () => {
    const data = await tempDir();
    try {
      const { solver: s, calls } = countingSolver(solver());
      const a = await CertificateService.open({ dataDir: data.path, names: NAMES, zone: ZONE, acme: acmeConfig(), solver: s, logger });
      const b = await CertificateService.open({ dataDir: data.path, names: NAMES, zone: ZONE, acme: acmeConfig(), solver: s, logger });
      const [ia, ib] = await Promise.all([a.renew(), b.renew()]);
      expect(calls).toEqual({ present: 2, cleanup: 2 });
      expect(ia.fingerprint256).toBe(ib.fingerprint256);
      expect(b.info().fingerprint256).toBe(a.info().fingerprint256);
    } finally {
      await data.remove();
    }
  });

  it('fails with NG_CERT_TXT_NOT_VISIBLE when the TXT never shows at the authoritative server, and still cleans up', async () => {
    const data = await tempDir();
    try {
      const { solver: s, calls } = countingSolver(solver(), () => undefined); // publishes nothing
      const service = await CertificateService.open({ dataDir: data.path, names: NAMES, zone: ZONE, acme: acmeConfig({ propagationTimeoutMs: 300 }), solver: s, logger });
      await expect(service.renew()).rejects.toMatchObject({ code: 'NG_CERT_TXT_NOT_VISIBLE' });
      expect(calls).toEqual({ present: 2, cleanup: 2 });
      expect(service.status().lastError?.code).toBe('NG_CERT_TXT_NOT_VISIBLE');
      expect(service.info().selfSigned).toBe(true); // still serving the fallback
    } finally {
      await data.remove();
    }
  });

  it('reports NG_CERT_CHALLENGE_INVALID with the CA detail when the published value is wrong', async () => {
    const data = await tempDir();
    try {
      const { solver: s, calls } = countingSolver(solver(), (v) => `wrong-${v}`);
      // our own check is told the expected values are there, so the CA is asked and finds the wrong ones
      const presented: string[] = [];
      const recording: Dns01Solver = {
        kind: 'recording',
        present: async (n, v, o) => {
          presented.push(v);
          await s.present(n, v, o);
        },
        cleanup: (n, v, o) => s.cleanup(n, v, o),
      };
      const svc = await CertificateService.open({ dataDir: data.path, names: NAMES, zone: ZONE, acme: acmeConfig(), solver: recording, logger, txtLookup: () => Promise.resolve(presented) });
      const err = (await svc.renew().catch((e: unknown) => e)) as { code: string; details: Record<string, unknown> };
      expect(err.code).toBe('NG_CERT_CHALLENGE_INVALID');
      expect(err.details).toMatchObject({ type: 'urn:ietf:params:acme:error:unauthorized', detail: 'Correct value not found for DNS challenge' });
      expect(calls.cleanup).toBe(calls.present);
    } finally {
      await data.remove();
    }
  });

  it('stores the certificate but reports NG_CERT_CLOCK when our clock is far ahead', async () => {
    const data = await tempDir();
    try {
      const tenYears = 10 * 365 * 24 * 3600 * 1000;
      const service = await CertificateService.open({ dataDir: data.path, names: NAMES, zone: ZONE, acme: acmeConfig(), solver: solver(), logger, now: () => Date.now() + tenYears });
      await expect(service.renew()).rejects.toMatchObject({ code: 'NG_CERT_CLOCK' });
      expect(service.status().lastError?.code).toBe('NG_CERT_CLOCK');
    } finally {
      await data.remove();
    }
  });
});
