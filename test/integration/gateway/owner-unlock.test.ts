import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startHarness, GW_NAME, type Harness } from '../../support/gateway-harness.ts';

const WALLET_PASSWORD = 'correct horse battery staple';
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ unlocked: false });
});
afterAll(async () => {
  await h?.close();
});

async function postUnlock(password: string, session: { cookie: string; csrf: string }) {
  const body = new URLSearchParams({ csrf: session.csrf, wallet_password: password }).toString();
  const r = await h.client().request({
    method: 'POST',
    path: '/_nodegate/unlock',
    headers: { host: GW_NAME, cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded', origin: `https://${GW_NAME}` },
    body,
  });
  return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
}

describe('remote unlock through the owner page and the gateway', () => {
  it('status says locked; a wrong password is refused with NG_GW_WALLET_UNLOCK; the right one unlocks LND', async () => {
    expect((await h.gateway.deps.status()).lnd.state).toBe('locked');
    const session = await h.ownerSession();
    const wrong = await postUnlock('not the password', session);
    expect(wrong.status).toBe(400);
    expect(wrong.headers['x-nodegate-error']).toBe('NG_GW_WALLET_UNLOCK');
    expect(h.lnd.isLocked()).toBe(true);

    const right = await postUnlock(WALLET_PASSWORD, session);
    expect(right.status).toBe(303);
    expect(h.lnd.isLocked()).toBe(false);
    expect(h.lnd.unlockAttempts()).toBe(2);
    const status = await h.gateway.deps.status();
    expect(status.lnd).toEqual({ state: 'unlocked', alias: 'nodegate-sim', blockHeight: 871234, synced: true });
  });

  it('the wallet password appears in no log line', () => {
    const logs = h.logs();
    expect(logs.includes(WALLET_PASSWORD)).toBe(false);
    expect(logs.includes(Buffer.from(WALLET_PASSWORD).toString('base64'))).toBe(false);
    expect(logs.includes('not the password')).toBe(false);
  });

  it('LND without a wallet: the owner page says so and how to make one (it had said "starting")', async () => {
    h.lnd.setNoWallet(true);
    try {
      expect((await h.gateway.deps.status()).lnd.state).toBe('no-wallet');
      const session = await h.ownerSession();
      const r = await h.client().request({ method: 'GET', path: '/_nodegate/', headers: { host: GW_NAME, cookie: session.cookie, 'accept-language': 'en' } });
      const page = await r.body.text();
      expect(r.statusCode).toBe(200);
      expect(page).toContain('LND has no wallet yet. Create one on the node with: lncli create');
      expect(page).not.toContain('LND is starting');
    } finally {
      h.lnd.setNoWallet(false);
    }
  });

  it('unlock with LND down is NG_GW_UPSTREAM_UNREACHABLE', async () => {
    await h.lnd.stop();
    await expect(h.gateway.deps.unlockWallet('whatever')).rejects.toMatchObject({ code: 'NG_GW_UPSTREAM_UNREACHABLE' });
    expect((await h.gateway.deps.status()).lnd.state).toBe('unreachable');
  });
});
