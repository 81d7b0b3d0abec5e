import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseHostPort } from '../../../core/cli.ts';
import { isNodegateError } from '../../../core/errors.ts';

const run = promisify(execFile);

describe('nodegate command line', () => {
  it('prints help and exits 0', async () => {
    const { stdout } = await run('node', ['bin/nodegate.js', '--help']);
    expect(stdout).toContain('usage: nodegate <command>');
    expect(stdout).toContain('registry');
  });

  it('exits 2 on an unknown command', async () => {
    const err = (await run('node', ['bin/nodegate.js', 'frobnicate']).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('unknown command "frobnicate"');
  });

  it('parses HOST:PORT and bracketed IPv6', () => {
    expect(parseHostPort('127.0.0.1:53', '--dns')).toEqual({ host: '127.0.0.1', port: 53 });
    expect(parseHostPort('[::1]:443', '--https')).toEqual({ host: '::1', port: 443 });
    const err = (() => {
      try {
        parseHostPort('localhost', '--api');
      } catch (e) {
        return e;
      }
    })();
    expect(isNodegateError(err, 'NG_USAGE')).toBe(true);
  });
});
