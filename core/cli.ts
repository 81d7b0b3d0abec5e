/**
 * What every `nodegate` subcommand needs: argument parsing that fails with NG_USAGE (exit 2) and the
 * command's usage text, the data directory from `--data` or `NODEGATE_DATA`, and one-object JSON
 * output for `--json`.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolve } from 'node:path';
import { NodegateError } from './errors.ts';

/** What a command may touch: its streams, environment and a signal that ends it (SIGINT/SIGTERM). */
export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
}

/** A subcommand module exports one of these as `command`. Returns the exit code. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(args: string[], io: CommandIO): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses `args` strictly; unknown flags or missing values are NG_USAGE with `usage` appended. */
export function parseCommandArgs<O extends Options>(args: string[], options: O, usage: string, allowPositionals = false) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (err) {
    const hint =
      allowPositionals && (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? "\nAn argument that begins with '-' (such as a token id) goes after `--`, e.g. `nodegate token revoke --data DIR -- -Xy12`."
        : '';
    throw new NodegateError('NG_USAGE', `${(err as Error).message}${hint}\n\n${usage}`, { cause: err });
  }
}

/** The data directory: `--data DIR`, else `NODEGATE_DATA`, else NG_USAGE. */
export function resolveDataDir(data: string | undefined, env: NodeJS.ProcessEnv, usage: string): string {
  const dir = data ?? env.NODEGATE_DATA;
  if (!dir) throw new NodegateError('NG_USAGE', `Missing --data DIR (or set NODEGATE_DATA).\n\n${usage}`);
  return resolve(dir);
}

/** Parses `HOST:PORT` (IPv6 as `[::1]:443`). */
export function parseHostPort(value: string, flag: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new NodegateError('NG_USAGE', `${flag} expects HOST:PORT (for example 127.0.0.1:8443 or [::1]:8443), got "${value}".`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

export function writeJson(io: CommandIO, value: unknown): void {
  io.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Resolves when `signal` aborts. */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolveWait) => {
    if (signal.aborted) resolveWait();
    else signal.addEventListener('abort', () => resolveWait(), { once: true });
  });
}

/** A command whose part has not landed yet: says so plainly (exit 1). Removed as parts land. */
export function notYetBuilt(name: string, usage: string): Command {
  return {
    name,
    summary: 'not built yet',
    usage,
    run() {
      return Promise.reject(new NodegateError('NG_INTERNAL', `\`nodegate ${name}\` is not built yet in this version.`));
    },
  };
}
