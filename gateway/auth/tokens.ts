/**
 * API tokens for wallets: EdDSA (Ed25519) JWTs, RFC 7519 / RFC 8037, signed and verified with jose.
 *
 * Claims: `scope` (readonly | invoice | admin), `name`, `exp`, `iat`, `jti` (the token id) and `aud`
 * ({@link TOKEN_AUDIENCE}). Verification is strict: algorithm EdDSA only (so `alg: none` and HS256
 * signed with the public key fail), the audience must match, `exp` is required and checked.
 *
 * Files in DATA/gateway/:
 * - `token-key.jwk`  the private signing key (JWK), 0600, created once.
 * - `tokens.json`    every token issued `{ id, name, scope, createdAt, expiresAt, revokedAt? }`,
 *                    written atomically. A token is accepted only while its id is in this list
 *                    and not revoked. The file is re-read when its identity (inode, size, mtime)
 *                    changes. A short-lived process (the CLI) checks that with one stat per call.
 *                    The daemon opens the service with `watch: true` instead: it listens on
 *                    `tokens.sock` (0600), and every change made by another process (the CLI)
 *                    ends by telling the daemon through it and waiting for the daemon to have
 *                    re-read the list. So `nodegate token revoke` returns only once the running
 *                    daemon refuses the token: a revocation applies to the very next request,
 *                    without a stat per request (that stat cost ~8 % of the proxy's CPU,
 *                    measured). An inotify watch on the folder and a stat once a second cover a
 *                    change written by anything else (an edit, a restore from backup). Without
 *                    the socket (path too long, odd filesystem) the daemon stats per request.
 */
import { statSync, readFileSync, unlinkSync, watch, type FSWatcher } from 'node:fs';
import { open, unlink, mkdir, chmod } from 'node:fs/promises';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, generateKeyPair, exportJWK, importJWK, errors as joseErrors, type CryptoKey, type JWK } from 'jose';
import { NodegateError } from '../../core/errors.ts';
import { readFileIfExists, writeFileAtomic, writeJsonAtomic } from '../../core/atomic-file.ts';

export type Scope = 'readonly' | 'invoice' | 'admin';
export const SCOPES: readonly Scope[] = ['readonly', 'invoice', 'admin'];

/** `aud` of every gateway token: a token for something else (e.g. the registry) is refused. */
export const TOKEN_AUDIENCE = 'nodegate:lnd-gateway';
const ALGORITHM = 'EdDSA';
/** Default token lifetime when `ttlSeconds` is not given: one year. */
export const DEFAULT_TOKEN_TTL_SECONDS = 365 * 24 * 3600;
/** Upper bound on a token's lifetime: ten years. */
export const MAX_TOKEN_TTL_SECONDS = 10 * 365 * 24 * 3600;
/** Verified tokens remembered to skip the Ed25519 check on the hot path (exp and revocation still checked). */
const VERIFIED_CACHE_ENTRIES = 1024;
/** Lock on tokens.json against a CLI and the daemon writing at once. */
const LOCK_WAIT_MS = 3000;
const LOCK_STALE_MS = 10_000;
/** With a watch, tokens.json is still stat-ed this often, in case an inotify event was lost. */
const WATCHED_RECHECK_MS = 1000;
const LIST_FILE = 'tokens.json';
/** The daemon's socket: a process that changed tokens.json waits here until the daemon re-read it. */
const NOTIFY_SOCKET = 'tokens.sock';
/** How long a CLI waits for the daemon's acknowledgement (the watch catches the change anyway). */
const NOTIFY_TIMEOUT_MS = 3000;

export interface TokenSummary {
  id: string;
  name: string;
  scope: Scope;
  /** ISO 8601. */
  createdAt: string;
  expiresAt: string;
  revokedAt?: string;
}

export interface CreatedToken {
  id: string;
  /** The JWT: shown once, never stored. */
  token: string;
  scope: Scope;
  name: string;
  expiresAt: string;
}

export interface TokenClaims {
  id: string;
  scope: Scope;
  name: string;
  /** Seconds since epoch. */
  exp: number;
}

interface TokenFile {
  tokens: TokenSummary[];
}

interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
}

