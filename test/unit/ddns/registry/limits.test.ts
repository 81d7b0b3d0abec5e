import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../../../ddns/client/identity.ts';
import { RegistryClient } from '../../../../ddns/client/registry-client.ts';
import { startTestRegistry, type TestRegistry } from '../../../support/registry.ts';

describe('enrollment tokens', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startTestRegistry({ enrollmentTokens: ['vendor-token-1', 'vendor-token-2'] });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('refuses a device without a token: NG_REG_ENROLLMENT_REQUIRED', async () => {
    await expect(RegistryClient.register({ url: reg.apiUrl, identity: generateIdentity() })).rejects.toMatchObject({ code: 'NG_REG_ENROLLMENT_REQUIRED', status: 403 });
  });

  it('refuses a wrong token: NG_REG_ENROLLMENT_INVALID', async () => {
    await expect(RegistryClient.register({ url: reg.apiUrl, identity: generateIdentity(), enrollmentToken: 'vendor-token-3' })).rejects.toMatchObject({ code: 'NG_REG_ENROLLMENT_INVALID', status: 403 });
  });

  it('accepts any configured token', async () => {
    const { device } = await RegistryClient.register({ url: reg.apiUrl, identity: generateIdentity(), enrollmentToken: 'vendor-token-2' });
    expect(device.id).toMatch(/^[a-z2-7]{16}$/);
    expect(reg.store.countDevices()).toBe(1);
  });
});

describe('per-source rate limits', () => {
  it('answers 429 NG_REG_RATE_LIMITED once the API bucket is empty, and the registry keeps serving others', async () => {
    const reg = await startTestRegistry({ rateLimits: { api: { burst: 3, perSecond: 0.001 } } });
    try {
      const { client } = await reg.device();
      await client.whoami();
      await client.whoami();
      await client.whoami();
      await expect(client.whoami()).rejects.toMatchObject({ code: 'NG_REG_RATE_LIMITED', status: 429, details: { retryAfterS: 1000 } });
      // registration has its own bucket and still works
      await expect(reg.device()).resolves.toBeDefined();
    } finally {
      await reg.stop();
    }
  });

  it('limits registrations per source: the nonce and register calls share one bucket', async () => {
    const reg = await startTestRegistry({ rateLimits: { register: { burst: 4, perSecond: 0.001 } } });
    try {
      await reg.device(); // nonce + register = 2 tokens
      await reg.device(); // 2 more
      await expect(reg.device()).rejects.toMatchObject({ code: 'NG_REG_RATE_LIMITED', status: 429 });
      expect(reg.store.countDevices()).toBe(2);
    } finally {
      await reg.stop();
    }
  });
});
