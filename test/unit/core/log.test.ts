// The two log formats: JSON lines through a pipe or with --log-format json, short human lines on a
// terminal (a real pty from util-linux `script`), secrets redacted in both.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { prettyLine } from '../../../core/log.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHILD = ['bin/run-ts.js', 'test/fixtures/log/log-lines.ts'];
/** The child's environment: no VITEST (it would make the logger silent), no NO_COLOR, no format. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !['VITEST', 'NO_COLOR', 'NODEGATE_LOG_FORMAT', 'NODEGATE_LOG_LEVEL', 'VITEST_POOL_ID', 'VITEST_WORKER_ID'].includes(k)));
const CLOCK = String.raw`\d\d:\d\d:\d\d\.\d{3}`;

/** stderr of the child through a pipe (2>&1 into execFileSync's stdout pipe). */
function piped(...args: string[]): string {
  return execFileSync('sh', ['-c', `"${process.execPath}" ${CHILD.join(' ')} ${args.join(' ')} 2>&1`], { cwd: ROOT, env, encoding: 'utf8' });
}
/** The child on a pseudo-terminal: what a person at a terminal sees. */
function onTerminal(...args: string[]): string {
  const cmd = `"${process.execPath}" ${CHILD.join(' ')} ${args.join(' ')}`;
  return execFileSync('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, env: { ...env, TERM: 'xterm' }, encoding: 'utf8' }).replace(/\r\n/g, '\n');
}

describe('log format', () => {
  it('is JSON lines through a pipe, and with --log-format json on a terminal', () => {
    for (const out of [piped(), onTerminal('json')]) {
      const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toMatchObject([
        { level: 30, name: 'gateway', msg: 'gateway listening', listen: { host: '127.0.0.1', port: 8443 } },
        { level: 40, name: 'gateway', msg: 'tor did not start', code: 'NG_TOR_START', password: '[redacted]' },
      ]);
    }
  });

  it('is one short coloured line per entry on a terminal', () => {
    const esc = '\x1b';
    const tty = onTerminal();
    expect(tty).toMatch(new RegExp(String.raw`^${esc}\[2m${CLOCK}${esc}\[0m ${esc}\[32mINFO ${esc}\[0m gateway: gateway listening listen=\{"host":"127\.0\.0\.1","port":8443\}\n${esc}\[2m${CLOCK}${esc}\[0m ${esc}\[33mWARN ${esc}\[0m gateway: tor did not start code=NG_TOR_START password=\[redacted\]\n$`));
  });

  it('prints an error’s stack on indented lines and passes a non-JSON line through', () => {
    const line = JSON.stringify({ level: 50, time: 0, name: 'certs', msg: 'renewal failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at a (x.ts:1:1)\n    at b (y.ts:2:2)' } });
    expect(prettyLine(line, false)).toMatch(new RegExp(String.raw`^${CLOCK} ERROR certs: renewal failed err=boom\n    at a \(x\.ts:1:1\)\n    at b \(y\.ts:2:2\)\n$`));
    expect(prettyLine('not json', false)).toBe('not json\n');
    expect(prettyLine(JSON.stringify({ level: 30, time: 0, msg: 'x', path: '/a b' }), false)).toMatch(new RegExp(String.raw`^${CLOCK} INFO  x path="/a b"\n$`));
  });
});
