import { describe, it, expect, afterEach } from 'vitest';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, removeStaleTemporaries, readFileIfExists } from '../../../core/atomic-file.ts';
import { isNodegateError } from '../../../core/errors.ts';
import { tempDir } from '../../../sim/process.ts';

const dirs: Array<{ remove(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => d.remove()));
});

describe('writeFileAtomic', () => {
  it('replaces content and leaves no temporary behind', async () => {
    const d = await tempDir();
    dirs.push(d);
    const file = join(d.path, 'a.json');
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, 'two');
    expect(await readFile(file, 'utf8')).toBe('two');
    expect(await readdir(d.path)).toEqual(['a.json']);
  });

  it('creates secrets with mode 0600', async () => {
    const d = await tempDir();
    dirs.push(d);
    const file = join(d.path, 'sub', 'key.pem');
    await writeFileAtomic(file, 'secret', { mode: 0o600 });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('fails with NG_FILE_IO when the directory cannot be created', async () => {
    const d = await tempDir();
    dirs.push(d);
    await writeFile(join(d.path, 'plain'), 'x');
    const err = await writeFileAtomic(join(d.path, 'plain', 'x.json'), 'y').catch((e: unknown) => e);
    expect(isNodegateError(err, 'NG_FILE_IO')).toBe(true);
  });

  it('cleans temporaries a killed writer left behind', async () => {
    const d = await tempDir();
    dirs.push(d);
    await writeFile(join(d.path, '.ng-tmp-cert.pem.123.abcd'), 'torn');
    await writeFile(join(d.path, 'cert.pem'), 'good');
    expect(await removeStaleTemporaries(d.path)).toBe(1);
    expect(await readdir(d.path)).toEqual(['cert.pem']);
    expect(await readFileIfExists(join(d.path, 'missing'))).toBeUndefined();
  });
});
