import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import { readFile, writeFile, stat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FileCertStore, encodePairFile } from '../../../certs/store.ts';
import { createSelfSigned } from '../../../certs/selfsigned.ts';
import type { CertPair } from '../../../certs/cert-info.ts';
import { tempDir } from '../../../sim/process.ts';

let a: CertPair;
let b: CertPair;
const dirs: Array<{ remove(): Promise<void> }> = [];

beforeAll(async () => {
  a = await createSelfSigned(['a.example.test']);
  b = await createSelfSigned(['b.example.test']);
});
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.remove();
});

async function freshStore() {
  const d = await tempDir();
  dirs.push(d);
  const dir = join(d.path, 'certs');
  return { dir, store: new FileCertStore(dir) };
}

describe('FileCertStore', () => {
  it('is empty at first: no pair, no problems', async () => {
    const { store } = await freshStore();
    expect(await store.load()).toEqual({ pair: undefined, problems: [] });
  });

  it('saves key and chain in one 0600 file and keeps the previous pair', async () => {
    const { dir, store } = await freshStore();
    await store.save(a.keyPem, a.chainPem);
    await store.save(b.keyPem, b.chainPem);
    expect((await stat(join(dir, 'current.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'previous.pem'))).mode & 0o777).toBe(0o600);
    const { pair, problems } = await store.load();
    expect(problems).toEqual([]);
    expect(pair?.info.fingerprint256).toBe(b.info.fingerprint256);
    expect(await readFile(join(dir, 'previous.pem'), 'utf8')).toBe(encodePairFile(a.keyPem, a.chainPem));
  });

  it('refuses to save a key that does not match the certificate (NG_CERT_KEY_MISMATCH) and keeps the old pair', async () => {
    const { store } = await freshStore();
    await store.save(a.keyPem, a.chainPem);
    await expect(store.save(b.keyPem, a.chainPem)).rejects.toMatchObject({ code: 'NG_CERT_KEY_MISMATCH' });
    expect((await store.load()).pair?.info.fingerprint256).toBe(a.info.fingerprint256);
  });

  it('reports a truncated current.pem (NG_CERT_STORE_CORRUPT) and serves the previous pair', async () => {
    const { dir, store } = await freshStore();
    await store.save(a.keyPem, a.chainPem);
    await store.save(b.keyPem, b.chainPem);
    const full = await readFile(join(dir, 'current.pem'), 'utf8');
    await writeFile(join(dir, 'current.pem'), full.slice(0, full.length - 200));
    const { pair, problems } = await store.load();
    expect(problems.map((p) => p.code)).toEqual(['NG_CERT_STORE_CORRUPT']);
    expect(pair?.info.fingerprint256).toBe(a.info.fingerprint256);
  });

  it('reports garbage and a mismatched pair on disk, and uses the last good one', async () => {
    const { dir, store } = await freshStore();
    await store.save(a.keyPem, a.chainPem);
    await store.save(b.keyPem, b.chainPem);
    await writeFile(join(dir, 'current.pem'), encodePairFile(a.keyPem, b.chainPem)); // key of a, cert of b
    let result = await store.load();
    expect(result.problems.map((p) => p.code)).toEqual(['NG_CERT_KEY_MISMATCH']);
    expect(result.pair?.info.fingerprint256).toBe(a.info.fingerprint256);
    await writeFile(join(dir, 'current.pem'), Buffer.from([0, 1, 2, 3, 255]));
    await writeFile(join(dir, 'previous.pem'), '');
    result = await store.load();
    expect(result.problems.map((p) => p.code)).toEqual(['NG_CERT_STORE_CORRUPT', 'NG_CERT_STORE_CORRUPT']);
    expect(result.pair).toBeUndefined();
  });

  it('does not overwrite the last good previous.pem with a corrupt current.pem when saving', async () => {
    const { dir, store } = await freshStore();
    await store.save(a.keyPem, a.chainPem);
    await store.save(b.keyPem, b.chainPem); // previous = a
    await writeFile(join(dir, 'current.pem'), 'garbage');
    const c = await createSelfSigned(['c.example.test']);
    await store.save(c.keyPem, c.chainPem);
    expect(await readFile(join(dir, 'previous.pem'), 'utf8')).toBe(encodePairFile(a.keyPem, a.chainPem));
  });

  it('removes temporaries a killed writer left behind', async () => {
    const { dir, store } = await freshStore();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '.ng-tmp-current.pem.123.abcdef'), 'half a key');
    await store.save(a.keyPem, a.chainPem);
    await store.load();
    expect((await readdir(dir)).sort()).toEqual(['current.pem']);
  });
});
