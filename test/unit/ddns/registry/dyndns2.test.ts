import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryDns, rdataText } from '../../../../ddns/dns-client.ts';
import type { RegisterResponse } from '../../../../ddns/protocol.ts';
import { startTestRegistry, type TestRegistry } from '../../../support/registry.ts';

let reg: TestRegistry;
let device: RegisterResponse;
beforeAll(async () => {
  reg = await startTestRegistry({ allowAddresses: ['198.51.100.0/24', '2001:db8::/32', '127.0.0.0/8'] });
  ({ device } = await reg.device());
});
afterAll(async () => {
  await reg?.stop();
});

async function nic(query: string, user = device.name, password = device.updateSecret!): Promise<{ status: number; text: string }> {
  const res = await fetch(`${reg.apiUrl}/nic/update?${query}`, { headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } });
  return { status: res.status, text: await res.text() };
}

const a = async (name: string) => (await queryDns(reg.dnsAddress, name, 'A')).answers.map(rdataText);

describe('dyndns2 /nic/update', () => {
  it('answers good IP on a change and publishes it', async () => {
    expect(await nic(`hostname=${device.name}&myip=198.51.100.40`)).toEqual({ status: 200, text: 'good 198.51.100.40' });
    expect(await a(device.name)).toEqual(['198.51.100.40']);
  });

  it('answers nochg IP when the address is the same', async () => {
    await nic(`hostname=${device.name}&myip=198.51.100.41`);
    expect(await nic(`hostname=${device.name}&myip=198.51.100.41`)).toEqual({ status: 200, text: 'nochg 198.51.100.41' });
  });

  it('uses the source address when myip is left out', async () => {
    expect(await nic(`hostname=${device.name}`)).toEqual({ status: 200, text: 'good 127.0.0.1' });
    expect(await a(device.name)).toEqual(['127.0.0.1']);
  });

  it('sets IPv6 (and both at once) without touching the other family', async () => {
    expect((await nic(`hostname=${device.name}&myip=2001:db8::42`)).text).toBe('good 2001:db8::42');
    expect((await queryDns(reg.dnsAddress, device.name, 'AAAA')).answers.map(rdataText)).toEqual(['2001:db8::42']);
    expect(await a(device.name)).toEqual(['127.0.0.1']);
    expect((await nic(`hostname=${device.name}&myip=198.51.100.43,2001:db8::43`)).text).toBe('good 198.51.100.43,2001:db8::43');
  });

  it('answers badauth (401) for a wrong password, an unknown user or no credentials', async () => {
    expect(await nic(`hostname=${device.name}&myip=198.51.100.44`, device.name, 'wrong')).toEqual({ status: 401, text: 'badauth' });
    expect(await nic(`hostname=${device.name}`, 'aaaaaaaaaaaaaaaa.dyn.test.example', 'x')).toEqual({ status: 401, text: 'badauth' });
    const res = await fetch(`${reg.apiUrl}/nic/update?hostname=${device.name}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="nodegate dyndns2"');
    expect(await res.text()).toBe('badauth');
  });

  it("answers nohost for a name that is not the device's", async () => {
    const other = await reg.device();
    expect(await nic(`hostname=${other.device.name}&myip=198.51.100.45`)).toEqual({ status: 200, text: 'nohost' });
    expect((await other.client.device()).records.ipv4).toBeNull();
  });

  it('answers notfqdn for a missing or malformed hostname', async () => {
    expect((await nic('myip=198.51.100.46')).text).toBe('notfqdn');
    expect((await nic('hostname=not_a_name&myip=198.51.100.46')).text).toBe('notfqdn');
  });

  it('answers one code per hostname, in order (dyn.com "Return Codes")', async () => {
    const other = await reg.device();
    const r = await nic(`hostname=${device.name},${other.device.name},not_a_name,${device.name.toUpperCase()}&myip=198.51.100.60`);
    expect(r).toEqual({ status: 200, text: ['good 198.51.100.60', 'nohost', 'notfqdn', 'nochg 198.51.100.60'].join('\n') });
    expect(await a(device.name)).toEqual(['198.51.100.60']);
    expect((await other.client.device()).records.ipv4).toBeNull();
    expect((await nic(`hostname=${other.device.name},x&myip=198.51.100.61`)).text).toBe('nohost\nnotfqdn');
    expect(await a(device.name)).toEqual(['198.51.100.60']);
  });

  it('answers numhost for more than 20 hostnames and changes nothing', async () => {
    const r = await nic(`hostname=${Array.from({ length: 21 }, () => device.name).join(',')}&myip=198.51.100.62`);
    expect(r).toEqual({ status: 200, text: 'numhost' });
    expect(await a(device.name)).not.toContain('198.51.100.62');
  });

  it('refuses two addresses of one family with badip instead of storing only the last', async () => {
    const before = await a(device.name);
    expect(await nic(`hostname=${device.name}&myip=198.51.100.63,198.51.100.64`)).toEqual({ status: 200, text: 'badip' });
    expect(await nic(`hostname=${device.name}&myip=2001:db8::63,2001:db8::64`)).toEqual({ status: 200, text: 'badip' });
    expect(await a(device.name)).toEqual(before);
  });

  it('answers badip for a malformed or special-purpose address and changes nothing', async () => {
    const before = await a(device.name);
    expect((await nic(`hostname=${device.name}&myip=300.1.1.1`)).text).toBe('badip');
    expect((await nic(`hostname=${device.name}&myip=10.0.0.1`)).text).toBe('badip');
    expect(await a(device.name)).toEqual(before);
  });
});

describe('dyndns2 rate limit', () => {
  it('answers abuse once the source has used its bucket', async () => {
    const limited = await startTestRegistry({ allowAddresses: ['198.51.100.0/24'], rateLimits: { api: { burst: 2, perSecond: 0.001 } } });
    try {
      const { device: d } = await limited.device();
      const call = async () => {
        const res = await fetch(`${limited.apiUrl}/nic/update?hostname=${d.name}&myip=198.51.100.50`, { headers: { authorization: `Basic ${Buffer.from(`${d.name}:${d.updateSecret}`).toString('base64')}` } });
        return res.text();
      };
      expect(await call()).toBe('good 198.51.100.50');
      expect(await call()).toBe('nochg 198.51.100.50');
      expect(await call()).toBe('abuse');
    } finally {
      await limited.stop();
    }
  });
});
