/**
 * Owner login for the gateway: one password (scrypt, RFC 7914) -> a server-side session named by a
 * random id in an HttpOnly, Secure, SameSite=Strict cookie; a per-session CSRF token for every form;
 * login throttling per source address and globally, in bounded memory.
 *
 * Sessions live in memory: a restart logs the owner out (the wallet needs a fresh unlock after a
 * restart anyway), logout and expiry are immediate, and nothing secret about sessions touches disk.
 * The password hash is DATA/gateway/owner.json, written atomically, mode 0600.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NodegateError } from '../../core/errors.ts';
import { readFileIfExists, writeJsonAtomic } from '../../core/atomic-file.ts';

/**
 * scrypt cost: N = 2^15, r = 8, p = 1 is OWASP's minimum recommendation for scrypt (32 MiB, about
 * 100 ms on a Raspberry Pi 4 class CPU), slow enough for offline guessing, fast enough for a login.
 */
export const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 1, keyLength: 32, saltLength: 16 } as const;
/** Node refuses scrypt above `maxmem` (default 32 MiB); 128*N*r*p = 32 MiB needs headroom. */
const SCRYPT_MAXMEM = 64 * 1024 * 1024;
/** Shorter passwords are refused when set: a guessable owner password opens the wallet's funds. */
export const MIN_PASSWORD_LENGTH = 10;
/** Longer inputs are refused before hashing (scrypt cost does not grow, but bodies must be bounded). */
export const MAX_PASSWORD_LENGTH = 1024;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Defaults of the session and throttling policy; override through {@link OwnerAuthOptions}. */
export interface OwnerAuthPolicy {
  sessionIdleMs: number;
  sessionMaxMs: number;
  maxSessions: number;
  perSourceFailures: number;
  globalFailures: number;
  throttleWindowMs: number;
  maxTrackedSources: number;
}

export const OWNER_AUTH_DEFAULTS: Readonly<OwnerAuthPolicy> = {
  /** A session ends after this much time without a request. */
  sessionIdleMs: 2 * HOUR,
  /** A session ends this long after login whatever happens. */
  sessionMaxMs: 24 * HOUR,
  /** At most this many live sessions; the oldest is dropped beyond (one owner, a few devices). */
  maxSessions: 32,
  /** Failed logins from one source (an IPv4 address or an IPv6 /64) allowed per window. */
  perSourceFailures: 5,
  /** Failed logins from all sources together allowed per window: caps distributed guessing. */
  globalFailures: 50,
  /** Length of the throttling window. */
  throttleWindowMs: 15 * MINUTE,
  /** Sources remembered at most; beyond it the oldest entries are forgotten (bounded memory). */
  maxTrackedSources: 10_000,
};

export const SESSION_COOKIE_SECURE = '__Host-ng_session';
export const SESSION_COOKIE_PLAIN = 'ng_session';
export const LOGIN_CSRF_COOKIE_SECURE = '__Host-ng_login';
export const LOGIN_CSRF_COOKIE_PLAIN = 'ng_login';

export interface OwnerAuthOptions {
  /** DATA: the hash lives in DATA/gateway/owner.json. */
  dataDir: string;
  /** Clock in ms since the epoch; default Date.now. */
  now?: () => number;
  /** `__Host-` cookies with `Secure` (default true); false only for plain-HTTP tests. */
  secureCookies?: boolean;
  policy?: Partial<OwnerAuthPolicy>;
  /** scrypt cost override (tests only; the stored file records what was used). */
  scrypt?: { N: number; r: number; p: number };
}

/** The stored password hash: DATA/gateway/owner.json. */
interface OwnerFile {
  version: 1;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  keyLength: number;
  /** base64 */
  salt: string;
  /** base64 */
  hash: string;
  updatedAt: string;
}

export interface OwnerSession {
  readonly id: string;
  /** The value forms carry in their hidden `csrf` field. */
  readonly csrfToken: string;
  readonly createdAt: number;
  lastSeenAt: number;
}

interface ThrottleEntry {
  windowStart: number;
  failures: number;
}

