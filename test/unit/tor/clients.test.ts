import { afterEach, describe, expect, it } from 'vitest';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { CLIENTS_FILE, addClient, listClients, removeClient } from '../../../tor/clients.ts';
import { command } from '../../../tor/cli.ts';
import { clientAuthPublicFromPrivate, isOnionAddress } from '../../../tor/keys.ts';
import { tempDir } from '../../../sim/process.ts';

const dirs: Array<{ remove(): Promise<void> }> = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.remove();
});
async function dir() {
  const d = await tempDir('nodegate-clients-');
  dirs.push(d);
  return d.path;
}

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await command.run(args, { stdout, stderr: new PassThrough(), env: {}, signal: new AbortController().signal });
  return { code, out };
}

describe('onion client authorisation list', () => {
  it('adds, lists and removes clients; stores only public keys, 0600', async () => {
    const d = await dir();
    const added = await addClient(d, 'phone', { now: () => 0 });
    expect(clientAuthPublicFromPrivate(added.privateKey)).toBe(added.client.publicKey);
    expect(await listClients(d)).toEqual([{ name: 'phone', publicKey: added.client.publicKey, createdAt: '1970-01-01T00:00:00.000Z' }]);
    expect((await stat(join(d, CLIENTS_FILE))).mode & 0o777).toBe(0o600);
    await expect(addClient(d, 'phone')).rejects.toMatchObject({ code: 'NG_USAGE' });
    await expect(addClient(d, 'bad name!')).rejects.toMatchObject({ code: 'NG_USAGE' });
    await removeClient(d, 'phone');
    expect(await listClients(d)).toEqual([]);
    await expect(removeClient(d, 'phone')).rejects.toMatchObject({ code: 'NG_USAGE' });
  });

  it('reports a damaged client list as NG_FILE_CORRUPT', async () => {
    const d = await dir();
    await writeFile(join(d, CLIENTS_FILE), '{"version":1,"clients":[{"name":"x"}]}');
    await expect(listClients(d)).rejects.toMatchObject({ code: 'NG_FILE_CORRUPT' });
  });

  it('nodegate tor client add|list|remove --json print the key once and the list without secrets', async () => {
    const data = await dir();
    const add = await cli(['client', 'add', 'wallet', '--data', data, '--json']);
    expect(add.code).toBe(0);
    const added = JSON.parse(add.out) as { address: string; privateKey: string; authLine: string; publicKey: string };
    expect(isOnionAddress(added.address)).toBe(true);
    expect(added.authLine).toBe(`${added.address.replace('.onion', '')}:descriptor:x25519:${added.privateKey}`);
    const list = await cli(['client', 'list', '--data', data, '--json']);
    expect(JSON.parse(list.out)).toEqual({ clients: [{ name: 'wallet', publicKey: added.publicKey, createdAt: expect.any(String) as string }] });
    expect(list.out).not.toContain(added.privateKey);
    const address = await cli(['address', '--data', data, '--json']);
    expect(JSON.parse(address.out)).toEqual({ address: added.address });
    expect((await cli(['client', 'remove', 'wallet', '--data', data, '--json'])).out).toBe('{\n  "removed": "wallet"\n}\n');
    await expect(cli(['client', 'frobnicate', '--data', data])).rejects.toMatchObject({ code: 'NG_USAGE' });
  });
});
