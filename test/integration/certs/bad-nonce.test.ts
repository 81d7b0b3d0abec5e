// pebble's default: 5% of good nonces rejected as badNonce (RFC 8555 §6.5). Issuance must retry and
// succeed every time.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startPebble, type Pebble } from '../../../sim/pebble.ts';
import { tempDir } from '../../../sim/process.ts';
import { startKnotZone, type KnotZone } from './knot-zone.ts';
import { parseConfig } from '../../../core/config.ts';
import { createLogger } from '../../../core/log.ts';
import { AcmeConfig } from '../../../certs/config.ts';
import { Rfc2136Solver } from '../../../certs/solvers/rfc2136.ts';
import { issueCertificate } from '../../../certs/acme.ts';

const ZONE = 'nonce.test';
const ISSUANCES = 4;
let knot: KnotZone;
let pebble: Pebble;

beforeAll(async () => {
  knot = await startKnotZone(ZONE);
  pebble = await startPebble({ dnsServer: knot.address, nonceRejectPercent: 5 });
});
afterAll(async () => {
  await pebble?.stop();
  await knot?.stop();
});

describe('badNonce', () => {
  it(`is retried: ${ISSUANCES} issuances succeed with 5% of nonces rejected`, async () => {
    const data = await tempDir();
    try {
      const solverConfig = { type: 'rfc2136' as const, server: knot.address, zone: ZONE, tsig: knot.tsig };
      const config = parseConfig(AcmeConfig, { directoryUrl: pebble.directoryUrl, caFile: pebble.apiCaFile, solver: solverConfig, propagationIntervalMs: 50, propagationTimeoutMs: 3000 }, 'test');
      for (let i = 0; i < ISSUANCES; i++) {
        const name = `node${i}.${ZONE}`;
        const issued = await issueCertificate({ names: [name, `*.${name}`], config, certsDir: data.path, solver: new Rfc2136Solver(solverConfig), authoritativeServers: [knot], logger: createLogger({ level: 'silent' }) });
        expect(issued.chainPem).toContain('-----BEGIN CERTIFICATE-----');
      }
    } finally {
      await data.remove();
    }
  });
});