function scrypt(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Random URL-safe id of 32 bytes (256 bits). */
function randomId(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time comparison of two strings of possibly different lengths. */
/** Crockford's base32: no I, L, O or U, so a code copied by hand has nothing to mistake. */
const SETUP_CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A one-time setup code a person copies by hand from DATA/gateway/setup-code into the setup page:
 * 12 Crockford base32 symbols (60 random bits) in groups of four, e.g. `K7QM-3XZ9-TP4R`. Guessing is
 * bounded by the login throttle (5 tries per source per 15 min, 50 in all).
 */
export function newSetupCode(): string {
  const bytes = randomBytes(12);
  let code = '';
  for (let i = 0; i < 12; i++) code += (i > 0 && i % 4 === 0 ? '-' : '') + SETUP_CODE_ALPHABET[bytes[i]! & 31];
  return code;
}

/**
 * A setup code as typed, read the way Crockford's base32 reads: case, spaces and dashes do not
 * count, O is 0, I and L are 1. Both the typed and the stored code go through it (a code written by
 * an older version, base64url, still matches when typed exactly).
 */
export function normalizeSetupCode(text: string): string {
  return text.toUpperCase().replace(/[\s-]+/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** Parses a `Cookie` header (RFC 6265 §5.4): first occurrence of a name wins. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const raw of header.split(';')) {
    const part = raw.trim();
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (name === '') continue;
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (!out.has(name)) out.set(name, value);
  }
  return out;
}

/**
 * The throttling key of a source address: IPv4 as is, IPv6 by its /64 (one home gets a /64 or
 * more, so per-address limits on IPv6 would be free to evade), IPv4-mapped IPv6 as IPv4.
 */
export function sourceKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = address.includes('::') ? [...headGroups, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailGroups] : headGroups;
  return (
    groups
      .slice(0, 4)
      .map((g) => (g || '0').toLowerCase().replace(/^0+(?=.)/, ''))
      .join(':') + '::/64'
  );
}

/**
 * Owner authentication. Create with {@link OwnerAuth.open}; one instance per gateway process, shared
 * by the owner pages and the dashboard proxy ({@link OwnerAuth.isOwnerRequest}).
 */
export class OwnerAuth {
  readonly sessionCookieName: string;
  readonly loginCsrfCookieName: string;
  readonly secureCookies: boolean;
  readonly policy: Readonly<OwnerAuthPolicy>;
  private readonly ownerPath: string;
  private readonly now: () => number;
  private readonly scryptCost: { N: number; r: number; p: number };
  private stored: OwnerFile | undefined;
  private readonly sessions = new Map<string, OwnerSession>();
  private readonly sources = new Map<string, ThrottleEntry>();
  private global: ThrottleEntry = { windowStart: 0, failures: 0 };

  private constructor(options: OwnerAuthOptions, stored: OwnerFile | undefined) {
    this.ownerPath = ownerFilePath(options.dataDir);
    this.now = options.now ?? Date.now;
    this.secureCookies = options.secureCookies ?? true;
    this.sessionCookieName = this.secureCookies ? SESSION_COOKIE_SECURE : SESSION_COOKIE_PLAIN;
    this.loginCsrfCookieName = this.secureCookies ? LOGIN_CSRF_COOKIE_SECURE : LOGIN_CSRF_COOKIE_PLAIN;
    this.policy = { ...OWNER_AUTH_DEFAULTS, ...options.policy };
    this.scryptCost = options.scrypt ?? { N: SCRYPT_PARAMS.N, r: SCRYPT_PARAMS.r, p: SCRYPT_PARAMS.p };
    this.stored = stored;
  }

  /** Loads DATA/gateway/owner.json if present. A corrupt file is NG_FILE_CORRUPT. */
  static async open(options: OwnerAuthOptions): Promise<OwnerAuth> {
    if (typeof options.dataDir !== 'string' || options.dataDir === '') throw new TypeError('OwnerAuth.open: dataDir is required');
    const path = ownerFilePath(options.dataDir);
    const raw = await readFileIfExists(path);
    let stored: OwnerFile | undefined;
    if (raw) {
      try {
        stored = parseOwnerFile(JSON.parse(raw.toString('utf8')));
      } catch (err) {
        throw new NodegateError('NG_FILE_CORRUPT', `${path} is not a valid owner password file. Move it away and set the password again with \`nodegate init --password-file FILE\`.`, { cause: err });
      }
    }
    return new OwnerAuth(options, stored);
  }

  /** True once an owner password exists. */
  hasPassword(): boolean {
    return this.stored !== undefined;
  }

  /** Sets (or replaces) the owner password and ends every session. */
  async setPassword(password: string): Promise<void> {
    if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
      throw new NodegateError('NG_GW_BAD_REQUEST', `The owner password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters long; choose a longer one.`, {
        status: 400,
        details: { minLength: MIN_PASSWORD_LENGTH },
      });
    }
    const salt = randomBytes(SCRYPT_PARAMS.saltLength);
    const { N, r, p } = this.scryptCost;
    const hash = await scrypt(password, salt, SCRYPT_PARAMS.keyLength, { N, r, p, maxmem: SCRYPT_MAXMEM });
    const file: OwnerFile = {
      version: 1,
      kdf: 'scrypt',
      N,
      r,
      p,
      keyLength: SCRYPT_PARAMS.keyLength,
      salt: salt.toString('base64'),
      hash: hash.toString('base64'),
      updatedAt: new Date(this.now()).toISOString(),
    };
    await writeJsonAtomic(this.ownerPath, file, { mode: 0o600 });
    this.stored = file;
    this.sessions.clear();
  }

  /** Reads the first password from a file (trailing newline dropped), for `init --password-file`. */
  async setPasswordFromFile(path: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new NodegateError('NG_FILE_IO', `Could not read the password file ${path}: ${(err as Error).message}. Check the path and its permissions.`, { cause: err });
    }
    await this.setPassword(text.replace(/\r?\n$/, ''));
  }

  /** Constant-time check of `password` against the stored hash; false when none is set. */
  async verifyPassword(password: string): Promise<boolean> {
    const stored = this.stored;
    if (!stored || password.length > MAX_PASSWORD_LENGTH) return false;
    const expected = Buffer.from(stored.hash, 'base64');
    const actual = await scrypt(password, Buffer.from(stored.salt, 'base64'), stored.keyLength, { N: stored.N, r: stored.r, p: stored.p, maxmem: SCRYPT_MAXMEM });
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  /**
   * A login attempt from `sourceAddress`: throttled first (NG_GW_LOGIN_THROTTLED, 429, with
   * `details.retryAfterSeconds`), then verified (NG_GW_LOGIN_FAILED, 401). Success opens a session.
   */
  async login(password: string, sourceAddress: string): Promise<OwnerSession> {
    this.checkThrottle(sourceAddress);
    // Count the attempt as failed before hashing, so that parallel guesses cannot all slip past
    // the check while scrypt runs; a success takes it back.
    this.recordFailure(sourceAddress);
    const ok = await this.verifyPassword(password);
    if (!ok) throw new NodegateError('NG_GW_LOGIN_FAILED', 'Wrong owner password.', { status: 401 });
    this.sources.delete(sourceKey(sourceAddress));
    if (this.global.failures > 0) this.global.failures--;
    return this.createSession();
  }

  /** Throws NG_GW_LOGIN_THROTTLED when `sourceAddress` or everyone together failed too often. */
  checkThrottle(sourceAddress: string): void {
    const now = this.now();
    const windowMs = this.policy.throttleWindowMs;
    const entry = this.sources.get(sourceKey(sourceAddress));
    let retryAt: number | undefined;
    if (entry && now - entry.windowStart < windowMs && entry.failures >= this.policy.perSourceFailures) retryAt = entry.windowStart + windowMs;
    if (now - this.global.windowStart < windowMs && this.global.failures >= this.policy.globalFailures) {
      retryAt = Math.max(retryAt ?? 0, this.global.windowStart + windowMs);
    }
    if (retryAt !== undefined) {
      const retryAfterSeconds = Math.max(1, Math.ceil((retryAt - now) / 1000));
      throw new NodegateError('NG_GW_LOGIN_THROTTLED', `Too many failed logins; try again in ${retryAfterSeconds} s.`, { status: 429, details: { retryAfterSeconds } });
    }
  }

  /** Counts one failed login against the source and the global budget. */
  recordFailure(sourceAddress: string): void {
    const now = this.now();
    const windowMs = this.policy.throttleWindowMs;
    const key = sourceKey(sourceAddress);
    let entry = this.sources.get(key);
    if (!entry || now - entry.windowStart >= windowMs) entry = { windowStart: now, failures: 0 };
    entry.failures++;
    this.sources.delete(key); // re-insert: Map order is then least recently failed first
    this.sources.set(key, entry);
    while (this.sources.size > this.policy.maxTrackedSources) {
      const oldest = this.sources.keys().next().value;
      if (oldest === undefined) break;
      this.sources.delete(oldest);
    }
    if (now - this.global.windowStart >= windowMs) this.global = { windowStart: now, failures: 0 };
    this.global.failures++;
  }

  /** Failures counted in the current window: for one source, or globally. */
  failureCount(sourceAddress?: string): number {
    const now = this.now();
    const entry = sourceAddress === undefined ? this.global : this.sources.get(sourceKey(sourceAddress));
    if (!entry || now - entry.windowStart >= this.policy.throttleWindowMs) return 0;
    return entry.failures;
  }

  /** Number of sources the throttle currently remembers (bounded by policy.maxTrackedSources). */
  trackedSources(): number {
    return this.sources.size;
  }

  private createSession(): OwnerSession {
    const now = this.now();
    const session: OwnerSession = { id: randomId(), csrfToken: randomId(), createdAt: now, lastSeenAt: now };
    this.sessions.set(session.id, session);
    while (this.sessions.size > this.policy.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    return session;
  }

  /** The live session named by `id` (refreshing its idle timer), or undefined. */
  getSession(id: string | undefined): OwnerSession | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    const now = this.now();
    if (now - session.lastSeenAt >= this.policy.sessionIdleMs || now - session.createdAt >= this.policy.sessionMaxMs) {
      this.sessions.delete(id);
      return undefined;
    }
    session.lastSeenAt = now;
    return session;
  }

  /** The session of a request's cookie, or undefined. */
  sessionOf(req: IncomingMessage): OwnerSession | undefined {
    return this.getSession(parseCookies(req.headers.cookie).get(this.sessionCookieName));
  }

  /** For the gateway's dashboard proxy: does this request carry a live owner session? */
  isOwnerRequest(req: IncomingMessage): boolean {
    return this.sessionOf(req) !== undefined;
  }

  /** Ends a session (logout). Unknown ids are ignored. */
  endSession(id: string): void {
    this.sessions.delete(id);
  }

  /** Number of live sessions (expired ones may still count until touched). */
  sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Checks a form's hidden `csrf` field against the session's token; throws NG_GW_CSRF (403) when
   * it is missing or wrong. The SameSite=Strict cookie already keeps cross-site posts sessionless;
   * this check also holds against a same-site attacker (a sibling subdomain of the registry zone).
   */
  checkCsrf(session: OwnerSession, submitted: string | undefined): void {
    if (submitted === undefined || submitted === '' || !safeEqual(submitted, session.csrfToken)) {
      throw new NodegateError('NG_GW_CSRF', 'This form has expired or did not come from this page; reload the page and try again.', { status: 403 });
    }
  }

  /** Login form CSRF (no session yet): double-submit of a random value in a cookie and a field. */
  checkLoginCsrf(cookieValue: string | undefined, submitted: string | undefined): void {
    if (!cookieValue || !submitted || !safeEqual(cookieValue, submitted)) {
      throw new NodegateError('NG_GW_CSRF', 'This form has expired or did not come from this page; reload the page and try again.', { status: 403 });
    }
  }

  /** A fresh value for the login form's double-submit cookie. */
  newLoginCsrf(): string {
    return randomId();
  }

  /** `Set-Cookie` value for a session (HttpOnly, SameSite=Strict, Secure + `__Host-` by default). */
  sessionCookie(session: OwnerSession): string {
    return this.cookie(this.sessionCookieName, session.id, Math.floor(this.policy.sessionMaxMs / 1000));
  }

  /** `Set-Cookie` value that deletes the session cookie. */
  clearSessionCookie(): string {
    return this.cookie(this.sessionCookieName, '', 0);
  }

  /** `Set-Cookie` value for the login form's double-submit token (10 minutes). */
  loginCsrfCookie(value: string): string {
    return this.cookie(this.loginCsrfCookieName, value, 600);
  }

  private cookie(name: string, value: string, maxAgeSeconds: number): string {
    return `${name}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${this.secureCookies ? '; Secure' : ''}`;
  }
}

export function ownerFilePath(dataDir: string): string {
  return join(dataDir, 'gateway', 'owner.json');
}

function parseOwnerFile(value: unknown): OwnerFile {
  const v = value as Partial<OwnerFile> | null;
  const isInt = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0;
  if (
    !v ||
    v.version !== 1 ||
    v.kdf !== 'scrypt' ||
    !isInt(v.N) ||
    !isInt(v.r) ||
    !isInt(v.p) ||
    !isInt(v.keyLength) ||
    typeof v.salt !== 'string' ||
    typeof v.hash !== 'string' ||
    typeof v.updatedAt !== 'string'
  ) {
    throw new TypeError('owner.json: unexpected shape');
  }
  return v as OwnerFile;
}
