import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryDns, rdataText } from '../../../../ddns/dns-client.ts';
import { startRegistry } from '../../../../ddns/registry/main.ts';
import { tempDir } from '../../../../sim/process.ts';
import { startTestRegistry, TEST_ZONE, type TestRegistry } from '../../../support/registry.ts';

let reg: TestRegistry;
beforeAll(async () => {
  reg = await startTestRegistry();
});
afterAll(async () => {
  await reg?.stop();
});

interface Account {
  username: string;
  password: string;
  fulldomain: string;
  subdomain: string;
  allowfrom: string[];
}

async function register(body?: unknown): Promise<{ status: number; account: Account }> {
  const res = await fetch(`${reg.apiUrl}/register`, {
    method: 'POST',
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, account: (await res.json()) as Account };
}

async function update(account: Pick<Account, 'username' | 'password'>, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${reg.apiUrl}/update`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-user': account.username, 'x-api-key': account.password },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const txt = (c: string) => c.repeat(43);
const served = async (name: string) => (await queryDns(reg.dnsAddress, name, 'TXT')).answers.map(rdataText).sort();

describe('acme-dns compatible API', () => {
  it('GET /health answers 200', async () => {
    const res = await fetch(`${reg.apiUrl}/health`);
    expect(res.status).toBe(200);
  });

  it('registers an account without a body, as acme-dns clients do', async () => {
    const { status, account } = await register();
    expect(status).toBe(201);
    expect(account.username).toMatch(/^[0-9a-f-]{36}$/);
    expect(account.password).toMatch(/^[A-Za-z0-9_-]{40}$/);
    expect(account.fulldomain).toBe(`${account.subdomain}.${TEST_ZONE}`);
    expect(account.allowfrom).toEqual([]);
  });

  it('publishes updates at the fulldomain and keeps the two most recent values', async () => {
    const { account } = await register();
    expect(await update(account, { subdomain: account.subdomain, txt: txt('a') })).toEqual({ status: 200, body: { txt: txt('a') } });
    expect(await served(account.fulldomain)).toEqual([`"${txt('a')}"`]);
    await update(account, { subdomain: account.subdomain, txt: txt('b') });
    expect(await served(account.fulldomain)).toEqual([`"${txt('a')}"`, `"${txt('b')}"`]);
    await update(account, { subdomain: account.subdomain, txt: txt('c') });
    expect(await served(account.fulldomain)).toEqual([`"${txt('b')}"`, `"${txt('c')}"`]);
  });

  it('refuses a wrong key with 401 and changes nothing', async () => {
    const { account } = await register();
    const r = await update({ username: account.username, password: 'x'.repeat(40) }, { subdomain: account.subdomain, txt: txt('d') });
    expect(r.status).toBe(401);
    expect((r.body as { error: { code: string } }).error.code).toBe('NG_REG_UNAUTHENTICATED');
    expect(await served(account.fulldomain)).toEqual([]);
  });

  it("refuses another account's subdomain with 401", async () => {
    const a = await register();
    const b = await register();
    const r = await update(a.account, { subdomain: b.account.subdomain, txt: txt('e') });
    expect(r.status).toBe(401);
  });

  it('refuses a TXT value that is not a DNS-01 digest with 400', async () => {
    const { account } = await register();
    const r = await update(account, { subdomain: account.subdomain, txt: 'not-a-digest' });
    expect(r.status).toBe(400);
    expect((r.body as { error: { code: string } }).error.code).toBe('NG_REG_TXT_INVALID');
  });

  it('honours allowfrom: updates from outside the CIDRs are refused, from inside accepted', async () => {
    const outside = await register({ allowfrom: ['198.51.100.0/24'] });
    expect(outside.account.allowfrom).toEqual(['198.51.100.0/24']);
    expect((await update(outside.account, { subdomain: outside.account.subdomain, txt: txt('f') })).status).toBe(401);
    const inside = await register({ allowfrom: ['127.0.0.0/8'] });
    expect((await update(inside.account, { subdomain: inside.account.subdomain, txt: txt('g') })).status).toBe(200);
  });

  it('refuses a malformed allowfrom with 400', async () => {
    const res = await fetch(`${reg.apiUrl}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ allowfrom: ['not-a-cidr'] }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NG_REG_BAD_REQUEST');
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
