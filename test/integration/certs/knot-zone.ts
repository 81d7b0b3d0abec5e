/**
 * A throwaway Knot DNS (knotd) authoritative for one zone on 127.0.0.1, accepting RFC 2136 UPDATEs
 * signed with one TSIG key. Local to the certs tests until the dns part's test/support/knot.ts lands.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startProcess, tempDir, freePort, type RunningProcess } from '../../support/process.ts';

export interface KnotZone {
  readonly address: string; // "127.0.0.1:PORT"
  readonly host: string;
  readonly port: number;
  readonly zone: string;
  readonly tsig: { name: string; algorithm: 'hmac-sha256'; secret: string };
  readonly process: RunningProcess;
  stop(): Promise<void>;
}

const KNOT_READY_TIMEOUT_MS = 15_000;

export async function startKnotZone(zone: string): Promise<KnotZone> {
  const dir = await tempDir('nodegate-knot-');
  const port = await freePort();
  const secret = randomBytes(32).toString('base64');
  const tsig = { name: 'nodegate-test-key', algorithm: 'hmac-sha256' as const, secret };
  await mkdir(join(dir.path, 'zones'));
  await writeFile(
    join(dir.path, 'zones', `${zone}.zone`),
    `$ORIGIN ${zone}.\n$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n`,
  );
  await writeFile(
    join(dir.path, 'knot.conf'),
    `server:\n  rundir: "${dir.path}"\n  listen: 127.0.0.1@${port}\n  background-workers: 1\n  udp-workers: 1\n  tcp-workers: 1\n` +
      `database:\n  storage: "${dir.path}/db"\n` +
      `log:\n  - target: stdout\n    any: info\n` +
      `key:\n  - id: ${tsig.name}\n    algorithm: hmac-sha256\n    secret: ${secret}\n` +
      `acl:\n  - id: update\n    key: ${tsig.name}\n    action: update\n` +
      `template:\n  - id: default\n    storage: "${dir.path}/zones"\n    file: "%s.zone"\n    zonefile-sync: -1\n    journal-content: none\n` +
      `zone:\n  - domain: ${zone}\n    acl: update\n`,
  );
  const child = startProcess('/usr/sbin/knotd', ['-c', join(dir.path, 'knot.conf')]);
  try {
    await child.waitFor(/server started|loaded, serial/, KNOT_READY_TIMEOUT_MS);
    await child.waitFor(new RegExp(`\\[${zone.replace(/\./g, '\\.')}\\.\\] (?:zone file parsed|loaded)`), KNOT_READY_TIMEOUT_MS);
  } catch (err) {
    await child.stop();
    await dir.remove();
    throw err;
  }
  return {
    address: `127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    zone,
    tsig,
    process: child,
    async stop() {
      try {
        await child.stop();
      } finally {
        await dir.remove();
      }
    },
  };
}
