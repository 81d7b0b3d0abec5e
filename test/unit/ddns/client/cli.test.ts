// `nodegate doctor` failures name the problem and the fix, with exit 2 for usage/config problems.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../../sim/process.ts';

const run = promisify(execFile);
type Failure = { code: number; stderr: string; stdout: string };

describe('nodegate doctor', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    dir = await tempDir('ngr-doctor-');
  });
  afterAll(async () => {
    await dir.remove();
  });

  it('an unregistered node: exit 2, says to run nodegate init', async () => {
    const err = (await run('node', ['bin/nodegate.js', 'doctor', '--data', dir.path, '--json']).catch((e: unknown) => e)) as Failure;
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('nodegate init');
    expect(err.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });

  it('an unknown language: exit 2 with the choices', async () => {
    const err = (await run('node', ['bin/nodegate.js', 'doctor', '--data', dir.path, '--lang', 'xx']).catch((e: unknown) => e)) as Failure;
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('en, es, pt-BR, de, fr');
  });
});
