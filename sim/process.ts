/**
 * Real daemons for tests (pebble, knot, tor, miniupnpd, nginx...): started with a bounded wait for
 * readiness, stopped by their PID (SIGTERM, then SIGKILL after a grace period), never by name.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

export interface RunningProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves when a line matching `pattern` has been printed (bounded by `timeoutMs`). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
  readonly exited: Promise<number | null>;
}

export function startProcess(command: string, args: string[], options: SpawnOptions = {}): RunningProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    if (out.length > 1_000_000) out = out.slice(-500_000);
    for (const w of waiters) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code, signal) => {
      exitCode = code ?? (signal ? -1 : null);
      for (const w of waiters) w();
      resolve(exitCode);
    });
    child.on('error', (err) => {
      out += `\n[spawn error] ${err.message}\n`;
      exitCode = -1;
      for (const w of waiters) w();
      resolve(-1);
    });
  });
  if (child.pid === undefined) {
    // spawn failed synchronously (e.g. ENOENT): `exited` resolves with -1 through 'error'.
  }
  return {
    get pid() {
      return child.pid ?? -1;
    },
    child,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out);
          if (m) {
            cleanup();
            resolve(m[0]);
          } else if (exitCode !== undefined) {
            cleanup();
            reject(new Error(`${command} exited (${exitCode}) before printing ${pattern}:\n${out.slice(-4000)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${command} did not print ${pattern} within ${timeoutMs} ms:\n${out.slice(-4000)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(graceMs = 3000) {
      if (exitCode !== undefined || child.pid === undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A fresh temporary directory and its removal. */
export async function tempDir(prefix = 'nodegate-test-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Stops a daemon a harness started (by its PID), then removes its folder, even when the stop failed. */
export async function stopThenRemove(running: RunningProcess, dir: { remove(): Promise<void> }): Promise<void> {
  try {
    await running.stop();
  } finally {
    await dir.remove();
  }
}

/** A TCP port free on 127.0.0.1 right now (for daemons that cannot be told to use port 0). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
