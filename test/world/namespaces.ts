/**
 * The Linux network namespaces a test world creates (netns.ts, e2e-world.ts), the veth pairs between
 * them and the processes started in them: `destroy()` stops every process by PID and deletes every
 * namespace. Needs root.
 */
import { execFileSync } from 'node:child_process';
import { startProcess, type RunningProcess } from '../../sim/process.ts';

/** Runs a command and returns stdout; throws with its stderr (and stdout) on failure. */
export function runCommand(command: string, args: string[], timeoutMs = 10_000, env?: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.stderr || e.message}${e.stdout ? `\nstdout: ${e.stdout.slice(-2000)}` : ''}`, { cause: err });
  }
}

/** Its members are closures: they may be passed around detached (`const { ip } = namespaces`). */
export interface Namespaces {
  /** `ip -n <ns> ...`. */
  readonly ip: (ns: string, ...args: string[]) => string;
  /** Runs a command in a namespace and returns stdout; throws with stderr (and stdout) on failure. */
  readonly exec: (ns: string, command: string, args: string[], timeoutMs?: number, env?: NodeJS.ProcessEnv) => string;
  /** Creates a namespace with its loopback up. */
  readonly add: (ns: string) => void;
  /** A veth pair from `aIf` in `a` to `bIf` in `b`, both ends up. */
  readonly link: (a: string, aIf: string, b: string, bIf: string) => void;
  /** Starts a long-running process in a namespace (`ip netns exec` execs it: same PID). */
  readonly spawn: (ns: string, command: string, args: string[], env?: NodeJS.ProcessEnv) => RunningProcess;
  /** Forgets a process that exited or was stopped (so destroy() does not wait on it). */
  readonly forget: (p: RunningProcess) => void;
  /**
   * Stops every process by PID, then deletes the namespaces, last created first. With `killLeftovers`,
   * whatever still runs in a namespace (a child a killed process left behind) is killed before it is
   * deleted. Resolves with what failed, for the caller to report once the rest is cleaned up.
   */
  readonly destroy: (options?: { killLeftovers?: boolean }) => Promise<unknown[]>;
}

/** @param commandTimeoutMs the bound on every command run here that names none, ms. */
export function createNamespaces(commandTimeoutMs: number): Namespaces {
  const created: string[] = [];
  const processes = new Set<RunningProcess>();
  const run = (command: string, args: string[], timeoutMs = commandTimeoutMs, env?: NodeJS.ProcessEnv) => runCommand(command, args, timeoutMs, env);
  const ip = (n: string, ...args: string[]) => run('ip', ['-n', n, ...args]);
  return {
    ip,
    exec: (n, command, args, timeoutMs, env) => run('ip', ['netns', 'exec', n, command, ...args], timeoutMs, env),
    add(n) {
      run('ip', ['netns', 'add', n]);
      created.push(n);
      ip(n, 'link', 'set', 'lo', 'up');
    },
    link(a, aIf, b, bIf) {
      run('ip', ['link', 'add', aIf, 'netns', a, 'type', 'veth', 'peer', 'name', bIf, 'netns', b]);
      ip(a, 'link', 'set', aIf, 'up');
      ip(b, 'link', 'set', bIf, 'up');
    },
    spawn(n, command, args, env) {
      const p = startProcess('ip', ['netns', 'exec', n, command, ...args], env ? { env: { ...process.env, ...env } } : {});
      processes.add(p);
      return p;
    },
    forget(p) {
      processes.delete(p);
    },
    async destroy(options = {}) {
      const errors: unknown[] = [];
      for (const p of processes) {
        try {
          await p.stop(2_000);
        } catch (err) {
          errors.push(err);
        }
      }
      processes.clear();
      for (const n of created.reverse()) {
        try {
          if (options.killLeftovers) {
            for (const pid of run('ip', ['netns', 'pids', n]).split('\n').map(Number).filter((p) => p > 0)) {
              try {
                process.kill(pid, 'SIGKILL');
              } catch {
                // exited meanwhile
              }
            }
          }
          run('ip', ['netns', 'del', n]);
        } catch (err) {
          errors.push(err);
        }
      }
      return errors;
    },
  };
}
