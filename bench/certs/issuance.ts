/**
 * Time from nothing (empty data directory, no ACME account) to a stored certificate for
 * `<name>` + `*.<name>`, against pebble validating DNS-01 at a Knot zone updated over RFC 2136/TSIG:
 * nodegate (CertificateService) vs certbot with its dns-rfc2136 plugin, same pebble, same Knot,
 * same run. Prints a markdown table. `node bin/run-ts.js bench/certs/issuance.ts [runs]`
 *
 * certbot does not look at the authoritative servers: it sleeps `--dns-rfc2136-propagation-seconds`
 * (default 60 s). It is given 0 here so both measure protocol work, not a fixed sleep.
 */
import { execFile } from 'node:child_process';
import { writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { startPebble } from '../../sim/pebble.ts';
import { tempDir } from '../../sim/process.ts';
import { startKnotZone } from '../../test/integration/certs/knot-zone.ts';
import { parseConfig } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { AcmeConfig } from '../../certs/config.ts';
import { Rfc2136Solver } from '../../certs/solvers/rfc2136.ts';
import { CertificateService } from '../../certs/manager.ts';

const run = promisify(execFile);
const ZONE = 'bench.test';
/** One certbot run is a few seconds; bound it anyway. */
const CERTBOT_TIMEOUT_MS = 120_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function main(runs = Number(process.argv[2] ?? 5)): Promise<string> {
  const knot = await startKnotZone(ZONE);
  const pebble = await startPebble({ dnsServer: knot.address });
  const ours: number[] = [];
  const certbot: number[] = [];
  try {
    const solverConfig = { type: 'rfc2136' as const, server: knot.address, zone: ZONE, tsig: knot.tsig };
    const acme = parseConfig(AcmeConfig, { directoryUrl: pebble.directoryUrl, caFile: pebble.apiCaFile, solver: solverConfig, authoritativeServers: [knot.address], propagationIntervalMs: 50, propagationTimeoutMs: 10_000 }, 'bench');
    for (let i = 0; i < runs; i++) {
      // nodegate
      {
        const data = await tempDir('ng-bench-');
        const name = `ng${i}.${ZONE}`;
        try {
          const t0 = performance.now();
          const service = await CertificateService.open({ dataDir: data.path, names: [name, `*.${name}`], zone: ZONE, acme, solver: new Rfc2136Solver(solverConfig), logger: createLogger({ level: 'silent' }) });
          await service.renew();
          ours.push(performance.now() - t0);
          await stat(join(data.path, 'certs', 'current.pem'));
        } finally {
          await data.remove();
        }
      }
      // certbot
      {
        const dir = await tempDir('certbot-bench-');
        const name = `cb${i}.${ZONE}`;
        try {
          const creds = join(dir.path, 'rfc2136.ini');
          await writeFile(
            creds,
            `dns_rfc2136_server = ${knot.host}\ndns_rfc2136_port = ${knot.port}\ndns_rfc2136_name = ${knot.tsig.name}\ndns_rfc2136_secret = ${knot.tsig.secret}\ndns_rfc2136_algorithm = HMAC-SHA256\n`,
            { mode: 0o600 },
          );
          const t0 = performance.now();
          await run(
            'certbot',
            [
              'certonly', '--non-interactive', '--agree-tos', '--register-unsafely-without-email',
              '--server', pebble.directoryUrl,
              '--config-dir', join(dir.path, 'config'), '--work-dir', join(dir.path, 'work'), '--logs-dir', join(dir.path, 'logs'),
              '--dns-rfc2136', '--dns-rfc2136-credentials', creds, '--dns-rfc2136-propagation-seconds', '0',
              '--key-type', 'ecdsa',
              '-d', name, '-d', `*.${name}`,
            ],
            { env: { PATH: process.env.PATH, HOME: dir.path, REQUESTS_CA_BUNDLE: pebble.apiCaFile }, timeout: CERTBOT_TIMEOUT_MS },
          );
          certbot.push(performance.now() - t0);
          await stat(join(dir.path, 'config', 'live', name, 'fullchain.pem'));
        } finally {
          await dir.remove();
        }
      }
    }
  } finally {
    await pebble.stop();
    await knot.stop();
  }
  const a = median(ours);
  const b = median(certbot);
  const table = [
    `Issuance from nothing to a stored certificate (<name> + *.<name>, DNS-01 via RFC 2136/TSIG to Knot 3.2, pebble 2.4, ${runs} runs each, median):`,
    '',
    '| client | median ms | min ms | max ms |',
    '|---|---:|---:|---:|',
    `| nodegate (CertificateService) | ${a.toFixed(0)} | ${Math.min(...ours).toFixed(0)} | ${Math.max(...ours).toFixed(0)} |`,
    `| certbot 2.1 + dns-rfc2136 (propagation-seconds 0) | ${b.toFixed(0)} | ${Math.min(...certbot).toFixed(0)} | ${Math.max(...certbot).toFixed(0)} |`,
    '',
    `Ratio certbot / nodegate: **${(b / a).toFixed(2)}×** (nodegate also checks the TXT at the authoritative server before validation; certbot sleeps instead, default 60 s).`,
  ].join('\n');
  return table;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write((await main()) + '\n');
}
