import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clientForRegisteredDevice, registerDevice, REGISTRATION_FILE } from '../../../../ddns/client/enroll.ts';
import { RegistryClient } from '../../../../ddns/client/registry-client.ts';
import { generateIdentity } from '../../../../ddns/client/identity.ts';
import { tempDir } from '../../../../sim/process.ts';
import { startTestRegistry, TEST_ZONE, type TestRegistry } from '../../../support/registry.ts';

let reg: TestRegistry;
beforeAll(async () => {
  reg = await startTestRegistry({ allowAddresses: ['198.51.100.0/24'] });
});
afterAll(async () => {
  await reg?.stop();
});

describe('registerDevice', () => {
  it('registers once, writes registration.json (0600) and reuses it without calling the registry', async () => {
    const dir = await tempDir('ng-enroll-');
    try {
      let calls = 0;
      const counting = (input: string, init: RequestInit) => {
        calls++;
        return fetch(input, init);
      };
      const first = await registerDevice({ dataDir: dir.path, registryUrl: reg.apiUrl, fetch: counting });
      expect(first.registered).toBe(true);
      expect(calls).toBe(2); // nonce + register
      expect(first.registration).toMatchObject({ registryUrl: reg.apiUrl, id: first.identity.id, name: `${first.identity.id}.${TEST_ZONE}`, zone: TEST_ZONE, lanName: `lan.${first.identity.id}.${TEST_ZONE}` });
      const path = join(dir.path, REGISTRATION_FILE);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(first.registration);

      const second = await registerDevice({ dataDir: dir.path, registryUrl: `${reg.apiUrl}/`, fetch: counting });
      expect(second.registered).toBe(false);
      expect(calls).toBe(2);
      expect(second.registration).toEqual(first.registration);
      // the reused client works
      expect((await second.client.updateAddress({ ipv4: '198.51.100.60' })).records.ipv4).toBe('198.51.100.60');
      const { client } = await clientForRegisteredDevice(dir.path);
      expect((await client.device()).records.ipv4).toBe('198.51.100.60');
    } finally {
      await dir.remove();
    }
  });

  it('a corrupt registration.json is NG_FILE_CORRUPT', async () => {
    const dir = await tempDir('ng-enroll-');
    try {
      await registerDevice({ dataDir: dir.path, registryUrl: reg.apiUrl });
      await writeFile(join(dir.path, REGISTRATION_FILE), '{"registryUrl": 1}');
      await expect(registerDevice({ dataDir: dir.path, registryUrl: reg.apiUrl })).rejects.toMatchObject({ code: 'NG_FILE_CORRUPT' });
    } finally {
      await dir.remove();
    }
  });

  it('an unreachable registry is NG_REG_UNAVAILABLE and writes nothing', async () => {
    const dir = await tempDir('ng-enroll-');
    try {
      const refusing = () => Promise.reject(new TypeError('fetch failed'));
      await expect(registerDevice({ dataDir: dir.path, registryUrl: 'http://127.0.0.1:9', fetch: refusing })).rejects.toMatchObject({ code: 'NG_REG_UNAVAILABLE' });
      await expect(stat(join(dir.path, REGISTRATION_FILE))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await dir.remove();
    }
  });
});

describe('RegistryClient', () => {
  it('maps a hanging registry to NG_TIMEOUT and a cancelled call to NG_ABORTED', async () => {
    const hanging = (_input: string, init: RequestInit) =>
      new Promise<Response>((_resolve, reject) => init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
    const controller = new AbortController();
    const pending = RegistryClient.register({ url: reg.apiUrl, identity: generateIdentity(), fetch: hanging, signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'NG_ABORTED' });
  });

  it('signs every call with a fresh token (unique jti, lifetime <= 60 s, aud of the zone)', async () => {
    const identity = generateIdentity();
    const { client } = await RegistryClient.register({ url: reg.apiUrl, identity });
    const [t1, t2] = [await client.token(), await client.token()];
    const claims = (t: string): { jti: string; exp: number; iat: number; aud: string } => JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as { jti: string; exp: number; iat: number; aud: string };
    expect(claims(t1).jti).not.toBe(claims(t2).jti);
    expect(claims(t1).exp - claims(t1).iat).toBeLessThanOrEqual(60);
    expect(claims(t1).aud).toBe(`nodegate-registry:${TEST_ZONE}`);
    expect(JSON.parse(Buffer.from(t1.split('.')[0]!, 'base64url').toString())).toMatchObject({ alg: 'EdDSA', kid: identity.id });
  });

  it('answers that are not the registry API are NG_REG_PROTOCOL', async () => {
    const html = () => Promise.resolve(new Response('<html>hello</html>', { status: 200 }));
    await expect(RegistryClient.register({ url: reg.apiUrl, identity: generateIdentity(), fetch: html })).rejects.toMatchObject({ code: 'NG_REG_PROTOCOL' });
  });
});
