/**
 * The owner pages as a fastify plugin: login, status with remote unlock, wallet pairing with QR
 * codes, token revocation, Tor switch, logout, language switch, first-password setup.
 *
 * Registered by the gateway with `app.register(ownerPages, { prefix: '/_nodegate', dataDir, deps })`.
 * Server-rendered, no JavaScript; every response carries a strict CSP and `Cache-Control: no-store`.
 * The plugin decorates the instance with `nodegateOwnerAuth` (the {@link OwnerAuth}) so that the
 * gateway's dashboard proxy can call `isOwnerRequest(req.raw)`.
 */
import { createHash } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { join } from 'node:path';
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { NodegateError, isNodegateError, type ErrorCode } from '../../core/errors.ts';
import { readFileIfExists, writeFileAtomic } from '../../core/atomic-file.ts';
import { OwnerAuth, MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH, newSetupCode, normalizeSetupCode, parseCookies, safeEqual, type OwnerSession } from '../auth/owner.ts';
import { lndconnectUri, qrSvg } from '../pairing.ts';
import { LANG_COOKIE, isLang, pickLanguage, t, type Lang, type MessageKey } from './i18n.ts';
import {
  noscriptNotice,
  SCOPES,
  TTL_CHOICES,
  dashboardNeedsJsPage,
  errorPage,
  homePage,
  loginPage,
  pairPage,
  setupPage,
  type CreatedPairing,
  type Notice,
  type PageContext,
  type TtlChoice,
} from './pages.ts';
import type { NodeStatus, OwnerDeps, TokenScope, TokenSummary } from './types.ts';
import { notificationRoutes } from './notifications.ts';

export { noscriptNotice } from './pages.ts';
export { pickLanguage, LANG_COOKIE } from './i18n.ts';
export type { OwnerDeps, NodeStatus, TokenSummary } from './types.ts';

export interface OwnerPagesOptions {
  /** DATA: the owner password hash is DATA/gateway/owner.json, the setup code DATA/gateway/setup-code. */
  dataDir: string;
  deps: OwnerDeps;
  /** `Secure` + `__Host-` cookies; default true. False only for plain-HTTP tests. */
  secureCookies?: boolean;
  /** Clock in ms since the epoch; default Date.now. */
  now?: () => number;
  /** An OwnerAuth the gateway already opened (to share it with its dashboard proxy); else one is opened. */
  auth?: OwnerAuth;
  /** Set by fastify's register; default `/_nodegate`. */
  prefix?: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The owner authentication of the owner pages (sessions, CSRF, throttling). */
    nodegateOwnerAuth: OwnerAuth;
  }
}

/** The CSP of every owner page: no script of any kind, styles only from our own file. */
export const OWNER_CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/** LND can take tens of seconds to derive keys and open its database on small hardware. */
export const UNLOCK_TIMEOUT_MS = 60_000;
/** Form bodies are small; anything larger is refused before parsing. */
const FORM_BODY_LIMIT_BYTES = 16 * 1024;
const LANG_COOKIE_MAX_AGE_S = 365 * 86_400;
const MAX_TOKEN_NAME_CHARS = 64;
/** The header that carries the error code of a refused request, for tests and support. */
export const ERROR_CODE_HEADER = 'x-nodegate-error';

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': OWNER_CSP,
  'x-content-type-options': 'nosniff',
  // not no-referrer: with it chromium sends `Origin: null` on same-origin form posts
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

/** Addresses the first-password setup page answers: loopback and private home networks. */
const SETUP_SOURCES = new BlockList();
SETUP_SOURCES.addSubnet('127.0.0.0', 8, 'ipv4');
SETUP_SOURCES.addSubnet('10.0.0.0', 8, 'ipv4');
SETUP_SOURCES.addSubnet('172.16.0.0', 12, 'ipv4');
SETUP_SOURCES.addSubnet('192.168.0.0', 16, 'ipv4');
SETUP_SOURCES.addAddress('::1', 'ipv6');
SETUP_SOURCES.addSubnet('fc00::', 7, 'ipv6');
SETUP_SOURCES.addSubnet('fe80::', 10, 'ipv6');

