/**
 * Device authentication (contract in ddns/protocol.ts).
 * - Registration: a single-use nonce (NONCE_LIFETIME_S) signed with the device's Ed25519 key
 *   (RFC 8032) over `registrationMessage(nonce, zone)`.
 * - Calls: a JWT (RFC 7519) with alg EdDSA only (RFC 8037), kid = device id, aud =
 *   registryAudience(zone), exp - iat <= MAX_DEVICE_JWT_LIFETIME_S, a small clock skew, and a jti
 *   that is refused the second time (remembered until the token expires, then forgotten: the
 *   cache is bounded by expiry and by {@link MAX_REMEMBERED_JTIS}).
 */
import { createHash, createPublicKey, randomBytes, timingSafeEqual, verify, type KeyObject, type webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
import { jwtVerify, decodeProtectedHeader, importJWK, errors as joseErrors } from 'jose';
import { NodegateError } from '../../core/errors.ts';
import { MAX_DEVICE_JWT_LIFETIME_S, NONCE_LIFETIME_S, registrationMessage, registryAudience, type Ed25519PublicJwk } from '../protocol.ts';
import { deviceIdFromJwk } from '../client/identity.ts';

/** Clock skew tolerated between a device and the registry, seconds. Small: tokens live 60 s at most. */
export const CLOCK_SKEW_S = 10;
/** Most outstanding nonces; beyond it the oldest are dropped (rate limits keep this far away). */
export const MAX_OUTSTANDING_NONCES = 100_000;
/** Most remembered jtis; reaching it means an abnormal load, and tokens are refused until some expire. */
export const MAX_REMEMBERED_JTIS = 1_000_000;

/** Single-use registration nonces with expiry. */
export class NonceBook {
  private readonly nonces = new Map<string, number>(); // nonce -> expiry (ms); insertion order = age
  constructor(private readonly now: () => number) {}

  issue(): { nonce: string; expiresAt: number } {
    this.sweep();
    while (this.nonces.size >= MAX_OUTSTANDING_NONCES) {
      const oldest = this.nonces.keys().next().value as string;
      this.nonces.delete(oldest);
    }
    const nonce = randomBytes(24).toString('base64url');
    const expiresAt = this.now() + NONCE_LIFETIME_S * 1000;
    this.nonces.set(nonce, expiresAt);
    return { nonce, expiresAt };
  }

  /** Uses a nonce up: NG_REG_NONCE_UNKNOWN when unknown, used or expired. */
  consume(nonce: string): void {
    const expiresAt = this.nonces.get(nonce);
    this.nonces.delete(nonce);
    if (expiresAt === undefined || expiresAt <= this.now()) {
      throw new NodegateError('NG_REG_NONCE_UNKNOWN', 'The registration nonce is unknown, used or expired; fetch a new one with POST /v1/nonce and sign it.', { status: 400 });
    }
  }

  get size(): number {
    return this.nonces.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [nonce, exp] of this.nonces) {
      if (exp > now) break; // insertion order is expiry order
      this.nonces.delete(nonce);
    }
  }
}

export function publicKeyFromJwk(jwk: Ed25519PublicJwk): KeyObject {
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
  } catch (err) {
    throw new NodegateError('NG_REG_BAD_KEY', 'publicKey is not a valid Ed25519 public key (JWK kty OKP, crv Ed25519, x = 32 bytes base64url).', { status: 400, cause: err });
  }
}

/** Checks the registration signature; returns the device id. NG_REG_BAD_KEY / NG_REG_BAD_SIGNATURE. */
export function verifyRegistration(jwk: Ed25519PublicJwk, nonce: string, signature: string, zone: string): string {
  const key = publicKeyFromJwk(jwk);
  const sig = Buffer.from(signature, 'base64url');
  const ok = sig.length === 64 && verify(null, Buffer.from(registrationMessage(nonce, zone), 'utf8'), key, sig);
  if (!ok) {
    throw new NodegateError('NG_REG_BAD_SIGNATURE', 'The registration signature does not verify: sign the UTF-8 bytes of "nodegate-register:<zone>:<nonce>" with the private key of publicKey.', { status: 400 });
  }
  return deviceIdFromJwk(jwk);
}