export interface TokenServiceOptions {
  /** Clock in ms since epoch; default Date.now. */
  now?: () => number;
  /**
   * Watch DATA/gateway with inotify instead of a stat per verification (for the long-running
   * daemon; call {@link TokenService.close} when done). Falls back to the stat when a watch
   * cannot be set up (e.g. inotify limits).
   */
  watch?: boolean;
}

function isScope(value: unknown): value is Scope {
  return value === 'readonly' || value === 'invoice' || value === 'admin';
}

/** Parses `30d`, `12h`, `45m`, `3600s` or a bare number of seconds. NG_USAGE when malformed. */
export function parseTtl(text: string): number {
  const m = /^(\d{1,9})([smhdw]?)$/.exec(text.trim());
  if (!m) throw new NodegateError('NG_USAGE', `--ttl expects a duration like 30d, 12h, 45m or 3600s, got "${text}".`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd' | 'w'];
  const seconds = Number(m[1]) * unit;
  if (seconds < 60 || seconds > MAX_TOKEN_TTL_SECONDS) {
    throw new NodegateError('NG_USAGE', `--ttl must be between 1 minute and 10 years, got "${text}".`);
  }
  return seconds;
}

/**
 * Extracts the token a client sent: `Authorization: Bearer <jwt>` or a hex `Grpc-Metadata-macaroon`
 * whose bytes are the JWT (what a wallet sends after pairing with our lndconnect URI).
 * Returns undefined when neither header is present; NG_GW_TOKEN_INVALID when one is malformed.
 */
export function tokenFromHeaders(authorization: string | undefined, macaroonHeader: string | string[] | undefined): string | undefined {
  if (authorization !== undefined) {
    const m = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(authorization);
    if (!m) throw new NodegateError('NG_GW_TOKEN_INVALID', 'The Authorization header must be "Bearer <token>". Create a token with `nodegate token create`.', { status: 401 });
    return m[1];
  }
  if (macaroonHeader !== undefined) {
    const hex = Array.isArray(macaroonHeader) ? undefined : macaroonHeader;
    if (hex === undefined || hex.length === 0 || hex.length > 8192 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) {
      throw new NodegateError('NG_GW_TOKEN_INVALID', 'Grpc-Metadata-macaroon must hold one hex-encoded gateway token. Pair the wallet again with `nodegate pair`.', { status: 401 });
    }
    const text = Buffer.from(hex, 'hex').toString('latin1');
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(text)) {
      throw new NodegateError('NG_GW_TOKEN_INVALID', 'Grpc-Metadata-macaroon does not hold a gateway token (a real LND macaroon is never accepted here). Pair the wallet again with `nodegate pair`.', { status: 401 });
    }
    return text;
  }
  return undefined;
}

/** Issues, lists, revokes and verifies tokens. One instance per process; safe across processes. */
export class TokenService {
  readonly #dir: string;
  readonly #now: () => number;
  readonly #privateKey: CryptoKey;
  readonly #publicKey: CryptoKey;
  #list = new Map<string, TokenSummary>();
  #listIdentity: FileIdentity | undefined;
  readonly #verified = new Map<string, TokenClaims>();
  readonly #listPath: string;
  #watcher: FSWatcher | undefined;
  #notifyServer: Server | undefined;
  /** With a watch: the list may have changed since it was last read. */
  #stale = true;
  #checkedAt = 0;

  private constructor(dir: string, privateKey: CryptoKey, publicKey: CryptoKey, now: () => number) {
    this.#dir = dir;
    this.#privateKey = privateKey;
    this.#publicKey = publicKey;
    this.#now = now;
    this.#listPath = join(dir, LIST_FILE);
  }

