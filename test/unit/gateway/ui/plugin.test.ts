/**
 * The owner pages plugin through fastify's inject: headers, redirects, CSRF, throttling, unlock
 * error mapping, pairing, Tor switch, setup. Deps record their calls (the browser test uses real ones).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { ownerPages, OWNER_CSP, ERROR_CODE_HEADER, noscriptNotice, noscriptNoticeFor, createOwnerPages, safeNext } from '../../../../gateway/ui/plugin.ts';
import type { IncomingMessage } from 'node:http';
import { OwnerAuth } from '../../../../gateway/auth/owner.ts';
import { NodegateError } from '../../../../core/errors.ts';
import type { NodeStatus, OwnerDeps, TokenSummary } from '../../../../gateway/ui/types.ts';

const OWNER_PASSWORD = 'owner password for tests';
const WALLET_PASSWORD = 'W4llet-Secret-unique-9f3';
const CERT_PEM = await readFile(new URL('../../../fixtures/ui/owner-pages.cert.pem', import.meta.url), 'utf8');

interface Recorder {
  unlocks: string[];
  unlockError?: Error;
  created: { scope: string; name: string; ttlSeconds?: number }[];
  revoked: string[];
  tor: boolean[];
  status: NodeStatus;
  publiclyTrusted: boolean;
}

function recordingDeps(rec: Recorder, withTor: boolean): OwnerDeps {
  const deps: OwnerDeps = {
    status: () => Promise.resolve(rec.status),
    unlockWallet(password) {
      rec.unlocks.push(password);
      return rec.unlockError ? Promise.reject(rec.unlockError) : Promise.resolve();
    },
    createToken(input) {
      rec.created.push(input);
      return Promise.resolve({ id: `id-${rec.created.length}`, token: `tok-${rec.created.length}`, expiresAt: '2027-01-01T00:00:00.000Z' });
    },
    listTokens: () =>
      Promise.resolve(rec.created.map((c, i): TokenSummary => ({ id: `id-${i + 1}`, name: c.name, scope: c.scope as TokenSummary['scope'], createdAt: '2026-11-24T00:00:00.000Z' }))),
    revokeToken(id) {
      rec.revoked.push(id);
      return Promise.resolve();
    },
    pairingHost: () => ({ host: 'abcd1234.nodegate.example', port: 8080, publiclyTrusted: rec.publiclyTrusted, certPem: CERT_PEM, onionHost: 'x'.repeat(56) + '.onion' }),
  };
  if (withTor) {
    deps.setTorEnabled = (on) => {
      rec.tor.push(on);
      return Promise.resolve();
    };
  }
  return deps;
}

let dataDir: string;
let app: FastifyInstance;
let rec: Recorder;
let logs: string;

async function build(opts: { password?: boolean; tor?: boolean } = {}): Promise<void> {
  logs = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs += chunk.toString('utf8');
      cb();
    },
  });
  app = Fastify({ logger: { level: 'trace', stream } });
  if (opts.password !== false) {
    const auth = await OwnerAuth.open({ dataDir, scrypt: { N: 1024, r: 8, p: 1 } });
    await auth.setPassword(OWNER_PASSWORD);
    await app.register(ownerPages, { prefix: '/_nodegate', dataDir, deps: recordingDeps(rec, opts.tor ?? true), auth });
  } else {
    await app.register(ownerPages, { prefix: '/_nodegate', dataDir, deps: recordingDeps(rec, opts.tor ?? true) });
  }
  await app.ready();
}

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'ng-ui-plugin-'));
  rec = { unlocks: [], created: [], revoked: [], tor: [], status: { names: ['abcd1234.nodegate.example'], lnd: { state: 'locked' } }, publiclyTrusted: true };
});
afterEach(async () => {
  await app?.close();
  await rm(dataDir, { recursive: true, force: true });
});

function cookieHeader(res: LightMyRequestResponse, jar: Map<string, string> = new Map()): Map<string, string> {
  for (const c of res.cookies as { name: string; value: string }[]) {
    if (c.value === '') jar.delete(c.name);
    else jar.set(c.name, c.value);
  }
  return jar;
}
const asHeader = (jar: Map<string, string>) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
const field = (body: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(body)?.[1];
const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** Logs in; returns the cookie jar and the session's CSRF token. */
async function login(): Promise<{ jar: Map<string, string>; csrf: string }> {
  const page = await app.inject({ url: '/_nodegate/login' });
  const jar = cookieHeader(page);
  const res = await app.inject({ method: 'POST', url: '/_nodegate/login', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf: field(page.body, 'csrf')!, password: OWNER_PASSWORD }) });
  expect(res.statusCode).toBe(303);
  cookieHeader(res, jar);
  const home = await app.inject({ url: '/_nodegate/', headers: { cookie: asHeader(jar) } });
  return { jar, csrf: field(home.body, 'csrf')! };
}

