import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHarness, GW_NAME, asMacaroonHeader, type Harness } from '../../../support/gateway-harness.ts';

const run = promisify(execFile);
const BIN = new URL('../../../../bin/nodegate.js', import.meta.url).pathname;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function nodegate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function getinfo(token: string) {
  const r = await h.client().request({ method: 'GET', path: '/v1/getinfo', headers: { host: GW_NAME, 'grpc-metadata-macaroon': asMacaroonHeader(token) } });
  const body = (await r.body.json()) as { alias?: string; error?: { code: string } };
  return { status: r.statusCode, code: body.error?.code };
}

describe('nodegate token, while the gateway runs', () => {
  it('a token created by the CLI works at once; revoked by the CLI it stops at the very next request', async () => {
    const created = await nodegate('token', 'create', '--data', h.dataDir, '--scope', 'readonly', '--name', 'Zeus', '--ttl', '30d', '--json');
    expect(created.code).toBe(0);
    const { id, token, scope } = JSON.parse(created.stdout) as { id: string; token: string; scope: string };
    expect(scope).toBe('readonly');
    expect(await getinfo(token)).toEqual({ status: 200, code: undefined });

    const revoked = await nodegate('token', 'revoke', '--data', h.dataDir, id, '--json');
    expect(revoked.code).toBe(0);
    expect((JSON.parse(revoked.stdout) as { revokedAt?: string }).revokedAt).toMatch(/^\d{4}-/);
    const before = h.lnd.total();
    expect(await getinfo(token)).toEqual({ status: 401, code: 'NG_GW_TOKEN_REVOKED' });
    expect(h.lnd.total()).toBe(before);
  });

  it('lists tokens as one JSON object', async () => {
    const r = await nodegate('token', 'list', '--data', h.dataDir, '--json');
    expect(r.code).toBe(0);
    const list = (JSON.parse(r.stdout) as { tokens: { name: string; scope: string }[] }).tokens;
    expect(list.some((t) => t.name === 'Zeus' && t.scope === 'readonly')).toBe(true);
  });

  it('an id that begins with "-" (written by an older version) is revoked after `--`; without it the error says so', async () => {
    const created = await nodegate('token', 'create', '--data', h.dataDir, '--scope', 'readonly', '--name', 'old', '--json');
    expect(created.code).toBe(0);
    const { id } = JSON.parse(created.stdout) as { id: string };
    const listPath = join(h.dataDir, 'gateway', 'tokens.json');
    const file = JSON.parse(await readFile(listPath, 'utf8')) as { tokens: { id: string }[] };
    for (const t of file.tokens) if (t.id === id) t.id = '-Xy12oldstyle';
    await writeFile(listPath, JSON.stringify(file));

    const bare = await nodegate('token', 'revoke', '--data', h.dataDir, '-Xy12oldstyle');
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('goes after `--`');
    const revoked = await nodegate('token', 'revoke', '--data', h.dataDir, '--json', '--', '-Xy12oldstyle');
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ id: '-Xy12oldstyle', name: 'old' });
  });

  it('revoking an unknown id fails with NG_GW_TOKEN_UNKNOWN (exit 1), a bad scope with NG_USAGE (exit 2)', async () => {
    const unknown = await nodegate('token', 'revoke', '--data', h.dataDir, 'no-such-id');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('[NG_GW_TOKEN_UNKNOWN]');
    const bad = await nodegate('token', 'create', '--data', h.dataDir, '--scope', 'root', '--name', 'x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('[NG_USAGE]');
    const ttl = await nodegate('token', 'create', '--data', h.dataDir, '--scope', 'admin', '--name', 'x', '--ttl', 'forever');
    expect(ttl.code).toBe(2);
    expect(ttl.stderr).toContain('[NG_USAGE]');
  });
});
