import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryDns, rdataText } from '../../../../ddns/dns-client.ts';
import { startRegistry } from '../../../../ddns/registry/main.ts';
import { tempDir } from '../../../../sim/process.ts';
import { startTestRegistry, TEST_ZONE, type TestRegistry } from '../../../support/registry.ts';
import type { AcmeDnsRegisterResponse as Account } from '../../../../ddns/protocol.ts';

let reg: TestRegistry;
beforeAll(async () => {
  // Many registrations from one address: a bucket larger than the default's 20.
  reg = await startTestRegistry({ rateLimits: { register: { burst: 200, perSecond: 10 } } });
});
afterAll(async () => {
  await reg?.stop();
});


async function register(body?: unknown): Promise<{ status: number; account: Account }> {
  const res = await fetch(`${reg.apiUrl}/register`, {
    method: 'POST',
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, account: (await res.json()) as Account };
}

async function update(account: Pick<Account, 'username' | 'password'>, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${reg.apiUrl}/update`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-user': account.username, 'x-api-key': account.password, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** A raw request: status, Content-Type and the exact body bytes. */
async function raw(path: string, init: RequestInit = {}): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${reg.apiUrl}${path}`, { method: 'POST', ...init });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

const forbidden = { status: 401, body: { error: 'forbidden' } };

const txt = (c: string) => c.repeat(43);
const served = async (name: string) => (await queryDns(reg.dnsAddress, name, 'TXT')).answers.map(rdataText).sort();

describe('acme-dns compatible API', () => {
  it('GET /health answers 200 with an empty body', async () => {
    const res = await fetch(`${reg.apiUrl}/health`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });

  it('registers an account without a body, as acme-dns clients do', async () => {
    const { status, account } = await register();
    expect(status).toBe(201);
    expect(account.username).toMatch(/^[0-9a-f-]{36}$/);
    expect(account.password).toMatch(/^[A-Za-z0-9_-]{40}$/);
    expect(account.fulldomain).toBe(`${account.subdomain}.${TEST_ZONE}`);
    expect(account.allowfrom).toEqual([]);
  });

  it('registers with an empty body sent as application/json (goacmedns 0.1), and with `null` (goacmedns 0.2)', async () => {
    for (const body of [undefined, 'null\n']) {
      const r = await raw('/register', { headers: { 'content-type': 'application/json' }, ...(body !== undefined ? { body } : {}) });
      expect(r.status).toBe(201);
      expect(r.type).toBe('application/json');
      expect(r.text).toMatch(/^\{"username":"[0-9a-f-]{36}","password":"[A-Za-z0-9_-]{40}","fulldomain":"[0-9a-f-]{36}\.dyn\.test\.example","subdomain":"[0-9a-f-]{36}","allowfrom":\[\]\}$/);
    }
  });

  it('reads the body as JSON whatever the Content-Type says, or without one', async () => {
    for (const type of [undefined, 'application/x-www-form-urlencoded', 'text/plain', 'not a media type']) {
      const r = await raw('/register', { ...(type ? { headers: { 'content-type': type } } : {}), body: '{"allowfrom":["192.0.2.0/24"]}' });
      expect([r.status, (JSON.parse(r.text) as Account).allowfrom], String(type)).toEqual([201, ['192.0.2.0/24']]);
    }
  });

  it("answers a body that is not JSON with acme-dns's malformed_json_payload", async () => {
    for (const body of ['allowfrom=10.0.0.0/8', '{', ' ', '{"allowfrom":"10.0.0.0/8"}', '[]']) {
      expect(await raw('/register', { body }), body).toEqual({ status: 400, type: 'application/json', text: '{"error": "malformed_json_payload"}' });
    }
  });

  it('takes Go-cased keys (goacmedns 0.1 sends {"AllowFrom": [...]}) and removes brackets as acme-dns does', async () => {
    const r = await raw('/register', { headers: { 'content-type': 'application/json' }, body: '{"AllowFrom":["[2001:db8::]/32","203.0.113.0/24"]}' });
    expect(r.status).toBe(201);
    expect((JSON.parse(r.text) as Account).allowfrom).toEqual(['2001:db8::/32', '203.0.113.0/24']);
  });

  it('publishes updates at the fulldomain and keeps the two most recent values', async () => {
    const { account } = await register();
    const first = await raw('/update', { headers: { 'x-api-user': account.username, 'x-api-key': account.password }, body: JSON.stringify({ subdomain: account.subdomain, txt: txt('a') }) });
    expect(first).toEqual({ status: 200, type: 'application/json', text: `{"txt": "${txt('a')}"}` });
    expect(await served(account.fulldomain)).toEqual([`"${txt('a')}"`]);
    // goacmedns 0.1's Go field names
    expect(await update(account, { SubDomain: account.subdomain, Txt: txt('b') })).toEqual({ status: 200, body: { txt: txt('b') } });
    expect(await served(account.fulldomain)).toEqual([`"${txt('a')}"`, `"${txt('b')}"`]);
    await update(account, { subdomain: account.subdomain, txt: txt('c') });
    expect(await served(account.fulldomain)).toEqual([`"${txt('b')}"`, `"${txt('c')}"`]);
  });

  it('refuses a wrong key with 401 and changes nothing', async () => {
    const { account } = await register();
    const body = { subdomain: account.subdomain, txt: txt('d') };
    expect(await update({ username: account.username, password: 'x'.repeat(40) }, body)).toEqual(forbidden);
    expect(await update({ username: account.username, password: account.password.slice(1) }, body)).toEqual(forbidden);
    expect(await update({ username: 'not-a-uuid', password: account.password }, body)).toEqual(forbidden);
    expect(await update({ username: crypto.randomUUID(), password: account.password }, body)).toEqual(forbidden);
    expect(await served(account.fulldomain)).toEqual([]);
  });

  it('takes X-Api-User in any form google/uuid parses', async () => {
    const { account } = await register();
    const forms = [account.username.toUpperCase(), `urn:uuid:${account.username}`, `{${account.username}}`, account.username.replace(/-/g, '')];
    for (const username of forms) expect((await update({ username, password: account.password }, { subdomain: account.subdomain, txt: txt('u') })).status, username).toBe(200);
  });

  it('refuses a body without the subdomain, or not JSON, as forbidden (Auth decodes before it compares)', async () => {
    const { account } = await register();
    expect(await update(account, { txt: txt('n') })).toEqual(forbidden);
    expect(await update(account, 'subdomain=x&txt=y')).toEqual(forbidden);
    expect(await update(account, '')).toEqual(forbidden);
    // Decode reads the first JSON value only: what follows it does not matter.
    expect((await update(account, `{"subdomain":"${account.subdomain}","txt":"${txt('m')}"} and more`)).status).toBe(200);
  });

  it("refuses another account's subdomain with 401", async () => {
    const a = await register();
    const b = await register();
    expect(await update(a.account, { subdomain: b.account.subdomain, txt: txt('e') })).toEqual(forbidden);
    expect(await update(a.account, { subdomain: a.account.subdomain.toUpperCase(), txt: txt('e') })).toEqual(forbidden);
  });

  it("refuses a TXT value that is not a DNS-01 digest with acme-dns's bad_txt", async () => {
    const { account } = await register();
    for (const value of ['not-a-digest', `${txt('a').slice(1)}=`, 5]) {
      expect(await update(account, { subdomain: account.subdomain, txt: value })).toEqual({ status: 400, body: { error: 'bad_txt' } });
    }
  });

  it('honours allowfrom: updates from outside the CIDRs are refused, from inside accepted', async () => {
    const outside = await register({ AllowFrom: ['10.0.0.0/8'] });
    expect(outside.account.allowfrom).toEqual(['10.0.0.0/8']);
    expect(await update(outside.account, { subdomain: outside.account.subdomain, txt: txt('f') })).toEqual(forbidden);
    // Without --trust-proxy, X-Forwarded-For is not the client's address.
    expect(await update(outside.account, { subdomain: outside.account.subdomain, txt: txt('f') }, { 'x-forwarded-for': '10.1.2.3' })).toEqual(forbidden);
    expect(await served(outside.account.fulldomain)).toEqual([]);
    const inside = await register({ allowfrom: ['10.0.0.0/8', '127.0.0.0/8'] });
    expect((await update(inside.account, { subdomain: inside.account.subdomain, txt: txt('g') })).status).toBe(200);
  });

  it("refuses a CIDR net.ParseCIDR refuses with acme-dns's invalid_allowfrom_cidr", async () => {
    for (const cidr of ['not-a-cidr', '10.0.0.0', '10.0.0.0/33', '']) {
      expect(await raw('/register', { body: JSON.stringify({ allowfrom: ['127.0.0.0/8', cidr] }) }), cidr).toEqual({ status: 400, type: 'application/json', text: '{"error": "invalid_allowfrom_cidr"}' });
    }
  });

  it('serves acme-dns records again after a restart (the store is the truth)', async () => {
    const dir = await tempDir('ng-acmedns-restart-');
    const options = { zone: TEST_ZONE, dataDir: dir.path, api: { host: '127.0.0.1', port: 0 }, dns: { host: '127.0.0.1', port: 0 } };
    try {
      const first = await startRegistry(options);
      let account: Account;
      try {
        const res = await fetch(`${first.apiUrl}/register`, { method: 'POST' });
        account = (await res.json()) as Account;
        const up = await fetch(`${first.apiUrl}/update`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-user': account.username, 'x-api-key': account.password },
          body: JSON.stringify({ subdomain: account.subdomain, txt: txt('h') }),
        });
        expect(up.status).toBe(200);
      } finally {
        await first.close();
      }
      const second = await startRegistry(options);
      try {
        const answer = await queryDns(second.dnsAddress, account.fulldomain, 'TXT');
        expect(answer.answers.map(rdataText)).toEqual([`"${txt('h')}"`]);
      } finally {
        await second.close();
      }
    } finally {
      await dir.remove();
    }
  });
});

describe('acme-dns behind a proxy (--trust-proxy: acme-dns use_header)', () => {
  it('checks allowfrom against the address the trusted proxy reports, not one the client wrote', async () => {
    const proxied = await startTestRegistry({ trustProxy: '127.0.0.1' });
    try {
      const res = await fetch(`${proxied.apiUrl}/register`, { method: 'POST', body: '{"allowfrom":["10.0.0.0/8"]}' });
      const account = (await res.json()) as Account;
      const send = async (forwardedFor: string) =>
        (
          await fetch(`${proxied.apiUrl}/update`, {
            method: 'POST',
            headers: { 'x-api-user': account.username, 'x-api-key': account.password, 'x-forwarded-for': forwardedFor },
            body: JSON.stringify({ subdomain: account.subdomain, txt: txt('p') }),
          })
        ).status;
      expect(await send('10.1.2.3')).toBe(200);
      expect(await send('192.0.2.1')).toBe(401);
      // nginx's $proxy_add_x_forwarded_for appends the real client to what the client sent:
      // acme-dns would accept this (any entry matches); only the proxy's own entry counts here.
      expect(await send('10.1.2.3, 192.0.2.1')).toBe(401);
    } finally {
      await proxied.stop();
    }
  });
});

describe('acme-dns rate limit', () => {
  it("answers 429 in acme-dns's error shape with Retry-After", async () => {
    const limited = await startTestRegistry({ rateLimits: { register: { burst: 1, perSecond: 0.01 } } });
    try {
      expect((await fetch(`${limited.apiUrl}/register`, { method: 'POST' })).status).toBe(201);
      const res = await fetch(`${limited.apiUrl}/register`, { method: 'POST' });
      expect([res.status, res.headers.get('retry-after'), await res.text()]).toEqual([429, '100', '{"error": "rate_limited"}']);
    } finally {
      await limited.stop();
    }
  });
});
