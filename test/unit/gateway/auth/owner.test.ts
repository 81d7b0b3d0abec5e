import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { OwnerAuth, OWNER_AUTH_DEFAULTS, SCRYPT_PARAMS, newSetupCode, normalizeSetupCode, parseCookies, sourceKey, ownerFilePath } from '../../../../gateway/auth/owner.ts';
import { NodegateError } from '../../../../core/errors.ts';

const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const PASSWORD = 'correct horse battery';

let dir: string;
let clock: number;
const now = () => clock;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ng-owner-'));
  clock = Date.UTC(2026, 10, 24, 12, 0, 0);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<{ code: string; status: number | undefined; details?: Record<string, unknown> }> {
  try {
    if (typeof p === 'function') p();
    else await p;
  } catch (err) {
    expect(err).toBeInstanceOf(NodegateError);
    const e = err as NodegateError;
    return { code: e.code, status: e.status, ...(e.details ? { details: e.details } : {}) };
  }
  throw new Error('expected a NodegateError');
}

function reqWithCookie(cookie: string | undefined): IncomingMessage {
  return { headers: cookie === undefined ? {} : { cookie } } as IncomingMessage;
}

describe('OwnerAuth password (scrypt)', () => {
  it('stores scrypt parameters, salt and hash in DATA/gateway/owner.json with mode 0600, and verifies', async () => {
    const auth = await OwnerAuth.open({ dataDir: dir, now });
    expect(auth.hasPassword()).toBe(false);
    await auth.setPassword(PASSWORD);
    const path = ownerFilePath(dir);
    expect(path).toBe(join(dir, 'gateway', 'owner.json'));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const file = JSON.parse(await readFile(path, 'utf8'));
    expect(Object.keys(file).sort()).toEqual(['N', 'hash', 'kdf', 'keyLength', 'p', 'r', 'salt', 'updatedAt', 'version']);
    expect(file).toMatchObject({ version: 1, kdf: 'scrypt', N: SCRYPT_PARAMS.N, r: 8, p: 1, keyLength: 32, updatedAt: '2026-11-24T12:00:00.000Z' });
    expect(Buffer.from(file.salt, 'base64')).toHaveLength(16);
    expect(JSON.stringify(file)).not.toContain(PASSWORD);

    const reopened = await OwnerAuth.open({ dataDir: dir, now });
    expect(reopened.hasPassword()).toBe(true);
    expect(await reopened.verifyPassword(PASSWORD)).toBe(true);
    expect(await reopened.verifyPassword(PASSWORD + ' ')).toBe(false);
    expect(await reopened.verifyPassword('')).toBe(false);
  });

  it('refuses a short password with NG_GW_BAD_REQUEST and writes nothing', async () => {
    const auth = await OwnerAuth.open({ dataDir: dir, now, scrypt: FAST_SCRYPT });
    expect(await codeOf(auth.setPassword('short'))).toEqual({ code: 'NG_GW_BAD_REQUEST', status: 400, details: { minLength: 10 } });
    expect(auth.hasPassword()).toBe(false);
    await expect(stat(ownerFilePath(dir))).rejects.toThrow(/ENOENT/);
  });

  it('reads the first password from --password-file without its trailing newline', async () => {
    const file = join(dir, 'pw.txt');
    await writeFile(file, `${PASSWORD}\n`);
    const auth = await OwnerAuth.open({ dataDir: dir, now, scrypt: FAST_SCRYPT });
    await auth.setPasswordFromFile(file);
    expect(await auth.verifyPassword(PASSWORD)).toBe(true);
    expect(await codeOf(auth.setPasswordFromFile(join(dir, 'missing')))).toMatchObject({ code: 'NG_FILE_IO' });
  });

  it('a corrupt owner.json is NG_FILE_CORRUPT', async () => {
    await mkdir(join(dir, 'gateway'), { recursive: true });
    await writeFile(ownerFilePath(dir), '{"version":1,"kdf":"md5"}');
    expect(await codeOf(OwnerAuth.open({ dataDir: dir }))).toMatchObject({ code: 'NG_FILE_CORRUPT' });
  });
});

describe('setup code', () => {
  it('is 12 Crockford base32 symbols in groups of four, every symbol used, no two codes alike', () => {
    const codes = Array.from({ length: 2000 }, () => newSetupCode());
    for (const c of codes) expect(c).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(new Set(codes).size).toBe(2000);
    expect(new Set(codes.join('').replace(/-/g, '')).size).toBe(32);
  });

  it('reads what a person types: case, spaces and dashes do not count, O is 0, I and L are 1; another symbol is another code', () => {
    expect(normalizeSetupCode('k7qm 3xz9-tp4r')).toBe('K7QM3XZ9TP4R');
    expect(normalizeSetupCode(' 0O1IL-l ')).toBe('001111');
    expect(normalizeSetupCode('K7QM-3XZ9-TP4R')).not.toBe(normalizeSetupCode('K7QM-3XZ9-TP4S'));
    // a base64url code from an older version, typed exactly, still matches itself
    expect(normalizeSetupCode('aZ-_9x')).toBe(normalizeSetupCode('aZ-_9x'));
  });
});

