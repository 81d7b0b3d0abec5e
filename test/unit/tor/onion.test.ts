import { afterEach, describe, expect, it } from 'vitest';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ONION_KEY_FILE, loadOrCreateOnionKey, readOnionAddress } from '../../../tor/onion.ts';
import { tempDir } from '../../../sim/process.ts';

const dirs: Array<{ remove(): Promise<void> }> = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.remove();
});
async function dir() {
  const d = await tempDir('nodegate-onion-');
  dirs.push(d);
  return d.path;
}

describe('stored onion key', () => {
  it('is created once (0600) and yields the same address ever after', async () => {
    const d = await dir();
    const first = await loadOrCreateOnionKey(d);
    expect(first.created).toBe(true);
    expect((await stat(join(d, ONION_KEY_FILE))).mode & 0o777).toBe(0o600);
    const again = await loadOrCreateOnionKey(d);
    expect(again.created).toBe(false);
    expect(again.key.address).toBe(first.key.address);
  });

  it('readOnionAddress reports the address without ever creating a key', async () => {
    const d = await dir();
    expect(await readOnionAddress(d)).toBeUndefined();
    const { key } = await loadOrCreateOnionKey(d);
    expect(await readOnionAddress(d)).toBe(`${key.address}.onion`);
    await writeFile(join(d, ONION_KEY_FILE), 'garbage');
    await expect(readOnionAddress(d)).rejects.toMatchObject({ code: 'NG_TOR_KEY_CORRUPT' });
  });

  it.each([
    ['not JSON', () => '{"version":1,'],
    ['a truncated seed', (s: string) => s.replace(/"seed": "([^"]{10})[^"]*"/, '"seed": "$1"')],
    // change the seed's first character to a different one (a fixed "A" was a no-op 1 time in 64)
    ['a seed that does not match the address', (s: string) => s.replace(/"seed": "(.)/, (_m, c: string) => `"seed": "${c === 'A' ? 'B' : 'A'}`)],
    ['an empty file', () => ''],
  ])('a corrupt key (%s) is reported as NG_TOR_KEY_CORRUPT and left untouched', async (_what, damage) => {
    const d = await dir();
    await loadOrCreateOnionKey(d);
    const path = join(d, ONION_KEY_FILE);
    const damaged = damage(await readFile(path, 'utf8'));
    await writeFile(path, damaged);
    await expect(loadOrCreateOnionKey(d)).rejects.toMatchObject({ code: 'NG_TOR_KEY_CORRUPT' });
    expect(await readFile(path, 'utf8')).toBe(damaged);
  });
});
