/** The source address the registry acts on: IPv6 callers, and X-Forwarded-For only behind a trusted proxy. */
import { describe, expect, it } from 'vitest';
import { startTestRegistry } from '../../../support/registry.ts';

describe('IPv6 callers', () => {
  it('whoami reports family 6 and "auto" publishes the IPv6 source address', async () => {
    const reg = await startTestRegistry({ api: { host: '::1', port: 0 }, allowAddresses: ['::1/128'] });
    try {
      expect(reg.apiUrl).toMatch(/^http:\/\/\[::1\]:\d+$/);
      const { client } = await reg.device();
      expect(await client.whoami()).toEqual({ address: '::1', family: 6 });
      expect((await client.updateAddress({ ipv6: 'auto' })).records.ipv6).toBe('::1');
      await expect(client.updateAddress({ ipv4: 'auto' })).rejects.toMatchObject({ code: 'NG_REG_ADDRESS_INVALID' });
    } finally {
      await reg.stop();
    }
  });
});

describe('X-Forwarded-For', () => {
  const whoamiVia = async (apiUrl: string) => {
    const res = await fetch(`${apiUrl}/v1/whoami`, { headers: { 'x-forwarded-for': '198.51.100.77' } });
    return res.json();
  };

  it('is ignored by default (a client cannot choose its address)', async () => {
    const reg = await startTestRegistry();
    try {
      expect(await whoamiVia(reg.apiUrl)).toEqual({ address: '127.0.0.1', family: 4 });
    } finally {
      await reg.stop();
    }
  });

  it('is used when the peer is a trusted proxy', async () => {
    const reg = await startTestRegistry({ trustProxy: '127.0.0.1' });
    try {
      expect(await whoamiVia(reg.apiUrl)).toEqual({ address: '198.51.100.77', family: 4 });
    } finally {
      await reg.stop();
    }
  });
});
