/**
 * v3 onion service keys and addresses.
 *
 * Spec: torspec rend-spec-v3 §6 "Encoding onion addresses" (address = base32(PUBKEY | CHECKSUM |
 * VERSION), CHECKSUM = SHA3-256(".onion checksum" | PUBKEY | VERSION)[:2], VERSION = 0x03);
 * control-spec §3.27 (ADD_ONION `ED25519-V3:` blob = base64 of the 64-byte expanded secret key,
 * as tor's `hs_ed25519_secret_key` holds it); rend-spec-v3 §G.1 / client-auth: x25519 keys, base32
 * on the service side (`ClientAuthV3`), `<onion>:descriptor:x25519:<base32>` on the client side.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';

const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const ONION_VERSION = 3;

/** RFC 4648 base32 without padding, lower case (onion addresses) or upper case (auth keys). */
export function base32Encode(bytes: Uint8Array, upper = false): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return upper ? out.toUpperCase() : out;
}

export function base32Decode(text: string): Buffer {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const clean = text.toLowerCase().replace(/=+$/, '');
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const c of clean) {
    const i = alphabet.indexOf(c);
    if (i === -1) throw new TypeError(`invalid base32 character ${JSON.stringify(c)}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The onion address (56 chars, no `.onion`) of an ed25519 public key. */
export function onionAddressFromPublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new TypeError('an ed25519 public key has 32 bytes');
  const version = Buffer.from([ONION_VERSION]);
  const checksum = createHash('sha3-256').update('.onion checksum').update(publicKey).update(version).digest().subarray(0, 2);
  return base32Encode(Buffer.concat([publicKey, checksum, version]));
}

/** True when `address` (with or without `.onion`) is a well-formed v3 address with a valid checksum. */
export function isOnionAddress(address: string): boolean {
  const id = address.replace(/\.onion$/, '');
  if (!/^[a-z2-7]{56}$/.test(id)) return false;
  const raw = base32Decode(id);
  return raw.length === 35 && raw[34] === ONION_VERSION && onionAddressFromPublicKey(raw.subarray(0, 32)) === id;
}

export interface OnionKey {
  /** 32-byte ed25519 seed (what we store). */
  seed: Buffer;
  publicKey: Buffer;
  /** The address without `.onion`. */
  address: string;
  /** ADD_ONION `ED25519-V3:` blob: base64 of SHA-512(seed) clamped (the expanded secret key). */
  torBlob: string;
}

/** Derives everything from a seed. */
export function onionKeyFromSeed(seed: Uint8Array): OnionKey {
  if (seed.length !== 32) throw new TypeError('an ed25519 seed has 32 bytes');
  const priv = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const x = createPublicKey(priv).export({ format: 'jwk' }).x;
  if (!x) throw new Error('ed25519 public key export failed');
  const publicKey = Buffer.from(x, 'base64url');
  const expanded = createHash('sha512').update(seed).digest();
  expanded[0] = expanded[0]! & 248; // RFC 8032 §5.1.5 clamping, as tor stores it
  expanded[31] = (expanded[31]! & 127) | 64;
  return { seed: Buffer.from(seed), publicKey, address: onionAddressFromPublicKey(publicKey), torBlob: expanded.toString('base64') };
}

export function generateOnionKey(): OnionKey {
  return onionKeyFromSeed(randomBytes(32));
}

export interface ClientAuthKeyPair {
  /** Service side: base32 upper case, 52 chars (ADD_ONION ClientAuthV3=). */
  publicKey: string;
  /** Client side: base32 upper case, 52 chars (ClientOnionAuthDir files, Tor Browser). */
  privateKey: string;
  /** Client side: base64 (ONION_CLIENT_AUTH_ADD x25519:). */
  privateKeyBase64: string;
}

export function generateClientAuthKeyPair(): ClientAuthKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const d = Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
  const x = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  if (d.length !== 32 || x.length !== 32) throw new Error('x25519 key export failed');
  return { publicKey: base32Encode(x, true), privateKey: base32Encode(d, true), privateKeyBase64: d.toString('base64') };
}

/** The x25519 public key (base32) of a private key (base32), to check stored pairs. */
export function clientAuthPublicFromPrivate(privateKeyBase32: string): string {
  const d = base32Decode(privateKeyBase32);
  const priv = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, d]), format: 'der', type: 'pkcs8' });
  return base32Encode(Buffer.from(createPublicKey(priv).export({ format: 'jwk' }).x ?? '', 'base64url'), true);
}

/** The line a user pastes into Tor Browser or a `ClientOnionAuthDir/<name>.auth_private` file. */
export function clientAuthLine(address: string, privateKeyBase32: string): string {
  return `${address.replace(/\.onion$/, '')}:descriptor:x25519:${privateKeyBase32}`;
}
