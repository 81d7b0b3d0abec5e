/**
 * The distribution build (scripts/build.ts, what deploy/systemd/nodegate.service runs): it builds,
 * its chunks run under plain node, and `nodegate start` loads only the packages the daemon needs
 * at start-up (acme-client, the registry's SQLite, x509 generation, QR codes load on first use).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Metafile } from 'esbuild';
import { buildDist, packagesLoadedBy } from '../../scripts/build.ts';
import { tempDir } from '../support/process.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let dir: Awaited<ReturnType<typeof tempDir>>;
let entry: string;
let meta: Metafile;

beforeAll(async () => {
  dir = await tempDir('ng-build-');
  entry = await buildDist(join(dir.path, 'dist'));
  await symlink(join(ROOT, 'node_modules'), join(dir.path, 'node_modules')); // as /opt/nodegate has them
  meta = JSON.parse(await readFile(join(dir.path, 'dist', 'meta.json'), 'utf8')) as Metafile;
}, 120_000);
afterAll(async () => {
  await dir?.remove();
});

describe('distribution build', () => {
  it('runs under plain node: --version, and a command whose chunks load packages (token create)', async () => {
    expect((await run(process.execPath, [entry, '--version'])).stdout).toBe('nodegate 0.1.0\n');
    const data = join(dir.path, 'data');
    const { stdout } = await run(process.execPath, [entry, 'token', 'create', '--data', data, '--scope', 'readonly', '--name', 'built', '--json'], { timeout: 20_000 });
    expect(JSON.parse(stdout)).toMatchObject({ scope: 'readonly', name: 'built' });
    expect((await stat(join(dir.path, 'dist', 'chunks', 'style.css'))).size).toBeGreaterThan(0); // the owner pages read it beside their chunk
  });

  it('`nodegate start` loads only what the daemon needs at start-up', () => {
    const loaded = packagesLoadedBy(meta, 'gateway/cli/start.ts');
    expect(loaded).toEqual(expect.arrayContaining(['undici', 'jose', 'fastify', 'pino']));
    for (const lazy of ['acme-client', '@peculiar/x509', 'qrcode', 'better-sqlite3', '@fastify/swagger', 'macaroon', 'ws']) expect(loaded).not.toContain(lazy);
    // the registry's own command does load its store
    expect(packagesLoadedBy(meta, 'ddns/registry/cli.ts')).toContain('better-sqlite3');
  });
});
