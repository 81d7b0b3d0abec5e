import { describe, it, expect, afterEach } from 'vitest';
import { stat, readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { TokenService, parseTtl, tokenFromHeaders, newTokenId, DEFAULT_TOKEN_TTL_SECONDS } from '../../../../gateway/auth/tokens.ts';
import { tempDir } from '../../../../sim/process.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function service(now: () => number = Date.now) {
  const dir = await tempDir();
  cleanups.push(() => dir.remove());
  return { dir: dir.path, tokens: await TokenService.open(dir.path, { now }) };
}

describe('TokenService', () => {
  it('creates the signing key once, 0600, and the same key signs across instances', async () => {
    const { dir, tokens } = await service();
    const keyPath = join(dir, 'gateway', 'token-key.jwk');
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
    const key = await readFile(keyPath, 'utf8');
    const again = await TokenService.open(dir);
    expect(await readFile(keyPath, 'utf8')).toBe(key);
    const created = await tokens.create({ scope: 'invoice', name: 'pos' });
    expect(await again.verify(created.token)).toMatchObject({ id: created.id, scope: 'invoice', name: 'pos' });
    expect((await stat(join(dir, 'gateway', 'tokens.json'))).mode & 0o777).toBe(0o600);
  });

  it('never stores the token itself', async () => {
    const { dir, tokens } = await service();
    const created = await tokens.create({ scope: 'admin', name: 'laptop' });
    const file = await readFile(join(dir, 'gateway', 'tokens.json'), 'utf8');
    expect(file.includes(created.token)).toBe(false);
    expect(file.includes(created.token.split('.')[2]!)).toBe(false);
  });

  it('expires by the injected clock: NG_GW_TOKEN_EXPIRED even for a cached token', async () => {
    let now = Date.UTC(2026, 0, 1);
    const { tokens } = await service(() => now);
    const created = await tokens.create({ scope: 'readonly', name: 'w', ttlSeconds: 3600 });
    expect(created.expiresAt).toBe('2026-01-01T01:00:00.000Z');
    await tokens.verify(created.token);
    now += 3600 * 1000;
    await expect(tokens.verify(created.token)).rejects.toMatchObject({ code: 'NG_GW_TOKEN_EXPIRED', status: 401 });
  });

  it('default lifetime is one year', async () => {
    const now = Date.UTC(2026, 0, 1);
    const { tokens } = await service(() => now);
    const created = await tokens.create({ scope: 'readonly', name: 'w' });
    expect(Date.parse(created.expiresAt) - now).toBe(DEFAULT_TOKEN_TTL_SECONDS * 1000);
  });

  it('revocation by another instance (another process) applies to the next verify', async () => {
    const { dir, tokens } = await service();
    const created = await tokens.create({ scope: 'readonly', name: 'w' });
    await tokens.verify(created.token);
    const cli = await TokenService.open(dir);
    await cli.revoke(created.id);
    await expect(tokens.verify(created.token)).rejects.toMatchObject({ code: 'NG_GW_TOKEN_REVOKED' });
    expect(tokens.list().find((t) => t.id === created.id)?.revokedAt).toMatch(/^\d{4}-/);
  });

  it('the daemon (watch: true) re-reads the list before a revoking process returns: the token is refused at once', async () => {
    const { dir } = await service();
    const daemon = await TokenService.open(dir, { watch: true });
    cleanups.push(() => Promise.resolve(daemon.close()));
    const socketPath = join(dir, 'gateway', 'tokens.sock');
    expect((await stat(socketPath)).mode & 0o777).toBe(0o600);
    const cli = await TokenService.open(dir);
    for (let i = 0; i < 20; i++) {
      const created = await cli.create({ scope: 'invoice', name: `pos${i}` });
      expect(daemon.verifyCached(created.token)).toBeUndefined(); // not seen yet: the signature is checked once
      expect((await daemon.verify(created.token)).id).toBe(created.id);
      await cli.revoke(created.id);
      expect(() => daemon.verifyCached(created.token)).toThrow(expect.objectContaining({ code: 'NG_GW_TOKEN_REVOKED' }) as Error);
    }
    daemon.close();
    await expect(stat(socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
    // with no daemon listening, a change still succeeds
    expect((await cli.create({ scope: 'readonly', name: 'no-daemon' })).scope).toBe('readonly');
  });

  it('with a watch (the daemon), a change written by anything else (an edit, a restore) applies to the next verify', async () => {
    const { dir } = await service();
    const tokens = await TokenService.open(dir, { watch: true });
    cleanups.push(() => Promise.resolve(tokens.close()));
    const listPath = join(dir, 'gateway', 'tokens.json');
    // Another process rewrites tokens.json the way the CLI does (temp file + rename), then exits;
    // only after that does the next verify run, as a wallet's request sent after `token revoke`.
    const revokeElsewhere = `const fs = require('node:fs'); const [path, id] = process.argv.slice(1);
      const list = JSON.parse(fs.readFileSync(path, 'utf8'));
      for (const t of list.tokens) if (t.id === id) t.revokedAt = new Date().toISOString();
      fs.writeFileSync(path + '.tmp', JSON.stringify(list)); fs.renameSync(path + '.tmp', path);`;
    for (let i = 0; i < 10; i++) {
      const created = await tokens.create({ scope: 'readonly', name: `w${i}` });
      for (let k = 0; k < 3; k++) expect((await tokens.verify(created.token)).id).toBe(created.id);
      await promisify(execFile)(process.execPath, ['-e', revokeElsewhere, listPath, created.id], { timeout: 10_000 });
      expect(() => tokens.verifyCached(created.token)).toThrow(expect.objectContaining({ code: 'NG_GW_TOKEN_REVOKED' }) as Error);
    }
    tokens.close(); // without the watch: back to a stat per verify, still exact
    const last = await tokens.create({ scope: 'readonly', name: 'after-close' });
    await tokens.verify(last.token);
    await (await TokenService.open(dir)).revoke(last.id);
    await expect(tokens.verify(last.token)).rejects.toMatchObject({ code: 'NG_GW_TOKEN_REVOKED' });
  });

  it('token ids never begin with "-" (a command line would read one as an option)', () => {
    // Without the rule, 5000 base64url ids would hold about 78 that begin with '-'.
    const ids = Array.from({ length: 5000 }, () => newTokenId());
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{15}$/);
    expect(new Set(ids).size).toBe(5000);
  });

  it('revoking an unknown id is NG_GW_TOKEN_UNKNOWN', async () => {
    const { tokens } = await service();
    await expect(tokens.revoke('nope')).rejects.toMatchObject({ code: 'NG_GW_TOKEN_UNKNOWN' });
  });

  it('refuses bad names', async () => {
    const { tokens } = await service();
    await expect(tokens.create({ scope: 'readonly', name: '  ' })).rejects.toMatchObject({ code: 'NG_USAGE' });
    await expect(tokens.create({ scope: 'readonly', name: 'a\nb' })).rejects.toMatchObject({ code: 'NG_USAGE' });
    await expect(tokens.create({ scope: 'readonly', name: 'x'.repeat(65) })).rejects.toMatchObject({ code: 'NG_USAGE' });
  });

  it('many creators at once keep every token (the list lock)', async () => {
    const { tokens, dir } = await service();
    const other = await TokenService.open(dir);
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? tokens : other).create({ scope: 'readonly', name: `t${i}` })));
    expect(tokens.list().length).toBe(10);
  });
});

