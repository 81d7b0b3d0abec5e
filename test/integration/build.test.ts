/**
 * The distribution build (scripts/build.ts, what deploy/systemd/nodegate.service runs): it builds,
 * its chunks (packages bundled in) run under plain node, the daemon serves LND and the owner pages
 * from it, and `nodegate start` loads only the packages the daemon needs at start-up (acme-client,
 * the registry's SQLite, x509 generation, QR codes load on first use).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Metafile } from 'esbuild';
import { buildDist, packagesLoadedBy } from '../../scripts/build.ts';
import { Client } from 'undici';
import { freePort, startProcess, tempDir } from '../../sim/process.ts';
import { startLndSim } from '../../sim/lnd.ts';
import { makeSelfSignedCert } from '../../sim/self-signed-cert.ts';
import { writeDefaultGatewayConfig } from '../../gateway/config.ts';
import { encodePairFile } from '../../certs/store.ts';

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

  it('the built daemon serves LND through a token and the owner pages, and stops on SIGTERM', async () => {
    const data = join(dir.path, 'data-start');
    const lnd = await startLndSim({ dir: join(dir.path, 'lnd'), unlocked: true });
    try {
      await writeDefaultGatewayConfig(data, { https: `127.0.0.1:${await freePort()}`, serverNames: ['node.test'], lndRestUrl: lnd.url, lndDir: lnd.dir, network: 'mainnet' });
      const cert = makeSelfSignedCert(['node.test']);
      await mkdir(join(data, 'certs'), { recursive: true });
      await writeFile(join(data, 'certs', 'current.pem'), encodePairFile(cert.keyPem, cert.certPem), { mode: 0o600 });
      const { stdout } = await run(process.execPath, [entry, 'token', 'create', '--data', data, '--scope', 'readonly', '--name', 'w', '--json'], { timeout: 20_000 });
      const token = (JSON.parse(stdout) as { token: string }).token;
      const proc = startProcess(process.execPath, [entry, 'start', '--data', data], { env: { ...process.env, NODEGATE_LOG_LEVEL: 'warn' } });
      try {
        const line = await proc.waitFor(/listening on https:\/\/127\.0\.0\.1:(\d+)/, 20_000);
        const client = new Client(`https://127.0.0.1:${/:(\d+)$/.exec(line)![1]}`, { connect: { ca: cert.certPem, servername: 'node.test' } });
        try {
          const info = await client.request({ method: 'GET', path: '/v1/getinfo', headers: { host: 'node.test', authorization: `Bearer ${token}` } });
          expect(info.statusCode).toBe(200);
          expect(((await info.body.json()) as { alias: string }).alias).toBe('nodegate-sim');
          expect(lnd.macaroonHeaders().at(-1)).toBe(lnd.macaroonHex.readonly);
          const login = await client.request({ method: 'GET', path: '/_nodegate/login', headers: { host: 'node.test' } }); // fastify + the owner pages, bundled
          expect(login.statusCode).toBe(200);
          const html = await login.body.text();
          expect(html).toContain('<title>Owner login');
          const css = await client.request({ method: 'GET', path: /href="(\/_nodegate\/style\.css[^"]*)"/.exec(html)![1]!, headers: { host: 'node.test' } }); // read beside its chunk
          expect(css.statusCode).toBe(200);
          expect((await css.body.text()).length).toBeGreaterThan(100);
        } finally {
          await client.close();
        }
        // pairing from the built CLI: the QR code package loads from its bundled chunk
        const pair = await run(process.execPath, [entry, 'pair', '--data', data, '--scope', 'readonly', '--name', 'phone'], { timeout: 20_000 });
        expect(pair.stdout).toMatch(/lndconnect:\/\/node\.test/);
        expect(pair.stdout).toMatch(/[\u2580\u2584\u2588]{5}/); // the terminal QR code's block characters
        proc.child.kill('SIGTERM');
        expect(await proc.exited).toBe(0);
      } finally {
        await proc.stop();
      }
    } finally {
      await lnd.stop();
    }
  });

  it('ships the licence of every package it bundles', async () => {
    const licences = await readFile(join(dir.path, 'dist', 'THIRD_PARTY_LICENSES.txt'), 'utf8');
    for (const name of ['fastify@', 'undici@', 'jose@', 'pino@', '@sinclair/typebox@']) expect(licences).toContain(`\n${name}`);
    expect(licences).toMatch(/Permission is hereby granted, free of charge/); // the MIT text itself, not just its name
  });

  it('ships nothing from test/: the demo takes its simulators from sim/, in a chunk of its own', () => {
    const inputs = Object.keys(meta.inputs);
    expect(inputs.filter((p) => p.startsWith('test/'))).toEqual([]);
    expect(inputs).toEqual(expect.arrayContaining(['sim/lnd.ts', 'sim/pebble.ts', 'sim/tor-network.ts', 'sim/dashboard.ts']));
    // ... and `nodegate start` never loads them (the LND simulator's packages stay unloaded, below)
  });

  it('`nodegate start` loads only what the daemon needs at start-up', () => {
    const loaded = packagesLoadedBy(meta, 'gateway/cli/start.ts');
    expect(loaded).toEqual(expect.arrayContaining(['undici', 'jose', 'fastify', 'pino']));
    for (const lazy of ['acme-client', '@peculiar/x509', 'qrcode', 'better-sqlite3', '@fastify/swagger', 'macaroon', 'ws']) expect(loaded).not.toContain(lazy);
    // the registry's own command does load its store
    expect(packagesLoadedBy(meta, 'ddns/registry/cli.ts')).toContain('better-sqlite3');
  });
});