describe('OwnerAuth throttling', () => {
  it('allows 5 failures per source per window, then NG_GW_LOGIN_THROTTLED 429 even for the right password; the window ends it', async () => {
    const auth = await OwnerAuth.open({ dataDir: dir, now, scrypt: FAST_SCRYPT });
    await auth.setPassword(PASSWORD);
    for (let i = 0; i < OWNER_AUTH_DEFAULTS.perSourceFailures; i++) {
      expect(await codeOf(auth.login('wrong password!', '198.51.100.7'))).toEqual({ code: 'NG_GW_LOGIN_FAILED', status: 401 });
    }
    expect(auth.failureCount('198.51.100.7')).toBe(5);
    expect(auth.failureCount()).toBe(5);
    clock += 60_000;
    expect(await codeOf(auth.login(PASSWORD, '198.51.100.7'))).toEqual({ code: 'NG_GW_LOGIN_THROTTLED', status: 429, details: { retryAfterSeconds: 14 * 60 } });
    expect(auth.failureCount('198.51.100.7')).toBe(5); // a throttled attempt is not counted or hashed
    // another source is not affected
    const other = await auth.login(PASSWORD, '198.51.100.8');
    expect(other.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    clock += OWNER_AUTH_DEFAULTS.throttleWindowMs;
    await auth.login(PASSWORD, '198.51.100.7');
    expect(auth.failureCount('198.51.100.7')).toBe(0);
  });

  it('counts an IPv6 /64 as one source, IPv4-mapped as IPv4', async () => {
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('::ffff:192.168.1.20')).toBe('192.168.1.20');
    const auth = await OwnerAuth.open({ dataDir: dir, now, scrypt: FAST_SCRYPT });
    await auth.setPassword(PASSWORD);
    for (let i = 0; i < 5; i++) await codeOf(auth.login('nope nope nope', `2001:db8:1:2::${i + 1}`));
    expect(await codeOf(auth.login(PASSWORD, '2001:db8:1:2:ffff::9'))).toMatchObject({ code: 'NG_GW_LOGIN_THROTTLED' });
  });

  it('throttles everyone after the global budget of failures from many sources', async () => {
    const auth = await OwnerAuth.open({ dataDir: dir, now, scrypt: FAST_SCRYPT, policy: { globalFailures: 8 } });
    await auth.setPassword(PASSWORD);
    for (let i = 0; i < 8; i++) await codeOf(auth.login('wrong wrong wrong', `203.0.113.${i + 1}`));
    expect(auth.failureCount()).toBe(8);
    expect(await codeOf(auth.login(PASSWORD, '203.0.113.200'))).toMatchObject({ code: 'NG_GW_LOGIN_THROTTLED', status: 429 });
  });

  it('remembers at most maxTrackedSources sources (bounded memory)', async () => {
    const auth = await OwnerAuth.open({ dataDir: dir, now, policy: { maxTrackedSources: 100, globalFailures: 1_000_000 } });
    for (let i = 0; i < 1000; i++) auth.recordFailure(`10.0.${i >> 8}.${i & 255}`);
    expect(auth.trackedSources()).toBe(100);
    expect(auth.failureCount('10.0.3.231')).toBe(1); // the newest survive
    expect(auth.failureCount('10.0.0.0')).toBe(0);
  });

  it('counts concurrent guesses before hashing, so parallel attempts cannot pass the limit', async () => {
    const auth = await OwnerAuth.open({ dataDir: dir, now, scrypt: FAST_SCRYPT });
    await auth.setPassword(PASSWORD);
    const results = await Promise.all(Array.from({ length: 12 }, () => codeOf(auth.login('guess guess guess', '198.51.100.50'))));
    expect(results.filter((r) => r.code === 'NG_GW_LOGIN_FAILED')).toHaveLength(5);
    expect(results.filter((r) => r.code === 'NG_GW_LOGIN_THROTTLED')).toHaveLength(7);
  });
});

