/**
 * The notification settings page in Debian's chromium on a phone, JavaScript off, in German, with
 * the real notification service and an HTTP receiver on loopback: the owner fills in an ntfy
 * webhook, saves with the owner password, sends a test, and the receiver gets it. Nothing is wider
 * than a 360 px phone. Screenshots go to docs/screenshots (NODEGATE_UPDATE_SCREENSHOTS=1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page, type Locator } from 'playwright-core';
import { ownerPages, OWNER_CSP } from '../../../../gateway/ui/plugin.ts';
import { OwnerAuth } from '../../../../gateway/auth/owner.ts';
import { t } from '../../../../gateway/ui/i18n.ts';
import { createLogger } from '../../../../core/log.ts';
import { tempDir } from '../../../../sim/process.ts';
import { NotificationService } from '../../../../gateway/notify/service.ts';
import { loadNotifyConfig } from '../../../../gateway/notify/config.ts';
import { ownerNotifications } from '../../../../gateway/notify/owner.ts';
import type { OwnerDeps } from '../../../../gateway/ui/types.ts';
import { startHttpReceiver, type HttpReceiver } from '../../../support/http-receiver.ts';
import { screenshotDir } from '../../../support/screenshots.ts';

const CERT_PEM = readFileSync(new URL('../../../fixtures/ui/owner-pages.cert.pem', import.meta.url), 'utf8');
const KEY_PEM = readFileSync(new URL('../../../fixtures/ui/owner-pages.key.pem', import.meta.url), 'utf8');
const OWNER_PASSWORD = 'owner password for tests';
const SCREENSHOTS = screenshotDir();
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let dir: { path: string; remove(): Promise<void> };
let app: FastifyInstance;
let base: string;
let browser: Browser;
let service: NotificationService;
let receiver: HttpReceiver;

beforeAll(async () => {
  dir = await tempDir('ng-ui-notify-browser-');
  receiver = await startHttpReceiver();
  service = await NotificationService.open({ dataDir: dir.path, config: await loadNotifyConfig(dir.path), node: 'abcd1234.nodegate.test', sources: {}, logger: createLogger({ level: 'silent' }) });
  const auth = await OwnerAuth.open({ dataDir: dir.path });
  await auth.setPassword(OWNER_PASSWORD);
  const deps = {
    status: () => Promise.resolve({ names: ['abcd1234.nodegate.test'], lnd: { state: 'unlocked' } }),
    notifications: ownerNotifications(service, { dataDir: dir.path, torOnly: false }),
  } as unknown as OwnerDeps; // the settings page needs nothing else
  app = Fastify({ https: { cert: CERT_PEM, key: KEY_PEM } });
  await app.register(ownerPages, { prefix: '/_nodegate', dataDir: dir.path, deps, auth });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
  await service?.stop();
  await receiver?.close();
  await dir?.remove();
});

async function submit(page: Page, button: Locator): Promise<void> {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), button.click()]);
}

describe('notification settings in chromium on a phone', () => {
  it('German, JavaScript off: set up ntfy, save with the owner password, send a test that arrives', async () => {
    const context = await browser.newContext({ locale: 'de-DE', javaScriptEnabled: false, viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, ignoreHTTPSErrors: true });
    const page = await context.newPage();
    try {
      await page.goto(`${base}/_nodegate/login`);
      await page.getByLabel(t('de', 'login.password')).fill(OWNER_PASSWORD);
      await submit(page, page.getByRole('button', { name: t('de', 'login.submit') }));
      await submit(page, page.getByRole('link', { name: t('de', 'nav.notifications'), exact: true }));
      expect(page.url()).toBe(`${base}/_nodegate/notifications`);
      expect(await page.locator('h1').textContent()).toBe(t('de', 'notify.title'));

      await page.getByLabel(t('de', 'notify.language')).selectOption('de');
      await page.getByLabel(t('de', 'notify.webhook.url')).fill(`${receiver.url}/mein-knoten-7f3a`);
      await page.getByLabel(t('de', 'notify.webhook.format')).selectOption('ntfy');
      await page.getByLabel(t('de', 'notify.event.login-new-address')).uncheck();
      await page.getByLabel(t('de', 'notify.ownerPassword')).fill(OWNER_PASSWORD);
      await submit(page, page.getByRole('button', { name: t('de', 'notify.save') }));
      expect(page.url()).toBe(`${base}/_nodegate/notifications?done=notify-saved`);
      expect(await page.getByRole('status').first().textContent()).toBe(t('de', 'notify.saved'));
      expect(await page.content()).not.toContain('mein-knoten-7f3a'); // the topic is shown cut short

      await submit(page, page.getByRole('button', { name: t('de', 'notify.test') }).last());
      expect(await page.locator('#test-results').textContent()).toBe(t('de', 'notify.testOk', { channel: t('de', 'notify.channel.webhook') }));
      const [hook] = await receiver.waitForRequests(1);
      expect(JSON.parse(hook!.body)).toMatchObject({ topic: 'mein-knoten-7f3a', title: 'Testbenachrichtigung von abcd1234.nodegate.test', priority: 2, tags: ['white_check_mark'] });
      await page.screenshot({ path: `${SCREENSHOTS}de-nojs-notifications.png`, fullPage: true });

      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
      expect(await page.locator('script').count()).toBe(0);
      const res = await page.goto(`${base}/_nodegate/notifications`);
      expect(res!.headers()['content-security-policy']).toBe(OWNER_CSP);
    } finally {
      await context.close();
    }
  });
});