function isSetupSource(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const ip = mapped ? mapped[1]! : address;
  if (isIPv4(ip)) return SETUP_SOURCES.check(ip, 'ipv4');
  if (isIPv6(ip)) return SETUP_SOURCES.check(ip, 'ipv6');
  return false;
}

type Form = Record<string, string>;

/**
 * Where to go after login: a path on this host (the dashboard's or ours), never another host:
 * no `//host`, no backslash (browsers read `/\\host` as `//host`), no control characters.
 */
export function safeNext(value: string | undefined): string | undefined {
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  return value !== undefined && value.length <= 2048 && /^\/(?![/\\])[^\\\u0000-\u0020\u007f]*$/.test(value) ? value : undefined;
}

/** Flash messages selected by `?done=` after a redirect (a fixed list: nothing from the URL is shown). */
const DONE_MESSAGES: Record<string, MessageKey> = {
  unlocked: 'unlock.done',
  revoked: 'tokens.revoked',
  'tor-on': 'tor.changedOn',
  'tor-off': 'tor.changedOff',
  'logged-out': 'login.loggedOut',
  'setup-done': 'setup.done',
  'notify-saved': 'notify.saved',
};

/** Failure codes of an upstream that did not answer in time (undici, AbortSignal.timeout). */
const TIMEOUT_CAUSES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT', 'TimeoutError', 'ABORT_ERR']);

function unlockErrorKey(err: unknown): { key: MessageKey; status: number; code: string } {
  const code = isNodegateError(err) ? err.code : undefined;
  const name = err instanceof Error ? err.name : '';
  const cause = isNodegateError(err) ? err.details?.cause : undefined;
  const timedOut =
    code === 'NG_GW_UPSTREAM_TIMEOUT' || code === 'NG_TIMEOUT' || code === 'NG_ABORTED' || name === 'TimeoutError' || name === 'AbortError' || (typeof cause === 'string' && TIMEOUT_CAUSES.has(cause));
  if (timedOut) return { key: 'unlock.timeout', status: 504, code: code ?? 'NG_GW_UPSTREAM_TIMEOUT' };
  if (code === 'NG_GW_WALLET_UNLOCK') {
    // the gateway raises it with 502 when LND did not answer, 400 when LND said no
    return (err as NodegateError).status !== undefined && (err as NodegateError).status! >= 500 ? { key: 'unlock.unreachable', status: 502, code } : { key: 'unlock.wrong', status: 400, code };
  }
  if (code === 'NG_GW_UPSTREAM_UNREACHABLE' || code === 'NG_GW_UPSTREAM_TLS' || code === 'NG_GW_MACAROON_MISSING') return { key: 'unlock.unreachable', status: 502, code };
  return { key: 'error.internal', status: 500, code: code ?? 'NG_INTERNAL' };
}