describe('parseTtl', () => {
  it('reads units', () => {
    expect(parseTtl('30d')).toBe(30 * 86400);
    expect(parseTtl('12h')).toBe(43200);
    expect(parseTtl('45m')).toBe(2700);
    expect(parseTtl('2w')).toBe(14 * 86400);
    expect(parseTtl('3600')).toBe(3600);
  });
  it.each(['', 'forever', '30 d', '-1d', '10s', '100000d'])('refuses %j with NG_USAGE', (text) => {
    expect(() => parseTtl(text)).toThrow(expect.objectContaining({ code: 'NG_USAGE' }));
  });
});

describe('tokenFromHeaders', () => {
  it('reads Bearer and hex macaroon headers', () => {
    expect(tokenFromHeaders('Bearer a.b.c', undefined)).toBe('a.b.c');
    expect(tokenFromHeaders(undefined, Buffer.from('a.b.c').toString('hex'))).toBe('a.b.c');
    expect(tokenFromHeaders(undefined, undefined)).toBeUndefined();
  });
  it.each([
    ['Basic Zm9vOmJhcg==', undefined],
    ['Bearer  a.b.c', undefined],
    [undefined, 'zz'],
    [undefined, 'abc'],
    [undefined, '0201036c6e640258030a10'],
    [undefined, ['aa', 'bb']],
  ])('refuses %j / %j with NG_GW_TOKEN_INVALID', (auth, mac) => {
    expect(() => tokenFromHeaders(auth, mac)).toThrow(expect.objectContaining({ code: 'NG_GW_TOKEN_INVALID', status: 401 }));
  });
});
