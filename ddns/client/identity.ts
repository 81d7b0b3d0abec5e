/**
 * The device identity: one Ed25519 key per node, created once and kept at DATA/device/key.jwk
 * (private JWK, mode 0600). Its public key proves the device to the registry and names it: the
 * device id is base32 (RFC 4648 §6, lower case, no padding) of the first 10 bytes of
 * SHA-256(raw 32-byte public key) — 16 DNS-safe characters, see ddns/protocol.ts.
 *
 * A key file that exists but cannot be parsed is NG_FILE_CORRUPT and is never replaced silently:
 * replacing it would change the device's name and orphan its certificates.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { link, readdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fsyncDir, readFileIfExists, writeFileAtomic } from '../../core/atomic-file.ts';
import { NodegateError } from '../../core/errors.ts';
import { DEVICE_ID_LENGTH, type Ed25519PublicJwk } from '../protocol.ts';

/** Path of the device key below the data directory. */
export const DEVICE_KEY_FILE = join('device', 'key.jwk');

export interface DeviceIdentity {
  /** The device id (16 base32 chars), also the first label of its name `<id>.<zone>`. */
  readonly id: string;
  readonly publicJwk: Ed25519PublicJwk;
  /** Private key for jose (`new SignJWT(...).sign(privateKey)`) and {@link signBytes}. */
  readonly privateKey: KeyObject;
}

const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 base32, lower case, without padding. */
export function base32LowerNoPad(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** The device id of a raw 32-byte Ed25519 public key. */
export function deviceIdFromPublicKey(raw: Uint8Array): string {
  if (raw.length !== 32) throw new TypeError(`an Ed25519 public key has 32 bytes, got ${raw.length}`);
  const id = base32LowerNoPad(createHash('sha256').update(raw).digest().subarray(0, 10));
  return id.slice(0, DEVICE_ID_LENGTH);
}

/** The device id of a public JWK (`x` is the base64url raw key). */
export function deviceIdFromJwk(jwk: Pick<Ed25519PublicJwk, 'x'>): string {
  return deviceIdFromPublicKey(Buffer.from(jwk.x, 'base64url'));
}

/** An identity from a private Ed25519 JWK (`kty OKP, crv Ed25519, x, d`). Throws TypeError if it is not one. */
export function identityFromPrivateJwk(jwk: unknown): DeviceIdentity {
  const j = jwk as { kty?: unknown; crv?: unknown; x?: unknown; d?: unknown } | null;
  if (!j || j.kty !== 'OKP' || j.crv !== 'Ed25519' || typeof j.x !== 'string' || typeof j.d !== 'string') {
    throw new TypeError('not a private Ed25519 JWK');
  }
  const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: j.x, d: j.d }, format: 'jwk' });
  // Derive the public half from the private key so a file with a mismatched `x` cannot lie.
  const pub = createPublicKey(privateKey).export({ format: 'jwk' }) as { x: string };
  if (pub.x !== j.x) throw new TypeError('the JWK public key does not match its private key');
  const publicJwk: Ed25519PublicJwk = { kty: 'OKP', crv: 'Ed25519', x: pub.x };
  return { id: deviceIdFromJwk(publicJwk), publicJwk, privateKey };
}

/** A new random identity (not stored). */
export function generateIdentity(): DeviceIdentity {
  const { privateKey } = generateKeyPairSync('ed25519');
  return identityFromPrivateJwk(privateKey.export({ format: 'jwk' }));
}

/** A staging copy left by a creator killed before it linked its key is removed after this long, ms. */
const STALE_STAGING_MS = 60_000;

async function removeStaleStaging(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return; // no directory yet: nothing left behind
  }
  const prefix = `${basename(DEVICE_KEY_FILE)}.new-`;
  for (const name of names.filter((n) => n.startsWith(prefix))) {
    const file = join(dir, name);
    const info = await stat(file).catch(() => undefined);
    // A younger one may belong to a creator running right now.
    if (info && Date.now() - info.mtimeMs > STALE_STAGING_MS) await unlink(file).catch(() => undefined);
  }
}

/** Ed25519 signature of `data` with the device key (64 bytes). */
export function signBytes(identity: DeviceIdentity, data: Uint8Array): Buffer {
  return sign(null, data, identity.privateKey);
}

/** Loads DATA/device/key.jwk; undefined if it does not exist; NG_FILE_CORRUPT if it cannot be used. */
export async function loadIdentity(dataDir: string): Promise<DeviceIdentity | undefined> {
  const path = join(dataDir, DEVICE_KEY_FILE);
  const raw = await readFileIfExists(path);
  if (raw === undefined) return undefined;
  try {
    return identityFromPrivateJwk(JSON.parse(raw.toString('utf8')));
  } catch (err) {
    throw new NodegateError(
      'NG_FILE_CORRUPT',
      `The device key ${path} is damaged (${(err as Error).message}). It names this device, so it is not replaced automatically: restore it from a backup, or move it away to register as a new device.`,
      { cause: err },
    );
  }
}

/**
 * Loads the device key, creating it the first time. Creation is exclusive: the key is written to a
 * temporary file (fsync) and hard-linked into place, so two processes starting at once end up with
 * the same key, never two.
 */
export async function loadOrCreateIdentity(dataDir: string): Promise<DeviceIdentity> {
  const existing = await loadIdentity(dataDir);
  if (existing) return existing;
  const path = join(dataDir, DEVICE_KEY_FILE);
  await removeStaleStaging(dirname(path));
  const identity = generateIdentity();
  const staging = `${path}.new-${process.pid}-${randomBytes(6).toString('hex')}`;
  const jwk = identity.privateKey.export({ format: 'jwk' });
  await writeFileAtomic(staging, JSON.stringify(jwk) + '\n', { mode: 0o600 });
  try {
    await link(staging, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new NodegateError('NG_FILE_IO', `Could not create ${path}: ${(err as Error).message}.`, { cause: err });
    }
  } finally {
    await unlink(staging).catch(() => undefined); // the staging copy is only a vehicle
  }
  await fsyncDir(join(dataDir, 'device'));
  const stored = await loadIdentity(dataDir);
  if (!stored) throw new NodegateError('NG_FILE_IO', `${path} vanished right after it was created.`);
  return stored;
}