async function ownerPagesPlugin(fastify: FastifyInstance, options: OwnerPagesOptions): Promise<void> {
  const { deps, dataDir } = options;
  if (!deps || typeof deps.status !== 'function') throw new TypeError('ownerPages: options.deps is required');
  if (typeof dataDir !== 'string' || dataDir === '') throw new TypeError('ownerPages: options.dataDir is required');
  const prefix = (options.prefix ?? '/_nodegate').replace(/\/+$/, '');
  const secureCookies = options.secureCookies ?? true;
  const auth = options.auth ?? (await OwnerAuth.open({ dataDir, secureCookies, ...(options.now ? { now: options.now } : {}) }));
  const css = await readFile(new URL('./style.css', import.meta.url));
  const styleHref = `${prefix}/style.css?v=${createHash('sha256').update(css).digest('hex').slice(0, 12)}`;
  const setupCodePath = join(dataDir, 'gateway', 'setup-code');
  let setupCode: string | undefined;
  if (!auth.hasPassword()) {
    setupCode = (await readFileIfExists(setupCodePath))?.toString('utf8').trim() || undefined;
    if (!setupCode) {
      setupCode = newSetupCode();
      await writeFileAtomic(setupCodePath, setupCode + '\n', { mode: 0o600 });
    }
    fastify.log.warn({ setupCodePath }, `no owner password yet: open ${prefix}/setup from the home network and enter the code in ${setupCodePath}`);
  }
  fastify.decorate('nodegateOwnerAuth', auth);
  fastify.addHook('onClose', (_instance, done) => {
    setupCode = undefined; // nothing else to close: sessions are memory, no timers, no sockets
    done();
  });

  const cookieSuffix = `; Path=/; SameSite=Strict${secureCookies ? '; Secure' : ''}`;

  await fastify.register(
    (app, _opts, registered) => {
      app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT_BYTES }, (_req, body, done) => {
        const form: Form = {};
        for (const [k, v] of new URLSearchParams(body as string)) form[k] = v;
        done(null, form);
      });

      app.addHook('onRequest', (_req, reply, done) => {
        reply.headers(SECURITY_HEADERS);
        reply.header('cache-control', 'no-store');
        done();
      });

      const langOf = (req: FastifyRequest): Lang => pickLanguage(parseCookies(req.headers.cookie).get(LANG_COOKIE), req.headers['accept-language']);
      const ctxOf = (req: FastifyRequest, path: string, session?: OwnerSession): PageContext => ({
        lang: langOf(req),
        prefix,
        path,
        styleHref,
        ...(session ? { csrf: session.csrfToken } : {}),
        ...(deps.notifications ? { notificationsPage: true } : {}),
      });
      const sendHtml = (reply: FastifyReply, status: number, page: string) => reply.code(status).type('text/html; charset=utf-8').send(page);
      const refuse = (req: FastifyRequest, reply: FastifyReply, status: number, code: ErrorCode, key: MessageKey, session?: OwnerSession) => {
        reply.header(ERROR_CODE_HEADER, code);
        return sendHtml(reply, status, errorPage(ctxOf(req, `${prefix}/`, session), key, code));
      };
      const doneNotice = (req: FastifyRequest): Notice | undefined => {
        const done = (req.query as Record<string, string | undefined>).done;
        const key = done === undefined ? undefined : DONE_MESSAGES[done];
        return key ? { kind: 'ok', text: t(langOf(req), key) } : undefined;
      };
      /**
       * A POST must come from our own pages: a cross-site `Origin` or `Sec-Fetch-Site` is refused
       * even before the token check (defence in depth beside SameSite=Strict and the token).
       */
      const crossSite = (req: FastifyRequest): boolean => {
        const site = req.headers['sec-fetch-site'];
        if (site === 'cross-site' || site === 'same-site') return true;
        const origin = req.headers.origin;
        // `null` is what privacy settings or a no-referrer policy make a browser send: no signal
        if (origin === undefined || origin === 'null') return false;
        try {
          return new URL(origin).host !== req.headers.host;
        } catch {
          return true; // `Origin: null` or garbage: not one of our pages
        }
      };
      const formOf = (req: FastifyRequest): Form => (req.body && typeof req.body === 'object' ? (req.body as Form) : {});
      /** The session of a page request, or a redirect to login (returns undefined after replying). */
      const requireSession = (req: FastifyRequest, reply: FastifyReply): OwnerSession | undefined => {
        const session = auth.sessionOf(req.raw);
        if (!session) {
          void reply.redirect(`${prefix}/login`, 303);
          return undefined;
        }
        return session;
      };
      /** A session plus a valid CSRF token for a form POST; replies 403 NG_GW_CSRF otherwise. */
      const requireForm = (req: FastifyRequest, reply: FastifyReply): { session: OwnerSession; form: Form } | undefined => {
        const session = requireSession(req, reply);
        if (!session) return undefined;
        const form = formOf(req);
        try {
          if (crossSite(req)) throw new NodegateError('NG_GW_CSRF', 'cross-site form post', { status: 403 });
          auth.checkCsrf(session, form.csrf);
        } catch (err) {
          void refuse(req, reply, 403, (err as NodegateError).code, 'error.csrf', session);
          return undefined;
        }
        return { session, form };
      };

      app.get('/style.css', (_req, reply) => {
        reply.header('cache-control', 'public, max-age=86400');
        return reply.type('text/css; charset=utf-8').send(css);
      });

      app.get('/lang/:lang', (req, reply) => {
        const { lang } = req.params as { lang: string };
        const next = (req.query as Record<string, string | undefined>).next;
        const target = next && next.startsWith(`${prefix}/`) && !next.includes('//') && !next.includes('\\') ? next : `${prefix}/`;
        if (isLang(lang)) reply.header('set-cookie', `${LANG_COOKIE}=${lang}; Max-Age=${LANG_COOKIE_MAX_AGE_S}${cookieSuffix}`);
        return reply.redirect(target, 303);
      });

      app.get('/dashboard-needs-js', (req, reply) => sendHtml(reply, 200, dashboardNeedsJsPage(ctxOf(req, `${prefix}/dashboard-needs-js`))));

      // ---- login / logout -------------------------------------------------------------------
      /**
       * The double-submit value of the login (and setup) form: the one already in the browser's
       * cookie when there is one, so that a second load of the login page (a favicon request
       * redirected there, a second tab) does not invalidate the form the user is filling in.
       */
      const loginCsrfOf = (req: FastifyRequest): string => {
        const existing = parseCookies(req.headers.cookie).get(auth.loginCsrfCookieName);
        return existing !== undefined && /^[\w-]{43}$/.test(existing) ? existing : auth.newLoginCsrf();
      };
      const renderLogin = (req: FastifyRequest, reply: FastifyReply, status: number, notice?: Notice, nextRaw?: string) => {
        const next = safeNext(nextRaw);
        const loginCsrf = loginCsrfOf(req);
        reply.header('set-cookie', auth.loginCsrfCookie(loginCsrf));
        const noPassword = !auth.hasPassword();
        return sendHtml(
          reply,
          status,
          loginPage(ctxOf(req, `${prefix}/login`), {
            loginCsrf,
            ...(notice ? { notice } : {}),
            noPassword,
            ...(next ? { next } : {}),
            ...(noPassword && isSetupSource(req.ip) ? { setupHref: `${prefix}/setup` } : {}),
          }),
        );
      };

      app.get('/login', (req, reply) => {
        const next = (req.query as Record<string, string | undefined>).next;
        if (auth.sessionOf(req.raw)) return reply.redirect(safeNext(next) ?? `${prefix}/`, 303);
        return renderLogin(req, reply, 200, doneNotice(req), next);
      });

      app.post('/login', async (req, reply) => {
        const form = formOf(req);
        try {
          if (crossSite(req)) throw new NodegateError('NG_GW_CSRF', 'cross-site form post', { status: 403 });
          auth.checkLoginCsrf(parseCookies(req.headers.cookie).get(auth.loginCsrfCookieName), form.csrf);
        } catch (err) {
          return refuse(req, reply, 403, (err as NodegateError).code, 'error.csrf');
        }
        const lang = langOf(req);
        try {
          const session = await auth.login(form.password ?? '', req.ip);
          deps.notifications?.ownerLoggedIn(req.ip);
          reply.header('set-cookie', [auth.sessionCookie(session), `${auth.loginCsrfCookieName}=; Max-Age=0${cookieSuffix}; HttpOnly`]);
          return reply.redirect(safeNext(form.next) ?? `${prefix}/`, 303);
        } catch (err) {
          if (isNodegateError(err, 'NG_GW_LOGIN_THROTTLED')) {
            const seconds = Number(err.details?.retryAfterSeconds ?? 60);
            reply.header('retry-after', String(seconds));
            reply.header(ERROR_CODE_HEADER, err.code);
            return renderLogin(req, reply, 429, { kind: 'error', text: t(lang, 'login.throttled', { seconds }), code: err.code }, form.next);
          }
          if (isNodegateError(err, 'NG_GW_LOGIN_FAILED')) {
            reply.header(ERROR_CODE_HEADER, err.code);
            return renderLogin(req, reply, 401, { kind: 'error', text: t(lang, 'login.failed'), code: err.code }, form.next);
          }
          throw err;
        }
      });

      app.post('/logout', (req, reply) => {
        const ok = requireForm(req, reply);
        if (!ok) return reply;
        auth.endSession(ok.session.id);
        reply.header('set-cookie', auth.clearSessionCookie());
        return reply.redirect(`${prefix}/login?done=logged-out`, 303);
      });

      /** What `load` gives, or undefined (logged with its code) while that part is unavailable: the page still renders. */
      const optional = async <T>(req: FastifyRequest, what: string, load: () => Promise<T>): Promise<T | undefined> => {
        try {
          return await load();
        } catch (err) {
          req.log.warn({ code: isNodegateError(err) ? err.code : undefined }, `owner pages: ${what} unavailable`);
          return undefined;
        }
      };

      // ---- status + unlock -------------------------------------------------------------------
      const readStatus = (req: FastifyRequest): Promise<NodeStatus | undefined> => optional(req, 'status', () => deps.status());
      const renderHome = async (req: FastifyRequest, reply: FastifyReply, session: OwnerSession, status: number, extra: { notice?: Notice; unlockNotice?: Notice }) =>
        sendHtml(reply, status, homePage(ctxOf(req, `${prefix}/`, session), await readStatus(req), { ...extra, torSwitch: typeof deps.setTorEnabled === 'function' }));

      app.get('/', async (req, reply) => {
        const session = requireSession(req, reply);
        if (!session) return reply;
        const notice = doneNotice(req);
        return renderHome(req, reply, session, 200, notice ? { notice } : {});
      });

      app.post('/unlock', async (req, reply) => {
        const ok = requireForm(req, reply);
        if (!ok) return reply;
        const lang = langOf(req);
        const password = ok.form.wallet_password ?? '';
        delete ok.form.wallet_password; // drop our reference early; the body is not logged by fastify
        if (password === '' || password.length > MAX_PASSWORD_LENGTH) {
          reply.header(ERROR_CODE_HEADER, 'NG_GW_BAD_REQUEST');
          return renderHome(req, reply, ok.session, 400, { unlockNotice: { kind: 'error', text: t(lang, 'unlock.empty') } });
        }
        try {
          await deps.unlockWallet(password, AbortSignal.timeout(UNLOCK_TIMEOUT_MS));
        } catch (err) {
          const mapped = unlockErrorKey(err);
          // Only the code is logged: a dependency's message could, by mistake, quote the password.
          req.log.warn({ code: mapped.code }, 'owner pages: wallet unlock failed');
          reply.header(ERROR_CODE_HEADER, mapped.code);
          return renderHome(req, reply, ok.session, mapped.status, { unlockNotice: { kind: 'error', text: t(lang, mapped.key), code: mapped.code } });
        }
        return reply.redirect(`${prefix}/?done=unlocked`, 303);
      });

      app.post('/tor', async (req, reply) => {
        const ok = requireForm(req, reply);
        if (!ok) return reply;
        if (typeof deps.setTorEnabled !== 'function') return refuse(req, reply, 404, 'NG_GW_BAD_REQUEST', 'error.notFound', ok.session);
        const on = ok.form.on === '1';
        await deps.setTorEnabled(on);
        return reply.redirect(`${prefix}/?done=${on ? 'tor-on' : 'tor-off'}`, 303);
      });

      // ---- pairing + tokens ------------------------------------------------------------------
      const listTokens = (req: FastifyRequest): Promise<TokenSummary[] | undefined> => optional(req, 'token list', () => deps.listTokens());
      const renderPair = async (req: FastifyRequest, reply: FastifyReply, session: OwnerSession, status: number, extra: { notice?: Notice; created?: CreatedPairing }) =>
        sendHtml(reply, status, pairPage(ctxOf(req, `${prefix}/pair`, session), await listTokens(req), { ...extra, onionAvailable: deps.pairingHost().onionHost !== undefined }));

      app.get('/pair', async (req, reply) => {
        const session = requireSession(req, reply);
        if (!session) return reply;
        const notice = doneNotice(req);
        return renderPair(req, reply, session, 200, notice ? { notice } : {});
      });

      app.post('/pair', async (req, reply) => {
        const ok = requireForm(req, reply);
        if (!ok) return reply;
        const lang = langOf(req);
        const { form } = ok;
        const name = (form.name ?? '').trim();
        const scope = form.scope as TokenScope;
        const ttl = (form.ttl ?? '30d') as TtlChoice;
        // eslint-disable-next-line no-control-regex -- control characters are what is refused
        if (name === '' || name.length > MAX_TOKEN_NAME_CHARS || /[\u0000-\u001f\u007f]/.test(name) || !SCOPES.includes(scope) || !Object.hasOwn(TTL_CHOICES, ttl)) {
          reply.header(ERROR_CODE_HEADER, 'NG_GW_BAD_REQUEST');
          return renderPair(req, reply, ok.session, 400, { notice: { kind: 'error', text: t(lang, 'pair.nameRequired'), code: 'NG_GW_BAD_REQUEST' } });
        }
        const where = deps.pairingHost();
        const onion = form.onion === '1';
        if (onion && !where.onionHost) {
          reply.header(ERROR_CODE_HEADER, 'NG_GW_BAD_REQUEST');
          return renderPair(req, reply, ok.session, 400, { notice: { kind: 'error', text: t(lang, 'pair.noOnion'), code: 'NG_GW_BAD_REQUEST' } });
        }
        const created = await deps.createToken({ scope, name, ttlSeconds: TTL_CHOICES[ttl] });
        // Over Tor the served certificate does not name the .onion host, so the wallet must pin it.
        const certPem = onion || !where.publiclyTrusted ? where.certPem : undefined;
        const uri = lndconnectUri({ host: onion ? where.onionHost! : where.host, port: where.port, token: created.token, ...(certPem ? { certPem } : {}) });
        return renderPair(req, reply, ok.session, 200, { created: { name, uri, svg: await qrSvg(uri), expiresAt: created.expiresAt } });
      });

      app.post('/tokens/revoke', async (req, reply) => {
        const ok = requireForm(req, reply);
        if (!ok) return reply;
        const id = ok.form.id ?? '';
        if (id === '' || id.length > 128) return refuse(req, reply, 400, 'NG_GW_BAD_REQUEST', 'error.badRequest', ok.session);
        await deps.revokeToken(id);
        return reply.redirect(`${prefix}/pair?done=revoked`, 303);
      });

      // ---- notifications (gateway/ui/notifications.ts) -------------------------------------------
      if (deps.notifications) {
        notificationRoutes(app, {
          prefix,
          auth,
          notifications: deps.notifications,
          langOf,
          ctxOf,
          sendHtml,
          requireSession,
          requireForm,
          doneNotice,
          codeHeader: (reply, code) => void reply.header(ERROR_CODE_HEADER, code),
        });
      }

      // ---- first password ---------------------------------------------------------------------
      const setupAllowed = (req: FastifyRequest) => setupCode !== undefined && !auth.hasPassword() && isSetupSource(req.ip);
      const renderSetup = (req: FastifyRequest, reply: FastifyReply, status: number, notice?: Notice) => {
        const setupCsrf = loginCsrfOf(req);
        reply.header('set-cookie', auth.loginCsrfCookie(setupCsrf));
        return sendHtml(reply, status, setupPage(ctxOf(req, `${prefix}/setup`), { setupCsrf, ...(notice ? { notice } : {}) }));
      };

      app.get('/setup', (req, reply) => {
        if (!setupAllowed(req)) return refuse(req, reply, 403, 'NG_GW_PATH_FORBIDDEN', 'setup.notHere');
        return renderSetup(req, reply, 200);
      });

      app.post('/setup', async (req, reply) => {
        if (!setupAllowed(req)) return refuse(req, reply, 403, 'NG_GW_PATH_FORBIDDEN', 'setup.notHere');
        const form = formOf(req);
        try {
          if (crossSite(req)) throw new NodegateError('NG_GW_CSRF', 'cross-site form post', { status: 403 });
          auth.checkLoginCsrf(parseCookies(req.headers.cookie).get(auth.loginCsrfCookieName), form.csrf);
        } catch (err) {
          return refuse(req, reply, 403, (err as NodegateError).code, 'error.csrf');
        }
        const lang = langOf(req);
        const fail = (status: number, code: ErrorCode, key: MessageKey) => {
          reply.header(ERROR_CODE_HEADER, code);
          return renderSetup(req, reply, status, { kind: 'error', text: t(lang, key, { min: MIN_PASSWORD_LENGTH }), code });
        };
        try {
          auth.checkThrottle(req.ip);
        } catch (err) {
          if (isNodegateError(err, 'NG_GW_LOGIN_THROTTLED')) {
            reply.header('retry-after', String(Number(err.details?.retryAfterSeconds ?? 60)));
            return fail(429, err.code, 'login.throttled');
          }
          throw err;
        }
        if (setupCode === undefined || !safeEqual(normalizeSetupCode(form.code ?? ''), normalizeSetupCode(setupCode))) {
          auth.recordFailure(req.ip);
          return fail(403, 'NG_GW_LOGIN_FAILED', 'setup.badCode');
        }
        const password = form.new_password ?? '';
        if (password !== (form.confirm ?? '')) return fail(400, 'NG_GW_BAD_REQUEST', 'setup.mismatch');
        if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) return fail(400, 'NG_GW_BAD_REQUEST', 'setup.tooShort');
        await auth.setPassword(password);
        setupCode = undefined;
        await unlink(setupCodePath).catch((err: unknown) => req.log.warn({ err }, 'owner pages: could not remove the used setup code'));
        return reply.redirect(`${prefix}/login?done=setup-done`, 303);
      });

      app.setNotFoundHandler((req, reply) => refuse(req, reply, 404, 'NG_GW_BAD_REQUEST', 'error.notFound'));

      app.setErrorHandler((err: unknown, req, reply) => {
        const fastifyCode = (err as { code?: string }).code;
        if (fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE') return refuse(req, reply, 413, 'NG_GW_BAD_REQUEST', 'error.badRequest');
        if (typeof fastifyCode === 'string' && fastifyCode.startsWith('FST_ERR_CTP_')) return refuse(req, reply, 415, 'NG_GW_BAD_REQUEST', 'error.badRequest');
        if (isNodegateError(err) && err.status !== undefined && err.status < 500) {
          return refuse(req, reply, err.status, err.code, err.code === 'NG_GW_CSRF' ? 'error.csrf' : 'error.badRequest');
        }
        req.log.error({ code: isNodegateError(err) ? err.code : undefined, err }, 'owner pages: request failed');
        return refuse(req, reply, isNodegateError(err) && err.status ? err.status : 500, isNodegateError(err) ? err.code : 'NG_INTERNAL', 'error.internal');
      });
      registered();
    },
    { prefix },
  );
}

