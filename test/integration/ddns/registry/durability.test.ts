/**
 * An acknowledged update survives kill -9 of the registry: the test kills the process the moment
 * the API has answered, then reads the SQLite file and restarts the registry on it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { generateIdentity } from '../../../../ddns/client/identity.ts';
import { RegistryClient } from '../../../../ddns/client/registry-client.ts';
import { REGISTRY_DB_FILE } from '../../../../ddns/registry/main.ts';
import { tempDir } from '../../../../sim/process.ts';
import { dig, startRegistryProcess } from '../../../support/registry-process.ts';

const ZONE = 'dyn.durable.example';
let dir: { path: string; remove(): Promise<void> };
beforeAll(async () => {
  dir = await tempDir('ng-registry-durable-');
});
afterAll(async () => {
  await dir?.remove();
});

describe('durability', () => {
  it('keeps every acknowledged update across kill -9', async () => {
    const data = join(dir.path, 'registry');
    const args = ['--zone', ZONE, '--data', data, '--api', '127.0.0.1:0', '--dns', '127.0.0.1:0', '--allow-address', '198.51.100.0/24'];
    const first = await startRegistryProcess(args);
    const identity = generateIdentity();
    let acknowledged: string;
    try {
      const { client } = await RegistryClient.register({ url: first.apiUrl, identity });
      for (let i = 1; i <= 5; i++) await client.updateAddress({ ipv4: `198.51.100.${i}` });
      await client.addAcmeTxt('k'.repeat(43));
      acknowledged = (await client.updateAddress({ ipv4: '198.51.100.99' })).records.ipv4!;
      first.process.child.kill('SIGKILL'); // right after the acknowledgement
      expect(await first.process.exited).toBe(-1);
    } finally {
      await first.process.stop();
    }
    expect(acknowledged).toBe('198.51.100.99');
    const db = new Database(join(data, REGISTRY_DB_FILE), { readonly: true });
    try {
      const row = db.prepare('SELECT ipv4, acme_txt FROM devices WHERE id = ?').get(identity.id) as { ipv4: string; acme_txt: string };
      expect(row).toEqual({ ipv4: '198.51.100.99', acme_txt: JSON.stringify(['k'.repeat(43)]) });
    } finally {
      db.close();
    }
    const second = await startRegistryProcess(args);
    try {
      expect(await dig(second.dns, `${identity.id}.${ZONE}`, 'A')).toEqual(['198.51.100.99']);
      expect(await dig(second.dns, `_acme-challenge.${identity.id}.${ZONE}`, 'TXT')).toEqual([`"${'k'.repeat(43)}"`]);
    } finally {
      await second.process.stop();
    }
  });
});
