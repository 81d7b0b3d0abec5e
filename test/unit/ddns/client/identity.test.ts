import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFile, readdir, stat, utimes, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { base32LowerNoPad, deviceIdFromPublicKey, DEVICE_KEY_FILE, loadIdentity, loadOrCreateIdentity } from '../../../../ddns/client/identity.ts';
import { tempDir } from '../../../../sim/process.ts';

let dir: { path: string; remove(): Promise<void> };
beforeEach(async () => {
  dir = await tempDir('ng-identity-');
});
afterEach(async () => {
  await dir.remove();
});

describe('device id', () => {
  it('is RFC 4648 base32, lower case, unpadded (RFC 4648 §10 vectors)', () => {
    expect(base32LowerNoPad(Buffer.from('foobar'))).toBe('mzxw6ytboi');
    expect(base32LowerNoPad(Buffer.from('f'))).toBe('my');
    expect(base32LowerNoPad(Buffer.alloc(0))).toBe('');
  });

  it('is 16 chars of base32 of the first 10 bytes of SHA-256(raw key)', () => {
    // SHA-256 of 32 zero bytes = 66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925
    expect(deviceIdFromPublicKey(new Uint8Array(32))).toBe(base32LowerNoPad(Buffer.from('66687aadf862bd776c8f', 'hex')));
    expect(deviceIdFromPublicKey(new Uint8Array(32))).toHaveLength(16);
  });

  it('rejects a key that is not 32 bytes (TypeError: caller misuse)', () => {
    expect(() => deviceIdFromPublicKey(new Uint8Array(31))).toThrow(TypeError);
  });
});

describe('device key file', () => {
  it('is created once, mode 0600, and loaded unchanged afterwards', async () => {
    const first = await loadOrCreateIdentity(dir.path);
    const path = join(dir.path, DEVICE_KEY_FILE);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const second = await loadOrCreateIdentity(dir.path);
    expect(second.id).toBe(first.id);
    expect(second.publicJwk).toEqual(first.publicJwk);
  });

  it('two concurrent creations end with one key', async () => {
    const [a, b] = await Promise.all([loadOrCreateIdentity(dir.path), loadOrCreateIdentity(dir.path)]);
    expect(a.id).toBe(b.id);
  });

  it('a corrupt key file is NG_FILE_CORRUPT and is never replaced', async () => {
    await mkdir(join(dir.path, 'device'), { recursive: true });
    const path = join(dir.path, DEVICE_KEY_FILE);
    await writeFile(path, '{"kty":"OKP","crv":"Ed25519"', { mode: 0o600 });
    await expect(loadOrCreateIdentity(dir.path)).rejects.toMatchObject({ code: 'NG_FILE_CORRUPT' });
    await expect(loadIdentity(dir.path)).rejects.toMatchObject({ code: 'NG_FILE_CORRUPT' });
    expect(await readFile(path, 'utf8')).toBe('{"kty":"OKP","crv":"Ed25519"');
  });

  it('a key file whose x does not match d is NG_FILE_CORRUPT', async () => {
    const a = await loadOrCreateIdentity(dir.path);
    const path = join(dir.path, DEVICE_KEY_FILE);
    const jwk = JSON.parse(await readFile(path, 'utf8'));
    jwk.x = Buffer.alloc(32, 1).toString('base64url');
    await writeFile(path, JSON.stringify(jwk));
    expect(a.id).toMatch(/^[a-z2-7]{16}$/);
    await expect(loadIdentity(dir.path)).rejects.toMatchObject({ code: 'NG_FILE_CORRUPT' });
  });
});

describe('left-overs of a killed creator', () => {
  it('removes a stale staging copy and still creates exactly one key', async () => {
    await mkdir(join(dir.path, 'device'), { recursive: true });
    const stale = join(dir.path, 'device', 'key.jwk.new-1-deadbeef');
    await writeFile(stale, '{}');
    const old = new Date(Date.now() - 3_600_000);
    await utimes(stale, old, old);
    await loadOrCreateIdentity(dir.path);
    expect((await readdir(join(dir.path, 'device'))).sort()).toEqual(['key.jwk']);
  });
});
