/**
 * `nodegate registry` as a child process (the real CLI), for integration tests.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startProcess, type RunningProcess } from '../../sim/process.ts';

const run = promisify(execFile);

export interface RegistryProcess {
  process: RunningProcess;
  apiUrl: string;
  dns: { host: string; port: number };
}

/** Starts `node bin/nodegate.js registry ARGS` and waits for its ready line. */
export async function startRegistryProcess(args: string[]): Promise<RegistryProcess> {
  // A STUN echo on a free port unless the test names one: the default (3478) may be taken.
  const stun = args.includes('--stun') ? [] : ['--stun', '127.0.0.1:0'];
  const proc = startProcess(process.execPath, ['bin/nodegate.js', 'registry', ...args, ...stun], { env: { ...process.env, NODEGATE_LOG_LEVEL: 'warn' } });
  try {
    const line = await proc.waitFor(/registry ready: api=\S+ dns=\S+ zone=\S+/, 30_000);
    const m = /api=(\S+) dns=(\S+):(\d+) zone=/.exec(line)!;
    return { process: proc, apiUrl: m[1]!, dns: { host: m[2]!, port: Number(m[3]) } };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/** Runs `node bin/nodegate.js ARGS` to completion; returns its exit code and output. */
export async function runNodegate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/nodegate.js', ...args], { timeout: 30_000, env: { ...process.env, NODEGATE_LOG_LEVEL: 'warn' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** `dig +short @HOST -p PORT NAME TYPE` lines (sorted). */
export async function dig(server: { host: string; port: number }, name: string, type: string): Promise<string[]> {
  const { stdout } = await run('dig', ['+short', '+time=2', '+tries=1', `@${server.host}`, '-p', String(server.port), name, type], { timeout: 10_000 });
  return stdout.split('\n').filter((l) => l !== '').sort();
}
