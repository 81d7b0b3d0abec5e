import { describe, it, expect } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireLock, LOCK_STALE_MS } from '../../../certs/lock.ts';
import { startProcess, tempDir } from '../../../sim/process.ts';

describe('renewal lock', () => {
  it('refuses a second holder with NG_LOCKED naming the PID of another process, and is taken over once that process is killed', async () => {
    const d = await tempDir();
    const path = join(d.path, 'certs', 'renew.lock');
    const child = startProcess(process.execPath, ['bin/run-ts.js', 'test/unit/certs/child-helper.ts', 'hold-lock', path]);
    try {
      await child.waitFor(/locked/, 20_000);
      await expect(acquireLock(path)).rejects.toMatchObject({ code: 'NG_LOCKED', details: { pid: child.pid } });
      await expect(acquireLock(path, { waitMs: 300 })).rejects.toMatchObject({ code: 'NG_LOCKED' });
      child.child.kill('SIGKILL');
      await child.exited;
      const lock = await acquireLock(path);
      await lock.release();
    } finally {
      await child.stop();
      await d.remove();
    }
  });

  it('waits for a holder in this process to release', async () => {
    const d = await tempDir();
    try {
      const path = join(d.path, 'renew.lock');
      const first = await acquireLock(path);
      await expect(acquireLock(path)).rejects.toMatchObject({ code: 'NG_LOCKED' });
      setTimeout(() => void first.release(), 100);
      const second = await acquireLock(path, { waitMs: 5000 });
      await second.release();
    } finally {
      await d.remove();
    }
  });

  it('breaks a lock older than LOCK_STALE_MS even when its PID is alive', async () => {
    const d = await tempDir();
    try {
      const path = join(d.path, 'renew.lock');
      await writeFile(path, JSON.stringify({ pid: process.pid, acquiredAt: Date.now() - LOCK_STALE_MS - 1 }));
      const lock = await acquireLock(path);
      await lock.release();
    } finally {
      await d.remove();
    }
  });
});
