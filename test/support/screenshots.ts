/**
 * Where browser tests put their screenshots: docs/screenshots when NODEGATE_UPDATE_SCREENSHOTS=1
 * (to refresh the ones the docs show), else a temporary directory, so a test run leaves the work
 * tree unchanged. Ends with a slash.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function screenshotDir(): string {
  const dir = process.env.NODEGATE_UPDATE_SCREENSHOTS === '1' ? new URL('../../docs/screenshots/', import.meta.url).pathname : join(tmpdir(), 'nodegate-screenshots');
  mkdirSync(dir, { recursive: true });
  return dir.endsWith('/') ? dir : dir + '/';
}