/** Remembers jtis until their token expires. */
export class JtiReplayCache {
  private readonly seen = new Map<string, number>(); // jti -> forget after (ms)
  private nextSweep = 0;
  constructor(private readonly now: () => number) {}

  /** Records a jti; NG_REG_TOKEN_REPLAYED if it was seen and has not expired yet. */
  remember(key: string, forgetAtMs: number): void {
    const now = this.now();
    if (now >= this.nextSweep || this.seen.size >= MAX_REMEMBERED_JTIS) {
      for (const [k, t] of this.seen) if (t <= now) this.seen.delete(k);
      this.nextSweep = now + 1000;
    }
    const known = this.seen.get(key);
    if (known !== undefined && known > now) {
      throw new NodegateError('NG_REG_TOKEN_REPLAYED', 'This token (jti) was already used; sign a fresh token for every request.', { status: 401 });
    }
    if (this.seen.size >= MAX_REMEMBERED_JTIS) {
      throw new NodegateError('NG_REG_UNAVAILABLE', 'The registry is overloaded; retry in a minute.', { status: 503 });
    }
    this.seen.set(key, forgetAtMs);
  }

  get size(): number {
    return this.seen.size;
  }
}

export interface TokenVerifierOptions {
  zone: string;
  /** The stored public key (JWK `x`) of a device, or undefined if unknown. */
  lookupKey: (deviceId: string) => string | undefined;
  now: () => number;
}

/** Verifies device JWTs. */
export class TokenVerifier {
  private readonly replay: JtiReplayCache;
  // CryptoKeys, not KeyObjects: jose verifies with WebCrypto and would convert a KeyObject every call.
  private readonly keyCache = new Map<string, CryptoKey>();
  private static readonly KEY_CACHE_MAX = 10_000;

  constructor(private readonly options: TokenVerifierOptions) {
    this.replay = new JtiReplayCache(options.now);
  }

