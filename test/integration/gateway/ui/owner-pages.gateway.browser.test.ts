/**
 * The owner pages behind the real gateway (startGateway via the gateway's test harness: LND
 * simulator locked, dashboard app, HTTPS listener on 127.0.0.1): a phone with JavaScript off is sent
 * from the dashboard to the login page and back, unlocks LND, pairs a wallet, and the paired token
 * then reads getinfo through the gateway's LND route. French, to cover a third catalog in a browser.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page, type Locator } from 'playwright-core';
import { startHarness, GW_NAME, type Harness } from '../../../support/gateway-harness.ts';
import { OwnerAuth } from '../../../../gateway/auth/owner.ts';
import { t } from '../../../../gateway/ui/i18n.ts';
import { screenshotDir } from '../../../support/screenshots.ts';

const OWNER_PASSWORD = 'owner password for tests';
const WALLET_PASSWORD = 'correct horse battery staple'; // the simulator's default
const PHONE = { width: 390, height: 844 };
const SCREENSHOTS = screenshotDir(); // docs/screenshots with NODEGATE_UPDATE_SCREENSHOTS=1
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let authDir: string;
let auth: OwnerAuth;
let h: Harness;
let browser: Browser;
let base: string;

beforeAll(async () => {
  authDir = await mkdtemp(join(tmpdir(), 'ng-ui-gw-'));
  auth = await OwnerAuth.open({ dataDir: authDir });
  await auth.setPassword(OWNER_PASSWORD);
  h = await startHarness({ unlocked: false, ownerPages: { auth } });
  base = `https://${GW_NAME}:${h.port}`;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${GW_NAME} 127.0.0.1`] });
});

afterAll(async () => {
  let first: Error | undefined;
  for (const step of [() => browser?.close(), () => h?.close(), () => rm(authDir, { recursive: true, force: true })]) {
    try {
      await step();
    } catch (err) {
      first ??= err instanceof Error ? err : new Error('cleanup step failed', { cause: err });
    }
  }
  if (first) throw first;
});

async function submit(page: Page, button: Locator): Promise<void> {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), button.click()]);
}

describe('owner pages behind the gateway', () => {
  it('JavaScript off, French: dashboard -> login -> dashboard; unlock LND; pair; the token reads getinfo through the gateway', async () => {
    const context = await browser.newContext({ locale: 'fr-FR', javaScriptEnabled: false, viewport: PHONE, isMobile: true, hasTouch: true, ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      await page.goto(`${base}/`);
      expect(page.url()).toBe(`${base}/_nodegate/login?next=%2F`);
      expect(await page.locator('html').getAttribute('lang')).toBe('fr');
      await page.getByLabel(t('fr', 'login.password')).fill(OWNER_PASSWORD);
      await submit(page, page.getByRole('button', { name: t('fr', 'login.submit') }));
      expect(page.url()).toBe(`${base}/`); // back on the dashboard, proxied for the owner session
      expect(await page.locator('#app').textContent()).toBe('Loading…'); // the dashboard needs JS: it stays at its placeholder

      await page.goto(`${base}/_nodegate/`);
      expect(await page.locator('#lnd-state').textContent()).toBe(t('fr', 'lnd.locked'));
      await page.getByLabel(t('fr', 'unlock.password')).fill(WALLET_PASSWORD);
      await submit(page, page.getByRole('button', { name: t('fr', 'unlock.submit') }));
      expect(h.lnd.unlockAttempts()).toBe(1);
      expect(h.lnd.isLocked()).toBe(false);
      expect(await page.locator('#lnd-state').textContent()).toBe(t('fr', 'lnd.unlocked'));
      expect(await page.locator('#lnd-alias').textContent()).toBe('nodegate-sim');
      await page.screenshot({ path: `${SCREENSHOTS}fr-nojs-gateway-unlocked.png`, fullPage: true });

      await submit(page, page.getByRole('link', { name: t('fr', 'nav.pair'), exact: true }));
      await page.getByLabel(t('fr', 'pair.name')).fill('Zeus');
      await submit(page, page.getByRole('button', { name: t('fr', 'pair.submit') }));
      const uri = await page.locator('#uri').inputValue();
      const m = new RegExp(`^lndconnect://${GW_NAME.replace('.', '\\.')}:${h.port}\\?macaroon=([\\w-]+)&cert=[\\w-]+$`).exec(uri);
      expect(m).not.toBeNull();

      // what a wallet does with the URI: hex of the token bytes in Grpc-Metadata-macaroon
      const res = await h.client().request({ method: 'GET', path: '/v1/getinfo', headers: { host: `${GW_NAME}:${h.port}`, 'grpc-metadata-macaroon': Buffer.from(m![1]!, 'base64url').toString('hex') } });
      expect(res.statusCode).toBe(200);
      expect(((await res.body.json()) as { alias: string }).alias).toBe('nodegate-sim');
      expect(h.logs()).not.toContain(WALLET_PASSWORD);
      expect(h.logs()).not.toContain(OWNER_PASSWORD);
    } finally {
      await context.close();
    }
  });
});
