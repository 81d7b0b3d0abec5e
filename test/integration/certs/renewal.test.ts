// Renewals happen on their own: pebble issues 8-second certificates, the service renews at half
// their lifetime, and a new certificate is served each time without anyone calling renew().
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPebble, type Pebble } from '../../../sim/pebble.ts';
import { tempDir } from '../../../sim/process.ts';
import { startKnotZone, type KnotZone } from './knot-zone.ts';
import { parseConfig } from '../../../core/config.ts';
import { createLogger } from '../../../core/log.ts';
import { AcmeConfig } from '../../../certs/config.ts';
import { Rfc2136Solver } from '../../../certs/solvers/rfc2136.ts';
import { CertificateService } from '../../../certs/manager.ts';

const ZONE = 'renew.test';
const NAME = 'abcdefghijklmnop.renew.test';
const VALIDITY_S = 8;
/** Bounded wait for the two renewals (self-signed → first, first → second): ~4 s each expected. */
const WAIT_MS = 30_000;

let knot: KnotZone;
let pebble: Pebble;

beforeAll(async () => {
  knot = await startKnotZone(ZONE);
  pebble = await startPebble({ dnsServer: knot.address, certificateValiditySeconds: VALIDITY_S });
});
afterAll(async () => {
  await pebble?.stop();
  await knot?.stop();
});

describe('renewal on its own', () => {
  it('replaces the self-signed certificate, then renews before expiry, with no call to renew()', async () => {
    const data = await tempDir();
    const solverConfig = { type: 'rfc2136' as const, server: knot.address, zone: ZONE, tsig: knot.tsig };
    const acme = parseConfig(
      AcmeConfig,
      { directoryUrl: pebble.directoryUrl, caFile: pebble.apiCaFile, solver: solverConfig, authoritativeServers: [knot.address], propagationIntervalMs: 50, propagationTimeoutMs: 3000, renewFractionLeft: 0.5, backoffMinMs: 200, backoffMaxMs: 1000 },
      'test',
    );
    const service = await CertificateService.open({ dataDir: data.path, names: [NAME, `*.${NAME}`], zone: ZONE, acme, solver: new Rfc2136Solver(solverConfig), logger: createLogger({ level: 'silent' }) });
    try {
      const seen: string[] = [service.info().serial];
      service.start();
      const deadline = Date.now() + WAIT_MS;
      while (seen.length < 3 && Date.now() < deadline) {
        await sleep(100);
        const serial = service.info().serial;
        if (serial !== seen[seen.length - 1]) seen.push(serial);
      }
      expect(seen).toHaveLength(3);
      const info = service.info();
      expect(info.selfSigned).toBe(false);
      expect(info.notAfter.getTime() - info.notBefore.getTime()).toBeLessThanOrEqual((VALIDITY_S + 1) * 1000);
      const status = service.status();
      expect(status.lastError).toBeUndefined();
      expect(Date.parse(status.nextRenewal!)).toBeLessThanOrEqual(info.notAfter.getTime());
    } finally {
      await service.stop();
      await data.remove();
    }
  });
});