  /**
   * Verifies `authorization` (`Bearer <jwt>`) and returns the device id it proves. Codes:
   * NG_REG_UNAUTHENTICATED (no token, unknown device), NG_REG_TOKEN_INVALID (malformed, wrong alg,
   * bad signature, wrong aud/sub), NG_REG_TOKEN_EXPIRED, NG_REG_TOKEN_LIFETIME, NG_REG_TOKEN_REPLAYED.
   */
  async verify(authorization: string | undefined): Promise<string> {
    const m = /^Bearer ([A-Za-z0-9_.-]{1,4096})$/.exec(authorization ?? '');
    if (!m) throw new NodegateError('NG_REG_UNAUTHENTICATED', 'Send Authorization: Bearer <JWT signed by the device key>.', { status: 401 });
    const token = m[1]!;
    let kid: string | undefined;
    let alg: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      kid = header.kid;
      alg = header.alg;
    } catch (err) {
      throw invalid('the token is not a JWS', err);
    }
    if (alg !== 'EdDSA') throw invalid(`alg ${String(alg)} is not accepted; sign with EdDSA (Ed25519)`);
    if (typeof kid !== 'string') throw invalid('the token header has no kid (the device id)');
    const key = await this.keyFor(kid);
    const nowS = Math.floor(this.options.now() / 1000);
    let payload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: ['EdDSA'],
        audience: registryAudience(this.options.zone),
        subject: kid,
        clockTolerance: CLOCK_SKEW_S,
        requiredClaims: ['exp', 'iat', 'jti', 'sub'],
        currentDate: new Date(nowS * 1000),
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) {
        throw new NodegateError('NG_REG_TOKEN_EXPIRED', 'The token has expired; check the device clock and sign a fresh token.', { status: 401, cause: err });
      }
      if (err instanceof joseErrors.JWTClaimValidationFailed) throw invalid(`claim ${err.claim} is wrong (${err.reason})`, err);
      throw invalid('the signature does not verify with the device key', err);
    }
    const { exp, iat, jti } = payload as { exp: number; iat: number; jti: string };
    if (exp - iat > MAX_DEVICE_JWT_LIFETIME_S || exp > nowS + MAX_DEVICE_JWT_LIFETIME_S + CLOCK_SKEW_S) {
      throw new NodegateError('NG_REG_TOKEN_LIFETIME', `The token lives longer than ${MAX_DEVICE_JWT_LIFETIME_S} s; sign tokens with exp - iat <= ${MAX_DEVICE_JWT_LIFETIME_S}.`, { status: 401 });
    }
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 128) throw invalid('jti must be a string of 1..128 characters');
    this.replay.remember(`${kid}:${jti}`, (exp + CLOCK_SKEW_S) * 1000);
    return kid;
  }

  /** Drops the cached key of a device (after it re-registers). */
  forget(deviceId: string): void {
    this.keyCache.delete(deviceId);
  }

  private async keyFor(deviceId: string): Promise<CryptoKey> {
    const cached = this.keyCache.get(deviceId);
    if (cached) return cached;
    const x = this.options.lookupKey(deviceId);
    if (x === undefined) throw new NodegateError('NG_REG_UNAUTHENTICATED', `No device ${deviceId} is registered here; register first.`, { status: 401 });
    let key: CryptoKey;
    try {
      const imported = await importJWK({ kty: 'OKP', crv: 'Ed25519', x }, 'EdDSA');
      if (imported instanceof Uint8Array) throw new TypeError('an OKP JWK imported as a secret');
      key = imported;
    } catch (err) {
      throw new NodegateError('NG_REG_BAD_KEY', `The stored key of device ${deviceId} cannot be used.`, { status: 500, cause: err });
    }
    if (this.keyCache.size >= TokenVerifier.KEY_CACHE_MAX) this.keyCache.delete(this.keyCache.keys().next().value as string);
    this.keyCache.set(deviceId, key);
    return key;
  }
}

function invalid(why: string, cause?: unknown): NodegateError {
  return new NodegateError('NG_REG_TOKEN_INVALID', `The token is not valid: ${why}.`, { status: 401, details: { reason: why }, ...(cause ? { cause } : {}) });
}

/** SHA-256 of a secret (secrets here are random 256-bit values: a slow KDF adds nothing). */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Constant-time comparison of a presented secret against a stored hash. */
export function secretMatches(presented: string, storedHash: Buffer | null | undefined): boolean {
  if (!storedHash) return false;
  const h = hashSecret(presented);
  return h.length === storedHash.length && timingSafeEqual(h, storedHash);
}

/** Enrollment tokens, kept only as hashes. */
export class EnrollmentTokens {
  private readonly hashes: Buffer[];
  constructor(tokens: readonly string[]) {
    this.hashes = tokens.map(hashSecret);
  }
  get required(): boolean {
    return this.hashes.length > 0;
  }
  /** NG_REG_ENROLLMENT_REQUIRED / NG_REG_ENROLLMENT_INVALID when tokens are configured. */
  check(token: string | undefined): void {
    if (!this.required) return;
    if (token === undefined) {
      throw new NodegateError('NG_REG_ENROLLMENT_REQUIRED', 'This registry accepts only enrolled devices: send the enrollmentToken your vendor provided.', { status: 403 });
    }
    const h = hashSecret(token);
    let ok = false;
    for (const stored of this.hashes) ok = timingSafeEqual(h, stored) || ok;
    if (!ok) throw new NodegateError('NG_REG_ENROLLMENT_INVALID', 'The enrollment token is not valid for this registry; check it with your vendor.', { status: 403 });
  }
}