describe('OwnerAuth sessions and CSRF', () => {
  it('a session expires after the idle time and after the absolute maximum (injected clock)', async () => {
    const auth = await OwnerAuth.open({ dataDir: dir, now, scrypt: FAST_SCRYPT });
    await auth.setPassword(PASSWORD);
    const s = await auth.login(PASSWORD, '127.0.0.1');
    const cookie = `${auth.sessionCookieName}=${s.id}`;
    expect(auth.isOwnerRequest(reqWithCookie(cookie))).toBe(true);
    clock += OWNER_AUTH_DEFAULTS.sessionIdleMs - 1;
    expect(auth.isOwnerRequest(reqWithCookie(cookie))).toBe(true); // refreshes idle
    clock += OWNER_AUTH_DEFAULTS.sessionIdleMs;
    expect(auth.isOwnerRequest(reqWithCookie(cookie))).toBe(false);
    expect(auth.sessionCount()).toBe(0);

    const s2 = await auth.login(PASSWORD, '127.0.0.1');
    const cookie2 = `${auth.sessionCookieName}=${s2.id}`;
    for (let i = 0; i < 12; i++) {
      clock += OWNER_AUTH_DEFAULTS.sessionIdleMs / 2;
      expect(auth.isOwnerRequest(reqWithCookie(cookie2))).toBe(true);
    }
    clock += OWNER_AUTH_DEFAULTS.sessionMaxMs - 12 * (OWNER_AUTH_DEFAULTS.sessionIdleMs / 2); // exactly 24 h after login
    expect(auth.isOwnerRequest(reqWithCookie(cookie2))).toBe(false);
  });

  it('reaches the absolute maximum exactly at sessionMaxMs even when active', async () => {
    const auth = await OwnerAuth.open({ dataDir: dir, now, scrypt: FAST_SCRYPT, policy: { sessionIdleMs: 60_000, sessionMaxMs: 150_000 } });
    await auth.setPassword(PASSWORD);
    const s = await auth.login(PASSWORD, '127.0.0.1');
    clock += 50_000;
    expect(auth.getSession(s.id)).toBeDefined();
    clock += 50_000;
    expect(auth.getSession(s.id)).toBeDefined();
    clock += 49_999;
    expect(auth.getSession(s.id)).toBeDefined();
    clock += 1;
    expect(auth.getSession(s.id)).toBeUndefined();
  });

  it('logout ends the session; a new password ends all sessions; unknown and missing cookies are not owners', async () => {
    const auth = await OwnerAuth.open({ dataDir: dir, now, scrypt: FAST_SCRYPT });
    await auth.setPassword(PASSWORD);
    const a = await auth.login(PASSWORD, '127.0.0.1');
    const b = await auth.login(PASSWORD, '127.0.0.1');
    expect(auth.sessionCount()).toBe(2);
    auth.endSession(a.id);
    expect(auth.getSession(a.id)).toBeUndefined();
    expect(auth.getSession(b.id)).toBeDefined();
    await auth.setPassword('another long password');
    expect(auth.getSession(b.id)).toBeUndefined();
    expect(auth.isOwnerRequest(reqWithCookie(undefined))).toBe(false);
    expect(auth.isOwnerRequest(reqWithCookie(`${auth.sessionCookieName}=forged`))).toBe(false);
  });

  it('keeps at most maxSessions live sessions, dropping the oldest', async () => {
    const auth = await OwnerAuth.open({ dataDir: dir, now, scrypt: FAST_SCRYPT, policy: { maxSessions: 3 } });
    await auth.setPassword(PASSWORD);
    const sessions = [];
    for (let i = 0; i < 5; i++) sessions.push(await auth.login(PASSWORD, '127.0.0.1'));
    expect(auth.sessionCount()).toBe(3);
    expect(auth.getSession(sessions[0]!.id)).toBeUndefined();
    expect(auth.getSession(sessions[4]!.id)).toBeDefined();
  });

  it('refuses a missing, empty or wrong CSRF token with NG_GW_CSRF 403 and accepts the session token', async () => {
    const auth = await OwnerAuth.open({ dataDir: dir, now, scrypt: FAST_SCRYPT });
    await auth.setPassword(PASSWORD);
    const s = await auth.login(PASSWORD, '127.0.0.1');
    const other = await auth.login(PASSWORD, '127.0.0.1');
    for (const bad of [undefined, '', 'x', other.csrfToken, s.csrfToken + 'x']) {
      expect(await codeOf(() => auth.checkCsrf(s, bad))).toEqual({ code: 'NG_GW_CSRF', status: 403 });
    }
    expect(() => auth.checkCsrf(s, s.csrfToken)).not.toThrow();
    expect(await codeOf(() => auth.checkLoginCsrf(undefined, 'a'))).toEqual({ code: 'NG_GW_CSRF', status: 403 });
    expect(await codeOf(() => auth.checkLoginCsrf('abc', 'abd'))).toEqual({ code: 'NG_GW_CSRF', status: 403 });
    expect(() => auth.checkLoginCsrf('abc', 'abc')).not.toThrow();
  });

  it('builds __Host- cookies that are HttpOnly, Secure and SameSite=Strict (plain names only when asked)', async () => {
    const auth = await OwnerAuth.open({ dataDir: dir, now, scrypt: FAST_SCRYPT });
    await auth.setPassword(PASSWORD);
    const s = await auth.login(PASSWORD, '127.0.0.1');
    expect(auth.sessionCookie(s)).toBe(`__Host-ng_session=${s.id}; Path=/; Max-Age=86400; HttpOnly; SameSite=Strict; Secure`);
    expect(auth.clearSessionCookie()).toBe('__Host-ng_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure');
    const plain = await OwnerAuth.open({ dataDir: dir, now, secureCookies: false });
    expect(plain.sessionCookie(s)).toBe(`ng_session=${s.id}; Path=/; Max-Age=86400; HttpOnly; SameSite=Strict`);
  });

  it('parses Cookie headers: first occurrence wins, quotes stripped, junk ignored', () => {
    const c = parseCookies('a=1; b="two"; a=3; junk; =x; c=');
    expect([...c.entries()]).toEqual([
      ['a', '1'],
      ['b', 'two'],
      ['c', ''],
    ]);
  });
});