describe('owner pages plugin', () => {
  it('sends the strict CSP, no-store and nosniff on every page, and the stylesheet as text/css', async () => {
    await build();
    for (const url of ['/_nodegate/login', '/_nodegate/', '/_nodegate/nope', '/_nodegate/dashboard-needs-js']) {
      const res = await app.inject({ url });
      expect(res.headers['content-security-policy'], url).toBe(OWNER_CSP);
      expect(res.headers['cache-control'], url).toBe('no-store');
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      expect(res.headers['x-frame-options'], url).toBe('DENY');
    }
    expect(OWNER_CSP).toBe("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    const css = await app.inject({ url: '/_nodegate/style.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const notFound = await app.inject({ url: '/_nodegate/nope' });
    expect(notFound.statusCode).toBe(404);
    expect(notFound.body).not.toMatch(/<script/i);
  });

  it('redirects to login without a session; logs in with the double-submit CSRF; sets a __Host- session cookie', async () => {
    await build();
    const home = await app.inject({ url: '/_nodegate/' });
    expect(home.statusCode).toBe(303);
    expect(home.headers.location).toBe('/_nodegate/login');
    const page = await app.inject({ url: '/_nodegate/login' });
    expect(page.headers['set-cookie']).toMatch(/^__Host-ng_login=[\w-]{43}; Path=\/; Max-Age=600; HttpOnly; SameSite=Strict; Secure$/);
    const jar = cookieHeader(page);
    const csrf = field(page.body, 'csrf')!;
    const noToken = await app.inject({ method: 'POST', url: '/_nodegate/login', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ password: OWNER_PASSWORD }) });
    expect([noToken.statusCode, noToken.headers[ERROR_CODE_HEADER]]).toEqual([403, 'NG_GW_CSRF']);
    const noCookie = await app.inject({ method: 'POST', url: '/_nodegate/login', headers: FORM, payload: form({ csrf, password: OWNER_PASSWORD }) });
    expect([noCookie.statusCode, noCookie.headers[ERROR_CODE_HEADER]]).toEqual([403, 'NG_GW_CSRF']);
    const crossOrigin = await app.inject({
      method: 'POST',
      url: '/_nodegate/login',
      headers: { ...FORM, cookie: asHeader(jar), origin: 'https://evil.example', host: 'node.example' },
      payload: form({ csrf, password: OWNER_PASSWORD }),
    });
    expect([crossOrigin.statusCode, crossOrigin.headers[ERROR_CODE_HEADER]]).toEqual([403, 'NG_GW_CSRF']);
    const ok = await app.inject({
      method: 'POST',
      url: '/_nodegate/login',
      headers: { ...FORM, cookie: asHeader(jar), origin: 'https://node.example', host: 'node.example', 'sec-fetch-site': 'same-origin' },
      payload: form({ csrf, password: OWNER_PASSWORD }),
    });
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe('/_nodegate/');
    const setCookies = ok.headers['set-cookie'] as string[];
    expect(setCookies[0]).toMatch(/^__Host-ng_session=[\w-]{43}; Path=\/; Max-Age=86400; HttpOnly; SameSite=Strict; Secure$/);
    const sessionId = /^__Host-ng_session=([\w-]+)/.exec(setCookies[0]!)![1]!;
    expect(app.nodegateOwnerAuth.isOwnerRequest({ headers: { cookie: `__Host-ng_session=${sessionId}` } } as never)).toBe(true);
  });

  it('a second login page load (another tab, a /favicon.ico redirected to login) keeps the login CSRF value, so the first form still works', async () => {
    await build();
    const first = await app.inject({ url: '/_nodegate/login' });
    const jar = cookieHeader(first);
    const csrf = field(first.body, 'csrf')!;
    const again = await app.inject({ url: '/_nodegate/login?next=%2Ffavicon.ico', headers: { cookie: asHeader(jar) } });
    expect(field(again.body, 'csrf')).toBe(csrf);
    cookieHeader(again, jar);
    const ok = await app.inject({ method: 'POST', url: '/_nodegate/login', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf, password: OWNER_PASSWORD }) });
    expect(ok.statusCode).toBe(303);
    // a malformed cookie value is replaced, never echoed into the page
    const odd = await app.inject({ url: '/_nodegate/login', headers: { cookie: '__Host-ng_login=<b>x</b>' } });
    expect(field(odd.body, 'csrf')).toMatch(/^[\w-]{43}$/);
  });

  it('answers wrong owner passwords with 401 NG_GW_LOGIN_FAILED, then 429 NG_GW_LOGIN_THROTTLED with Retry-After', async () => {
    await build();
    const statuses: [number, unknown][] = [];
    for (let i = 0; i < 6; i++) {
      const page = await app.inject({ url: '/_nodegate/login' });
      const res = await app.inject({
        method: 'POST',
        url: '/_nodegate/login',
        headers: { ...FORM, cookie: asHeader(cookieHeader(page)) },
        payload: form({ csrf: field(page.body, 'csrf')!, password: 'wrong password ' + i }),
      });
      statuses.push([res.statusCode, res.headers[ERROR_CODE_HEADER]]);
      if (i === 5) expect(res.headers['retry-after']).toBe('900');
    }
    expect(statuses).toEqual([...Array(5).fill([401, 'NG_GW_LOGIN_FAILED']), [429, 'NG_GW_LOGIN_THROTTLED']]);
  });

  it('unlock: refuses a post without the CSRF token (403, LND untouched), passes the password once, never logs or echoes it', async () => {
    await build();
    const { jar, csrf } = await login();
    const forged = await app.inject({ method: 'POST', url: '/_nodegate/unlock', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ wallet_password: WALLET_PASSWORD }) });
    expect([forged.statusCode, forged.headers[ERROR_CODE_HEADER]]).toEqual([403, 'NG_GW_CSRF']);
    expect(rec.unlocks).toEqual([]);

    rec.unlockError = new NodegateError('NG_GW_WALLET_UNLOCK', `LND said no to ${WALLET_PASSWORD}`, { status: 400 });
    const wrong = await app.inject({ method: 'POST', url: '/_nodegate/unlock', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf, wallet_password: WALLET_PASSWORD }) });
    expect([wrong.statusCode, wrong.headers[ERROR_CODE_HEADER]]).toEqual([400, 'NG_GW_WALLET_UNLOCK']);
    expect(wrong.body).not.toContain(WALLET_PASSWORD);

    rec.unlockError = new NodegateError('NG_GW_WALLET_UNLOCK', 'LND did not answer', { status: 502, details: { cause: 'ECONNREFUSED' } });
    const noAnswer = await app.inject({ method: 'POST', url: '/_nodegate/unlock', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf, wallet_password: WALLET_PASSWORD }) });
    expect([noAnswer.statusCode, noAnswer.headers[ERROR_CODE_HEADER]]).toEqual([502, 'NG_GW_WALLET_UNLOCK']);

    rec.unlockError = new NodegateError('NG_GW_UPSTREAM_UNREACHABLE', 'down', { status: 502 });
    const down = await app.inject({ method: 'POST', url: '/_nodegate/unlock', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf, wallet_password: WALLET_PASSWORD }) });
    expect([down.statusCode, down.headers[ERROR_CODE_HEADER]]).toEqual([502, 'NG_GW_UPSTREAM_UNREACHABLE']);

    rec.unlockError = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    const slow = await app.inject({ method: 'POST', url: '/_nodegate/unlock', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf, wallet_password: WALLET_PASSWORD }) });
    expect([slow.statusCode, slow.headers[ERROR_CODE_HEADER]]).toEqual([504, 'NG_GW_UPSTREAM_TIMEOUT']);

    const empty = await app.inject({ method: 'POST', url: '/_nodegate/unlock', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf, wallet_password: '' }) });
    expect([empty.statusCode, empty.headers[ERROR_CODE_HEADER]]).toEqual([400, 'NG_GW_BAD_REQUEST']);

    rec.unlockError = undefined;
    const ok = await app.inject({ method: 'POST', url: '/_nodegate/unlock', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf, wallet_password: WALLET_PASSWORD }) });
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe('/_nodegate/?done=unlocked');
    expect(rec.unlocks).toEqual(Array(5).fill(WALLET_PASSWORD));
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).not.toContain(WALLET_PASSWORD);
    expect(logs).not.toContain(OWNER_PASSWORD);
    expect(logs).toContain('"code":"NG_GW_WALLET_UNLOCK"');
  });

  it('pairing: creates a token of the chosen scope and lifetime, shows the QR and the URI (no cert when publicly trusted)', async () => {
    await build();
    const { jar, csrf } = await login();
    const res = await app.inject({ method: 'POST', url: '/_nodegate/pair', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf, name: 'Zeus', scope: 'invoice', ttl: '1y' }) });
    expect(res.statusCode).toBe(200);
    expect(rec.created).toEqual([{ scope: 'invoice', name: 'Zeus', ttlSeconds: 365 * 86_400 }]);
    expect(res.body).toContain('<textarea id="uri" readonly rows="5">lndconnect://abcd1234.nodegate.example:8080?macaroon=dG9rLTE</textarea>');
    expect(res.body).toContain('<svg role="img" aria-label="QR code"');

    rec.publiclyTrusted = false;
    const selfSigned = await app.inject({ method: 'POST', url: '/_nodegate/pair', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf, name: 'Blixt', scope: 'admin', ttl: '10y' }) });
    expect(rec.created[1]).toEqual({ scope: 'admin', name: 'Blixt', ttlSeconds: 10 * 365 * 86_400 });
    expect(selfSigned.body).toMatch(/lndconnect:\/\/abcd1234\.nodegate\.example:8080\?macaroon=dG9rLTI&amp;cert=MII[\w-]+<\/textarea>/);

    const onion = await app.inject({ method: 'POST', url: '/_nodegate/pair', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf, name: 'Tor', scope: 'readonly', onion: '1' }) });
    expect(onion.body).toContain(`lndconnect://${'x'.repeat(56)}.onion:8080?macaroon=dG9rLTM&amp;cert=MII`);

    for (const bad of [{ name: '', scope: 'readonly' } as Record<string, string>, { name: 'a\u0007b', scope: 'readonly' }, { name: 'n', scope: 'readonly', ttl: 'constructor' }, { name: 'x', scope: 'root' }, { name: 'y'.repeat(65), scope: 'admin' }, { name: 'z', scope: 'admin', ttl: '99y' }]) {
      const r = await app.inject({ method: 'POST', url: '/_nodegate/pair', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf, ...bad }) });
      expect([r.statusCode, r.headers[ERROR_CODE_HEADER]]).toEqual([400, 'NG_GW_BAD_REQUEST']);
    }
    expect(rec.created).toHaveLength(3);

    const revoke = await app.inject({ method: 'POST', url: '/_nodegate/tokens/revoke', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf, id: 'id-1' }) });
    expect([revoke.statusCode, revoke.headers.location]).toEqual([303, '/_nodegate/pair?done=revoked']);
    expect(rec.revoked).toEqual(['id-1']);
  });

  it('Tor switch calls setTorEnabled; without it the form is absent and the post is 404', async () => {
    await build();
    let { jar, csrf } = await login();
    rec.status = { ...rec.status, tor: { enabled: false } };
    const home = await app.inject({ url: '/_nodegate/', headers: { cookie: asHeader(jar) } });
    expect(home.body).toContain('action="/_nodegate/tor"');
    const on = await app.inject({ method: 'POST', url: '/_nodegate/tor', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf, on: '1' }) });
    expect([on.statusCode, on.headers.location]).toEqual([303, '/_nodegate/?done=tor-on']);
    expect(rec.tor).toEqual([true]);
    await app.close();

    await build({ tor: false });
    ({ jar, csrf } = await login());
    const noTor = await app.inject({ url: '/_nodegate/', headers: { cookie: asHeader(jar) } });
    expect(noTor.body).not.toContain('action="/_nodegate/tor"');
    const post = await app.inject({ method: 'POST', url: '/_nodegate/tor', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf, on: '1' }) });
    expect(post.statusCode).toBe(404);
  });

  it('logout ends the session server-side', async () => {
    await build();
    const { jar, csrf } = await login();
    const out = await app.inject({ method: 'POST', url: '/_nodegate/logout', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf }) });
    expect([out.statusCode, out.headers.location]).toEqual([303, '/_nodegate/login?done=logged-out']);
    const again = await app.inject({ url: '/_nodegate/', headers: { cookie: asHeader(jar) } }); // the old cookie replayed
    expect([again.statusCode, again.headers.location]).toEqual([303, '/_nodegate/login']);
  });

  it('language: Accept-Language sets <html lang>; the switch sets a cookie and never redirects off the pages', async () => {
    await build();
    const de = await app.inject({ url: '/_nodegate/login', headers: { 'accept-language': 'fr;q=0.4, de-CH;q=0.9' } });
    expect(de.body).toContain('<html lang="de">');
    const sw = await app.inject({ url: '/_nodegate/lang/pt-BR?next=/_nodegate/pair' });
    expect([sw.statusCode, sw.headers.location]).toEqual([303, '/_nodegate/pair']);
    expect(sw.headers['set-cookie']).toBe('ng_lang=pt-BR; Max-Age=31536000; Path=/; SameSite=Strict; Secure');
    const pt = await app.inject({ url: '/_nodegate/login', headers: { cookie: 'ng_lang=pt-BR', 'accept-language': 'de' } });
    expect(pt.body).toContain('<html lang="pt-BR">');
    for (const next of ['//evil.example/', 'https://evil.example/', '/_nodegate/\\\\evil', '/other']) {
      const r = await app.inject({ url: `/_nodegate/lang/de?next=${encodeURIComponent(next)}` });
      expect(r.headers.location, next).toBe('/_nodegate/');
    }
    const bogus = await app.inject({ url: '/_nodegate/lang/xx' });
    expect(bogus.headers['set-cookie']).toBeUndefined();
  });

  it('refuses an oversized form with 413 before parsing it', async () => {
    await build();
    const { jar, csrf } = await login();
    const res = await app.inject({ method: 'POST', url: '/_nodegate/unlock', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf, wallet_password: 'x'.repeat(20_000) }) });
    expect([res.statusCode, res.headers[ERROR_CODE_HEADER]]).toEqual([413, 'NG_GW_BAD_REQUEST']);
    expect(rec.unlocks).toEqual([]);
  });

  it('first password: a setup code in DATA/gateway/setup-code (0600), the page only from home addresses, code checked, then gone', async () => {
    await build({ password: false });
    const codePath = join(dataDir, 'gateway', 'setup-code');
    expect((await stat(codePath)).mode & 0o777).toBe(0o600);
    const code = (await readFile(codePath, 'utf8')).trim();
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/); // Crockford base32: no I, L, O, U
    const login = await app.inject({ url: '/_nodegate/login' });
    expect(login.body).toContain('href="/_nodegate/setup"');
    const remote = await app.inject({ url: '/_nodegate/setup', remoteAddress: '203.0.113.9' });
    expect([remote.statusCode, remote.headers[ERROR_CODE_HEADER]]).toEqual([403, 'NG_GW_PATH_FORBIDDEN']);
    const page = await app.inject({ url: '/_nodegate/setup', remoteAddress: '192.168.1.20' });
    expect(page.statusCode).toBe(200);
    const jar = cookieHeader(page);
    const post = (fields: Record<string, string>) =>
      app.inject({ method: 'POST', url: '/_nodegate/setup', remoteAddress: '192.168.1.20', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf: field(page.body, 'csrf')!, ...fields }) });
    const bad = await post({ code: 'wrong', new_password: 'a long new password', confirm: 'a long new password' });
    expect([bad.statusCode, bad.headers[ERROR_CODE_HEADER]]).toEqual([403, 'NG_GW_LOGIN_FAILED']);
    const mismatch = await post({ code, new_password: 'a long new password', confirm: 'another long one' });
    expect([mismatch.statusCode, mismatch.headers[ERROR_CODE_HEADER]]).toEqual([400, 'NG_GW_BAD_REQUEST']);
    // typed by hand: lower case, spaces for dashes, O for 0 and l for 1 are the same code
    const typed = code.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'O').replace(/1/g, 'l');
    const ok = await post({ code: typed, new_password: 'a long new password', confirm: 'a long new password' });
    expect([ok.statusCode, ok.headers.location]).toEqual([303, '/_nodegate/login?done=setup-done']);
    await expect(stat(codePath)).rejects.toThrow(/ENOENT/);
    expect(await app.nodegateOwnerAuth.verifyPassword('a long new password')).toBe(true);
    const closed = await app.inject({ url: '/_nodegate/setup', remoteAddress: '192.168.1.20' });
    expect(closed.statusCode).toBe(403);
  });

  it('noscriptNotice is a translated <noscript> block without script or style', () => {
    const html = noscriptNotice('es');
    expect(html.startsWith('<noscript><div role="alert" lang="es" class="nodegate-noscript">')).toBe(true);
    expect(html).toContain('Su navegador bloquea JavaScript');
    expect(html).toContain('<a href="/_nodegate/">');
    expect(html).not.toMatch(/<script|style=/i);
  });

  it('regression: a second load of the login page (a favicon redirected there) keeps the first form valid', async () => {
    await build();
    const first = await app.inject({ url: '/_nodegate/login' });
    const jar = cookieHeader(first);
    const second = await app.inject({ url: '/_nodegate/login?next=%2Ffavicon.ico', headers: { cookie: asHeader(jar) } });
    cookieHeader(second, jar);
    expect(field(second.body, 'csrf')).toBe(field(first.body, 'csrf'));
    const res = await app.inject({ method: 'POST', url: '/_nodegate/login', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf: field(first.body, 'csrf')!, password: OWNER_PASSWORD }) });
    expect(res.statusCode).toBe(303);
  });

  it('after login goes to a safe `next` path (the dashboard page that sent the owner to login), never off the host', async () => {
    await build();
    for (const [next, location] of [
      ['/', '/'],
      ['/channels?x=1', '/channels?x=1'],
      ['//evil.example/', '/_nodegate/'],
      ['/\\evil.example', '/_nodegate/'],
      ['https://evil.example/', '/_nodegate/'],
      ['/a b', '/_nodegate/'],
    ] as const) {
      const page = await app.inject({ url: `/_nodegate/login?next=${encodeURIComponent(next)}` });
      const jar = cookieHeader(page);
      expect(field(page.body, 'next'), next).toBe(safeNext(next)?.replace(/&/g, '&amp;'));
      const res = await app.inject({ method: 'POST', url: '/_nodegate/login', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf: field(page.body, 'csrf')!, password: OWNER_PASSWORD, next }) });
      expect(res.headers.location, next).toBe(location);
    }
  });

  it('renders LND without a wallet and a certificate of unexpected shape in plain words', async () => {
    await build();
    const { jar } = await login();
    rec.status = { names: [], lnd: { state: 'no-wallet' }, certificate: { notAfter: '2027-01-01T00:00:00Z' } as never };
    const home = await app.inject({ url: '/_nodegate/', headers: { cookie: asHeader(jar) } });
    expect(home.body).toContain('<p class="big" id="lnd-state">LND has no wallet yet. Create one on the node with: lncli create</p>');
    expect(home.body).toContain('<p>Certificate valid until Jan 1, 2027, 12:00 AM UTC.</p>');
    rec.status = { names: ['n.example'], lnd: { state: 'unlocked' }, certificate: { issuer: 'R11', notAfter: '2027-01-01T00:00:00Z', selfSigned: false, lastError: { code: 'NG_CERT_ACME', message: 'rate <limited>', at: 'x' } } };
    const trusted = await app.inject({ url: '/_nodegate/', headers: { cookie: asHeader(jar), 'accept-language': 'en' } });
    expect(trusted.body).toContain('Issued by R11, valid until Jan 1, 2027, 12:00 AM UTC.');
    expect(trusted.body).toContain('The last renewal attempt failed: rate &lt;limited&gt; (NG_CERT_ACME)');
  });

  it('createOwnerPages shares its sessions with isOwnerRequest; noscriptNoticeFor picks the request language', async () => {
    const bundle = await createOwnerPages({ dataDir, now: () => Date.UTC(2026, 10, 24) });
    await bundle.auth.setPassword(OWNER_PASSWORD);
    app = Fastify();
    await app.register(bundle.plugin, { prefix: '/_nodegate', dataDir, deps: recordingDeps(rec, false) });
    const { jar } = await login();
    expect(bundle.isOwnerRequest({ headers: { cookie: asHeader(jar) } } as IncomingMessage)).toBe(true);
    expect(bundle.isOwnerRequest({ headers: {} } as IncomingMessage)).toBe(false);
    expect(noscriptNoticeFor({ headers: { 'accept-language': 'de-DE,de;q=0.9' } } as IncomingMessage)).toContain('lang="de"');
    expect(noscriptNoticeFor({ headers: { 'accept-language': 'de', cookie: 'ng_lang=pt-BR' } } as IncomingMessage)).toContain('Seu navegador bloqueia JavaScript');
  });

  it('escapes everything that comes from outside: token names, status strings, reachability details', async () => {
    await build();
    const { jar, csrf } = await login();
    const evil = '<img src=x onerror=alert(1)>"\'&';
    const created = await app.inject({ method: 'POST', url: '/_nodegate/pair', headers: { ...FORM, cookie: asHeader(jar) }, payload: form({ csrf, name: evil, scope: 'readonly' }) });
    rec.status = { names: [evil], lnd: { state: 'unlocked', alias: evil }, reachability: { verdict: evil, details: [evil] } };
    const home = await app.inject({ url: '/_nodegate/', headers: { cookie: asHeader(jar) } });
    const list = await app.inject({ url: '/_nodegate/pair', headers: { cookie: asHeader(jar) } });
    for (const body of [created.body, home.body, list.body]) {
      expect(body).not.toContain('<img');
      expect(body).toContain('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;');
    }
  });
});
