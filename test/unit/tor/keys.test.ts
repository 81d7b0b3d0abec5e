import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode, clientAuthLine, clientAuthPublicFromPrivate, generateClientAuthKeyPair, isOnionAddress, onionKeyFromSeed } from '../../../tor/keys.ts';

describe('onion keys (rend-spec-v3 §6)', () => {
  it('derives a checksummed v3 address and tor blob from a seed, deterministically', () => {
    const seed = Buffer.alloc(32, 1);
    const a = onionKeyFromSeed(seed);
    expect(onionKeyFromSeed(seed)).toEqual(a);
    expect(a.address).toMatch(/^[a-z2-7]{55}d$/); // version byte 3 makes every v3 address end in "d"
    expect(isOnionAddress(a.address)).toBe(true);
    expect(isOnionAddress(`${a.address}.onion`)).toBe(true);
    const blob = Buffer.from(a.torBlob, 'base64');
    expect(blob).toHaveLength(64);
    expect(blob[0]! & 7).toBe(0); // clamped scalar
    expect(blob[31]! & 0xc0).toBe(0x40);
  });

  it('rejects addresses with a wrong checksum or version', () => {
    const { address } = onionKeyFromSeed(Buffer.alloc(32, 2));
    const broken = (address[0] === 'a' ? 'b' : 'a') + address.slice(1);
    expect(isOnionAddress(broken)).toBe(false);
    expect(isOnionAddress('short')).toBe(false);
  });

  it('base32 round-trips', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff));
      expect(base32Decode(base32Encode(bytes))).toEqual(bytes);
    }
  });

  it('makes x25519 client pairs in the formats tor and Tor Browser take', () => {
    const pair = generateClientAuthKeyPair();
    expect(pair.publicKey).toMatch(/^[A-Z2-7]{52}$/);
    expect(pair.privateKey).toMatch(/^[A-Z2-7]{52}$/);
    expect(Buffer.from(pair.privateKeyBase64, 'base64')).toEqual(base32Decode(pair.privateKey));
    expect(clientAuthPublicFromPrivate(pair.privateKey)).toBe(pair.publicKey);
    const { address } = onionKeyFromSeed(Buffer.alloc(32, 3));
    expect(clientAuthLine(`${address}.onion`, pair.privateKey)).toBe(`${address}:descriptor:x25519:${pair.privateKey}`);
  });
});