  /** Opens (creating once) the signing key and token list in `DATA/gateway`. */
  static async open(dataDir: string, options: TokenServiceOptions = {}): Promise<TokenService> {
    const dir = join(dataDir, 'gateway');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const keyPath = join(dir, 'token-key.jwk');
    let raw = await readFileIfExists(keyPath);
    if (raw === undefined) {
      const { privateKey } = await generateKeyPair(ALGORITHM, { crv: 'Ed25519', extractable: true });
      const jwk = await exportJWK(privateKey);
      // 'wx'-like: another process may have created it meanwhile; re-read after writing our own
      // only if none exists, so every process ends up with the same key.
      await writeKeyOnce(keyPath, JSON.stringify(jwk) + '\n');
      raw = await readFileIfExists(keyPath);
      if (raw === undefined) throw new NodegateError('NG_FILE_IO', `Could not create ${keyPath}.`);
    }
    let jwk: JWK;
    try {
      jwk = JSON.parse(raw.toString('utf8')) as JWK;
    } catch (err) {
      throw new NodegateError('NG_FILE_CORRUPT', `${keyPath} is not a JWK. Remove it to create a new key (every token issued so far stops working).`, { cause: err });
    }
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string') {
      throw new NodegateError('NG_FILE_CORRUPT', `${keyPath} is not an Ed25519 private key. Remove it to create a new key (every token issued so far stops working).`);
    }
    const privateKey = (await importJWK(jwk, ALGORITHM)) as CryptoKey;
    const { d: _d, ...publicJwk } = jwk;
    const publicKey = (await importJWK(publicJwk, ALGORITHM)) as CryptoKey;
    const service = new TokenService(dir, privateKey, publicKey, options.now ?? Date.now);
    if (options.watch) await service.#watch();
    service.#refreshList();
    return service;
  }

  async #watch(): Promise<void> {
    const socketPath = join(this.#dir, NOTIFY_SOCKET);
    try {
      await unlink(socketPath).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err; // a socket left by a daemon that was killed
      });
      const server = createServer((socket) => {
        socket.on('error', () => socket.destroy());
        this.#stale = true;
        try {
          this.#listIdentity = undefined;
          this.#refreshList();
          this.#stale = false;
          this.#checkedAt = this.#now();
        } catch {
          // a corrupt list: verify() reports it on every request until it is restored
        }
        socket.end('ok\n');
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.unref();
      await chmod(socketPath, 0o600);
      this.#notifyServer = server;
    } catch {
      return; // no socket: keep the exact stat per verification, no watch
    }
    try {
      const watcher = watch(this.#dir, { persistent: false }, (_event, filename) => {
        if (filename === null || filename === LIST_FILE) this.#stale = true;
      });
      watcher.on('error', () => {
        // the folder went away or the watch broke: back to a stat per verification
        watcher.close();
        if (this.#watcher === watcher) this.#watcher = undefined;
      });
      this.#watcher = watcher;
    } catch {
      this.#watcher = undefined; // no inotify here: a stat per verification
    }
  }

  /** Stops the watch (the daemon's stop). The service keeps working with a stat per verification. */
  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#notifyServer) {
      this.#notifyServer.close();
      this.#notifyServer = undefined;
      try {
        unlinkSync(join(this.#dir, NOTIFY_SOCKET));
      } catch {
        // already gone
      }
    }
  }

  /** Re-reads the list when it may have changed: always without a watch, else when marked stale. */
  #refreshIfChanged(): void {
    if (this.#watcher !== undefined) {
      const now = this.#now();
      if (!this.#stale && now - this.#checkedAt < WATCHED_RECHECK_MS) return;
      this.#stale = false;
      this.#checkedAt = now;
    }
    this.#refreshList();
  }

  /** Re-reads tokens.json when its identity changed. Cheap: one stat. */
  #refreshList(): void {
    let identity: FileIdentity | undefined;
    try {
      const st = statSync(this.#listPath);
      identity = { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new NodegateError('NG_FILE_IO', `Could not stat ${this.#listPath}.`, { cause: err });
    }
    const prev = this.#listIdentity;
    if (identity && prev && identity.ino === prev.ino && identity.size === prev.size && identity.mtimeMs === prev.mtimeMs) return;
    if (!identity && !prev) return;
    this.#listIdentity = identity;
    this.#list = identity ? parseTokenFile(readFileSync(this.#listPath, 'utf8'), this.#listPath) : new Map<string, TokenSummary>();
  }

  async #update(change: (list: Map<string, TokenSummary>) => void): Promise<void> {
    const release = await acquireLock(join(this.#dir, 'tokens.lock'), this.#now);
    try {
      this.#listIdentity = undefined;
      this.#refreshList();
      const next = new Map(this.#list);
      change(next);
      const file: TokenFile = { tokens: [...next.values()] };
      await writeJsonAtomic(this.#listPath, file, { mode: 0o600 });
      this.#listIdentity = undefined;
      this.#refreshList();
    } finally {
      await release();
    }
    if (this.#notifyServer === undefined) await notifyDaemon(join(this.#dir, NOTIFY_SOCKET));
  }

  /** Issues a token. `ttlSeconds` default {@link DEFAULT_TOKEN_TTL_SECONDS}. */
  async create(input: { scope: Scope; name: string; ttlSeconds?: number }): Promise<CreatedToken> {
    if (!isScope(input.scope)) throw new TypeError(`scope must be readonly, invoice or admin`);
    const name = input.name.trim();
    if (name.length === 0 || name.length > 64 || hasControlChar(name)) {
      throw new NodegateError('NG_USAGE', 'A token name is 1 to 64 printable characters, e.g. "Zeus on my phone".');
    }
    const ttl = input.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < 60 || ttl > MAX_TOKEN_TTL_SECONDS) throw new NodegateError('NG_USAGE', 'A token lives between 1 minute and 10 years.');
    const nowSec = Math.floor(this.#now() / 1000);
    const id = newTokenId();
    const exp = nowSec + ttl;
    const token = await new SignJWT({ scope: input.scope, name })
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setJti(id)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt(nowSec)
      .setExpirationTime(exp)
      .sign(this.#privateKey);
    const summary: TokenSummary = { id, name, scope: input.scope, createdAt: new Date(nowSec * 1000).toISOString(), expiresAt: new Date(exp * 1000).toISOString() };
    await this.#update((list) => list.set(id, summary));
    return { id, token, scope: input.scope, name, expiresAt: summary.expiresAt };
  }

  /** Every token issued, revoked ones included, oldest first. */
  list(): TokenSummary[] {
    this.#refreshIfChanged();
    return [...this.#list.values()];
  }

  /** Revokes `id` (effective for the next request in every process). NG_GW_TOKEN_UNKNOWN if absent. */
  async revoke(id: string): Promise<TokenSummary> {
    let revoked: TokenSummary | undefined;
    await this.#update((list) => {
      const entry = list.get(id);
      if (!entry) return;
      revoked = entry.revokedAt ? entry : { ...entry, revokedAt: new Date(this.#now()).toISOString() };
      list.set(id, revoked);
    });
    if (!revoked) throw new NodegateError('NG_GW_TOKEN_UNKNOWN', `No token with id "${id}". List them with \`nodegate token list\`.`, { status: 404 });
    this.#verified.clear();
    return revoked;
  }

  /**
   * Verifies a presented token. Throws NG_GW_TOKEN_INVALID (bad signature, algorithm, audience,
   * claims), NG_GW_TOKEN_EXPIRED or NG_GW_TOKEN_REVOKED, all with status 401.
   */
  async verify(token: string): Promise<TokenClaims> {
    const cached = this.verifyCached(token);
    if (cached !== undefined) return cached;
    const claims = await this.#verifySignature(token);
    if (this.#verified.size >= VERIFIED_CACHE_ENTRIES) this.#verified.clear();
    this.#verified.set(token, claims);
    return this.#checkLive(token, claims);
  }

  /**
   * {@link verify} without a promise for a token whose signature was already checked (the hot
   * path: a wallet sends the same token on every call). Returns undefined when the signature still
   * has to be checked; expiry and revocation are checked every time, with the same errors.
   */
  verifyCached(token: string): TokenClaims | undefined {
    this.#refreshIfChanged();
    const claims = this.#verified.get(token);
    return claims === undefined ? undefined : this.#checkLive(token, claims);
  }

  #checkLive(token: string, claims: TokenClaims): TokenClaims {
    if (claims.exp * 1000 <= this.#now()) {
      this.#verified.delete(token);
      throw new NodegateError('NG_GW_TOKEN_EXPIRED', 'This token has expired. Create a new one with `nodegate token create` and pair the wallet again.', { status: 401 });
    }
    const entry = this.#list.get(claims.id);
    if (!entry || entry.revokedAt !== undefined) {
      throw new NodegateError('NG_GW_TOKEN_REVOKED', 'This token has been revoked. Create a new one with `nodegate token create` and pair the wallet again.', { status: 401 });
    }
    return claims;
  }

  async #verifySignature(token: string): Promise<TokenClaims> {
    try {
      const { payload } = await jwtVerify(token, this.#publicKey, {
        algorithms: [ALGORITHM],
        audience: TOKEN_AUDIENCE,
        requiredClaims: ['exp', 'jti', 'aud'],
        currentDate: new Date(this.#now()),
      });
      if (!isScope(payload.scope) || typeof payload.name !== 'string' || typeof payload.jti !== 'string' || typeof payload.exp !== 'number') {
        throw new NodegateError('NG_GW_TOKEN_INVALID', 'The token lacks a valid scope, name or id. Create a new one with `nodegate token create`.', { status: 401 });
      }
      return { id: payload.jti, scope: payload.scope, name: payload.name, exp: payload.exp };
    } catch (err) {
      if (err instanceof NodegateError) throw err;
      if (err instanceof joseErrors.JWTExpired) {
        throw new NodegateError('NG_GW_TOKEN_EXPIRED', 'This token has expired. Create a new one with `nodegate token create` and pair the wallet again.', { status: 401 });
      }
      const reason = err instanceof joseErrors.JOSEError ? err.code : 'ERR_MALFORMED';
      throw new NodegateError('NG_GW_TOKEN_INVALID', 'The token is not valid for this gateway. Create a new one with `nodegate token create`.', { status: 401, details: { reason } });
    }
  }
}

/**
 * 16 base64url characters (96 random bits) that never begin with '-': an id is typed as a command
 * line argument (`nodegate token revoke ID`), where a leading '-' reads as an option.
 */
export function newTokenId(): string {
  for (;;) {
    const id = randomBytes(12).toString('base64url');
    if (id[0] !== '-') return id;
  }
}

function hasControlChar(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20 || text.charCodeAt(i) === 0x7f) return true;
  return false;
}

function parseTokenFile(text: string, path: string): Map<string, TokenSummary> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new NodegateError('NG_FILE_CORRUPT', `${path} is not valid JSON. Restore it from a backup; every token is refused until then.`, { cause: err });
  }
  const tokens = (parsed as Partial<TokenFile> | null)?.tokens;
  if (!Array.isArray(tokens)) throw new NodegateError('NG_FILE_CORRUPT', `${path} has no "tokens" list. Restore it from a backup.`);
  const map = new Map<string, TokenSummary>();
  for (const t of tokens) {
    if (typeof t?.id === 'string' && isScope(t.scope)) map.set(t.id, t);
  }
  return map;
}

/**
 * Tells a running daemon that tokens.json changed and waits until it has re-read it. Resolves
 * quietly when no daemon listens, or after {@link NOTIFY_TIMEOUT_MS} (its watch catches up).
 */
function notifyDaemon(socketPath: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(done, NOTIFY_TIMEOUT_MS);
    socket.on('data', done);
    socket.on('end', done);
    socket.on('error', done); // ENOENT / ECONNREFUSED: no daemon running
  });
}

async function writeKeyOnce(path: string, text: string): Promise<void> {
  try {
    const handle = await open(path, 'wx', 0o600);
    await handle.close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return; // another process won: use its key
    throw new NodegateError('NG_FILE_IO', `Could not create ${path}: ${(err as Error).message}.`, { cause: err });
  }
  await writeFileAtomic(path, text, { mode: 0o600 });
}

async function acquireLock(path: string, now: () => number): Promise<() => Promise<void>> {
  const started = Date.now();
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${process.pid} ${now()}\n`);
      await handle.close();
      return () => unlink(path).catch(() => undefined); // already gone: nothing to release
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new NodegateError('NG_FILE_IO', `Could not lock ${path}.`, { cause: err });
      try {
        const st = statSync(path);
        if (Date.now() - st.mtimeMs > LOCK_STALE_MS) await unlink(path).catch(() => undefined); // a killed writer's lock
      } catch {
        continue; // lock vanished between open and stat: retry at once
      }
      if (Date.now() - started > LOCK_WAIT_MS) throw new NodegateError('NG_LOCKED', `${path} is held by another nodegate process; try again.`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
