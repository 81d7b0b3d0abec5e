/**
 * Crash-safe file writes. A reader sees either the old content or the new, never a mix or a torn
 * file, even across kill -9 or power loss: write a temporary file in the same directory, fsync it,
 * rename it over the target (atomic on POSIX within one filesystem), then fsync the directory so the
 * rename itself is durable.
 */
import { open, rename, unlink, mkdir, readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { NodegateError } from './errors.ts';

export interface AtomicWriteOptions {
  /** File mode of the new file; default 0o644. Secrets use 0o600. */
  mode?: number;
}

const TEMP_PREFIX = '.ng-tmp-';

/** Writes `data` to `path` atomically and durably. Creates the directory (0700) if missing. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `${TEMP_PREFIX}${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const handle = await open(tmp, 'wx', options.mode ?? 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    await fsyncDir(dir);
  } catch (err) {
    await unlink(tmp).catch(() => undefined); // the temp may not exist; the real error is `err`
    throw new NodegateError('NG_FILE_IO', `Could not write ${path}: ${(err as Error).message}. Check that the directory exists, is writable and the disk is not full.`, { cause: err });
  }
}

/** fsync a directory so that a rename or unlink inside it survives power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Removes temporaries that a killed writer left in `dir`. Safe to call at start-up. */
export async function removeStaleTemporaries(dir: string): Promise<number> {
  let removed = 0;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0; // no directory, nothing to clean
  }
  for (const name of names) {
    if (name.startsWith(TEMP_PREFIX)) {
      await unlink(join(dir, name)).catch(() => undefined);
      removed++;
    }
  }
  return removed;
}

/** Reads a file, or returns undefined when it does not exist. Other errors are NG_FILE_IO. */
export async function readFileIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new NodegateError('NG_FILE_IO', `Could not read ${path}: ${(err as Error).message}.`, { cause: err });
  }
}

/** Writes a JSON value atomically (pretty-printed, trailing newline). */
export async function writeJsonAtomic(path: string, value: unknown, options: AtomicWriteOptions = {}): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n', options);
}