/**
 * The owner pages plugin. Options: {@link OwnerPagesOptions}.
 * @example app.register(ownerPages, { prefix: '/_nodegate', dataDir, deps })
 */
export const ownerPages = fp(ownerPagesPlugin, { name: 'nodegate-owner-pages', fastify: '5.x' });

/** What the gateway needs from the owner pages (matches gateway/main.ts `OwnerPages`). */
export interface OwnerPagesBundle {
  /** `ownerPages` bound to {@link OwnerPagesBundle.auth}; register with `{ prefix, dataDir, deps }`. */
  plugin: FastifyPluginAsync<OwnerPagesOptions>;
  /** For the dashboard proxy: does this request carry a live owner session? */
  isOwnerRequest: (req: IncomingMessage) => boolean;
  auth: OwnerAuth;
}

/**
 * Opens the owner authentication once and returns the plugin bound to it plus the session check,
 * so that the pages and the gateway's dashboard proxy share sessions.
 * @example const owner = await createOwnerPages({ dataDir }); startGateway({ ..., ownerPages: owner })
 */
export async function createOwnerPages(options: { dataDir: string; secureCookies?: boolean; now?: () => number }): Promise<OwnerPagesBundle> {
  const auth = await OwnerAuth.open(options);
  const bound = (fastify: FastifyInstance, opts: OwnerPagesOptions) => ownerPagesPlugin(fastify, { ...options, ...opts, auth });
  return {
    plugin: fp(bound, { name: 'nodegate-owner-pages', fastify: '5.x' }),
    isOwnerRequest: (req) => auth.isOwnerRequest(req),
    auth,
  };
}

/**
 * The `<noscript>` notice for a dashboard page, in the language of the request (the switch's
 * cookie, else Accept-Language). For the gateway's dashboard proxy to insert after `<body>`.
 */
export function noscriptNoticeFor(req: IncomingMessage, ownerHref = '/_nodegate/'): string {
  return noscriptNotice(pickLanguage(parseCookies(req.headers.cookie).get(LANG_COOKIE), req.headers['accept-language']), ownerHref);
}
