// External Account Binding (RFC 8555 §7.3.4), as ZeroSSL requires: pebble with EAB required.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startPebble, type Pebble } from '../../../sim/pebble.ts';
import { tempDir } from '../../../sim/process.ts';
import { startKnotZone, type KnotZone } from './knot-zone.ts';
import { parseConfig } from '../../../core/config.ts';
import { createLogger } from '../../../core/log.ts';
import { AcmeConfig } from '../../../certs/config.ts';
import { Rfc2136Solver } from '../../../certs/solvers/rfc2136.ts';
import { issueCertificate } from '../../../certs/acme.ts';

const ZONE = 'eab.test';
const KID = 'kid-nodegate';
const HMAC = randomBytes(32).toString('base64url');
let knot: KnotZone;
let pebble: Pebble;

beforeAll(async () => {
  knot = await startKnotZone(ZONE);
  pebble = await startPebble({ dnsServer: knot.address, eabKeys: { [KID]: HMAC } });
});
afterAll(async () => {
  await pebble?.stop();
  await knot?.stop();
});

async function issue(eab: { kid: string; hmacKey: string } | undefined) {
  const data = await tempDir();
  try {
    const solverConfig = { type: 'rfc2136' as const, server: knot.address, zone: ZONE, tsig: knot.tsig };
    const config = parseConfig(AcmeConfig, { directoryUrl: pebble.directoryUrl, caFile: pebble.apiCaFile, solver: solverConfig, propagationIntervalMs: 50, propagationTimeoutMs: 3000, ...(eab ? { eab } : {}) }, 'test');
    const name = `node.${ZONE}`;
    return await issueCertificate({ names: [name, `*.${name}`], config, certsDir: data.path, solver: new Rfc2136Solver(solverConfig), authoritativeServers: [knot], logger: createLogger({ level: 'silent' }) });
  } finally {
    await data.remove();
  }
}

describe('External Account Binding', () => {
  it('issues with the right kid and HMAC key', async () => {
    expect((await issue({ kid: KID, hmacKey: HMAC })).chainPem).toContain('BEGIN CERTIFICATE');
  });
  it('fails with NG_CERT_ACME externalAccountRequired without them', async () => {
    await expect(issue(undefined)).rejects.toMatchObject({ code: 'NG_CERT_ACME', details: { type: 'urn:ietf:params:acme:error:externalAccountRequired' } });
  });
});
