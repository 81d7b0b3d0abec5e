/**
 * A lock between processes on one machine, so two `nodegate` processes (the daemon and a
 * `nodegate certs renew`) never talk to the CA for the same names at once. An O_EXCL lock file
 * holds `{ pid, acquiredAt }`; a lock whose process is gone (kill -9) or that is older than
 * {@link LOCK_STALE_MS} is stale and is taken over.
 */
import { open, readFile, unlink, mkdir, rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NodegateError } from '../core/errors.ts';

/** A holder that has not released after this long is presumed hung: 15 minutes, longer than any issuance. */
export const LOCK_STALE_MS = 15 * 60 * 1000;
/** Pause between two attempts while waiting: 200 ms. */
export const LOCK_RETRY_MS = 200;

export interface LockHandle {
  readonly path: string;
  release(): Promise<void>;
}

export interface LockOptions {
  /** How long to wait for a held lock before NG_LOCKED, ms. Default 0: fail at once. */
  waitMs?: number;
  signal?: AbortSignal;
  now?: () => number;
  /** Whether a PID is alive; injected for tests. */
  isAlive?: (pid: number) => boolean;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface LockContent {
  pid: number;
  acquiredAt: number;
}

async function readHolder(path: string): Promise<LockContent | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockContent>;
    if (typeof parsed.pid === 'number' && typeof parsed.acquiredAt === 'number') return { pid: parsed.pid, acquiredAt: parsed.acquiredAt };
    return undefined;
  } catch {
    return undefined; // gone, or torn by a crash between create and write: treated as stale below
  }
}

/**
 * Takes the lock at `path`, waiting up to `waitMs`.
 * @throws NG_LOCKED naming the holder's PID when it stays held.
 */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<LockHandle> {
  const now = options.now ?? Date.now;
  const isAlive = options.isAlive ?? processAlive;
  const deadline = now() + (options.waitMs ?? 0);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(JSON.stringify({ pid: process.pid, acquiredAt: now() } satisfies LockContent));
        await handle.sync();
      } finally {
        await handle.close();
      }
      let released = false;
      return {
        path,
        async release() {
          if (released) return;
          released = true;
          const holder = await readHolder(path);
          if (holder?.pid === process.pid) await unlink(path).catch(() => undefined); // already gone: nothing to release
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new NodegateError('NG_FILE_IO', `Could not create the lock ${path}: ${(err as Error).message}.`, { cause: err });
      }
    }
    const holder = await readHolder(path);
    const stale = holder === undefined ? await olderThanGrace(path, now) : !isAlive(holder.pid) || now() - holder.acquiredAt > LOCK_STALE_MS;
    if (stale) {
      // Move the stale file aside with a unique name first, so two processes breaking the same
      // stale lock cannot both delete a fresh lock the other one just made.
      const aside = `${path}.stale.${process.pid}.${now()}`;
      await rename(path, aside).then(() => unlink(aside), () => undefined);
      continue;
    }
    if (now() >= deadline) {
      throw new NodegateError('NG_LOCKED', `Another nodegate process (PID ${holder?.pid ?? 'unknown'}) is renewing the certificate (lock ${path}). Wait for it to finish, or remove the file if that process is gone.`, {
        details: { pid: holder?.pid },
      });
    }
    await sleep(LOCK_RETRY_MS, undefined, { signal: options.signal });
  }
}

/** A lock file without readable content: a writer died between create and write, or is writing now. */
const UNREADABLE_GRACE_MS = 5000;
async function olderThanGrace(path: string, now: () => number): Promise<boolean> {
  try {
    return now() - (await stat(path)).mtimeMs > UNREADABLE_GRACE_MS;
  } catch {
    return true;
  }
}
