import { describe, it, expect } from 'vitest';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createSelfSigned, SELF_SIGNED_LIFETIME_MS } from '../../../certs/selfsigned.ts';

describe('self-signed fallback', () => {
  it('covers the device name, its wildcard (so lan.<name>) and lasts 30 days, with a matching P-256 key', async () => {
    const now = Date.UTC(2026, 5, 1);
    const pair = await createSelfSigned(['abc.dyn.example', '*.abc.dyn.example'], { now: () => now });
    const leaf = new X509Certificate(pair.chainPem);
    expect(leaf.checkHost('abc.dyn.example')).toBe('abc.dyn.example');
    expect(leaf.checkHost('lan.abc.dyn.example')).toBe('*.abc.dyn.example');
    expect(leaf.checkHost('other.dyn.example')).toBeUndefined();
    expect(leaf.checkPrivateKey(createPrivateKey(pair.keyPem))).toBe(true);
    expect(createPrivateKey(pair.keyPem).asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(pair.info).toMatchObject({ selfSigned: true, names: ['abc.dyn.example', '*.abc.dyn.example'] });
    expect(pair.info.notAfter.getTime()).toBe(Math.floor((now + SELF_SIGNED_LIFETIME_MS) / 1000) * 1000);
    expect(leaf.ca).toBe(false);
  });

  it('refuses an empty name list with a TypeError', async () => {
    await expect(createSelfSigned([])).rejects.toThrow(TypeError);
  });
});
