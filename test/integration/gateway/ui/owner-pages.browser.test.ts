/**
 * The owner pages in Debian's chromium (playwright-core), on a phone viewport, with JavaScript on
 * and off, in two languages, against a real fastify HTTPS server on 127.0.0.1 hosting the plugin
 * with real deps: the gateway's TokenService and pinned LndUpstream to its LND REST simulator (a
 * fresh, locked one per flow). Screenshots go to docs/screenshots.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContext, type Page, type Locator } from 'playwright-core';
import { ownerPages, OWNER_CSP, ERROR_CODE_HEADER } from '../../../../gateway/ui/plugin.ts';
import { OwnerAuth } from '../../../../gateway/auth/owner.ts';
import { t, type Lang } from '../../../../gateway/ui/i18n.ts';
import { TokenService } from '../../../../gateway/auth/tokens.ts';
import { isNodegateError } from '../../../../core/errors.ts';
import { ownerDepsOver, startLockedLnd, type LndBackend } from './owner-backend.ts';
import { screenshotDir } from '../../../support/screenshots.ts';

const CERT_PEM = readFileSync(new URL('../../../fixtures/ui/owner-pages.cert.pem', import.meta.url), 'utf8');
const KEY_PEM = readFileSync(new URL('../../../fixtures/ui/owner-pages.key.pem', import.meta.url), 'utf8');

const OWNER_PASSWORD = 'owner password for tests';
const WALLET_PASSWORD = 'wallet-secret-7Qx';
const ALIAS = 'satoshi-at-home';
const PHONE = { width: 390, height: 844 };
const SCREENSHOTS = screenshotDir(); // docs/screenshots with NODEGATE_UPDATE_SCREENSHOTS=1
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let dataDir: string;
let lnd: LndBackend;
let tokens: TokenService;
let port = 0;
let app: FastifyInstance;
let base: string;
let browser: Browser;
let auth: OwnerAuth;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'ng-ui-browser-'));
  await mkdir(SCREENSHOTS, { recursive: true });
  lnd = await startLockedLnd({ walletPassword: WALLET_PASSWORD, alias: ALIAS });
  tokens = await TokenService.open(dataDir);
  // the pairing address stands for the gateway's LND listener (same certificate, not publicly trusted)
  const deps = ownerDepsOver(() => lnd, tokens, () => ({ host: '127.0.0.1', port, publiclyTrusted: false, certPem: CERT_PEM }));
  auth = await OwnerAuth.open({ dataDir });
  await auth.setPassword(OWNER_PASSWORD);
  app = Fastify({ https: { cert: CERT_PEM, key: KEY_PEM } });
  await app.register(ownerPages, { prefix: '/_nodegate', dataDir, deps, auth });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
  base = `https://127.0.0.1:${port}`;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

afterAll(async () => {
  // each step runs even if an earlier one fails; the first failure is rethrown
  const steps = [() => browser?.close(), () => app?.close(), () => lnd?.close(), () => rm(dataDir, { recursive: true, force: true })];
  let first: Error | undefined;
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      first ??= err instanceof Error ? err : new Error('cleanup step failed', { cause: err });
    }
  }
  if (first) throw first;
});

async function phoneContext(locale: string, javaScriptEnabled: boolean): Promise<BrowserContext> {
  return browser.newContext({ locale, javaScriptEnabled, viewport: PHONE, isMobile: true, hasTouch: true, ignoreHTTPSErrors: true });
}

/** Replaces the LND simulator with a fresh, locked one (LND after a power cut). */
async function freshLockedLnd(): Promise<void> {
  const old = lnd;
  lnd = await startLockedLnd({ walletPassword: WALLET_PASSWORD, alias: ALIAS });
  await old.close();
}

/** Clicks a submit button and waits for the resulting page (through a 303 redirect if any). */
async function submit(page: Page, button: Locator): Promise<void> {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), button.click()]);
}

/** The whole owner flow: login, LND locked, wrong then right wallet password, unlocked, pairing. */
async function ownerFlow(lang: Lang, locale: string, javaScriptEnabled: boolean, shot: string): Promise<void> {
  await freshLockedLnd();
  const context = await phoneContext(locale, javaScriptEnabled);
  const page = await context.newPage();
  const cspViolations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  const documents: { url: string; csp: string | undefined }[] = [];
  page.on('response', (r) => {
    if (r.request().resourceType() === 'document' && r.status() === 200) documents.push({ url: r.url(), csp: r.headers()['content-security-policy'] });
  });
  try {
    await page.goto(`${base}/_nodegate/`);
    expect(page.url()).toBe(`${base}/_nodegate/login`);
    expect(await page.locator('html').getAttribute('lang')).toBe(lang);
    await expect.poll(() => page.locator('h1').textContent()).toBe(t(lang, 'login.title'));
    await page.screenshot({ path: `${SCREENSHOTS}${shot}-1-login.png`, fullPage: true });

    await page.getByLabel(t(lang, 'login.password')).fill(OWNER_PASSWORD);
    await submit(page, page.getByRole('button', { name: t(lang, 'login.submit') }));
    expect(page.url()).toBe(`${base}/_nodegate/`);
    expect(await page.locator('#lnd-state').textContent()).toBe(t(lang, 'lnd.locked'));
    await page.screenshot({ path: `${SCREENSHOTS}${shot}-2-locked.png`, fullPage: true });

    const callsBefore = lnd.sim.unlockAttempts();
    await page.getByLabel(t(lang, 'unlock.password')).fill('not the wallet password');
    await submit(page, page.getByRole('button', { name: t(lang, 'unlock.submit') }));
    expect(await page.getByRole('alert').first().textContent()).toContain(t(lang, 'unlock.wrong'));
    expect(await page.locator('#wallet_password').inputValue()).toBe(''); // never echoed back
    expect(await page.content()).not.toContain('not the wallet password');

    await page.getByLabel(t(lang, 'unlock.password')).fill(WALLET_PASSWORD);
    await submit(page, page.getByRole('button', { name: t(lang, 'unlock.submit') }));
    expect(lnd.sim.unlockAttempts() - callsBefore).toBe(2);
    expect(page.url()).toBe(`${base}/_nodegate/?done=unlocked`);
    expect(await page.getByRole('status').first().textContent()).toBe(t(lang, 'unlock.done'));
    expect(await page.locator('#lnd-state').textContent()).toBe(t(lang, 'lnd.unlocked'));
    expect(await page.locator('#lnd-alias').textContent()).toBe(ALIAS);
    await page.screenshot({ path: `${SCREENSHOTS}${shot}-3-unlocked.png`, fullPage: true });

    await submit(page, page.getByRole('link', { name: t(lang, 'nav.pair'), exact: true }));
    await page.getByLabel(t(lang, 'pair.name')).fill(`Phone ${shot}`);
    await page.getByLabel(t(lang, 'scope.invoice')).check();
    await submit(page, page.getByRole('button', { name: t(lang, 'pair.submit') }));
    const uri = await page.locator('#uri').inputValue();
    const certParam = Buffer.from(CERT_PEM.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64').toString('base64url');
    const m = new RegExp(`^lndconnect://127\\.0\\.0\\.1:${port}\\?macaroon=([\\w-]+)&cert=([\\w-]+)$`).exec(uri);
    expect(m?.[2]).toBe(certParam);
    // the "macaroon" is a real gateway token of the chosen scope
    const claims = await tokens.verify(Buffer.from(m![1]!, 'base64url').toString('utf8'));
    expect([claims.scope, claims.name]).toEqual(['invoice', `Phone ${shot}`]);
    const qr = page.locator('.qr svg');
    const box = await qr.boundingBox();
    expect(box!.width).toBeGreaterThan(200);
    expect(box!.x + box!.width).toBeLessThanOrEqual(PHONE.width);
    await page.screenshot({ path: `${SCREENSHOTS}${shot}-4-pairing-qr.png`, fullPage: true });

    // revoke it again
    await submit(page, page.getByRole('button', { name: t(lang, 'tokens.revokeLabel', { name: `Phone ${shot}` }) }));
    expect(page.url()).toBe(`${base}/_nodegate/pair?done=revoked`);
    const refused = await tokens.verify(Buffer.from(m![1]!, 'base64url').toString('utf8')).catch((err: unknown) => err);
    expect(isNodegateError(refused, 'NG_GW_TOKEN_REVOKED')).toBe(true);

    // nothing is wider than the phone
    for (const el of ['main', 'header', 'footer']) {
      const b = await page.locator(el).boundingBox();
      expect(b!.x + b!.width, el).toBeLessThanOrEqual(PHONE.width);
    }
    if (javaScriptEnabled) {
      // the narrowest common phone: nothing scrolls sideways on the longest page (pairing + tokens)
      await page.setViewportSize({ width: 360, height: 740 });
      for (const path of ['/_nodegate/pair', '/_nodegate/']) {
        await page.goto(`${base}${path}`);
        expect(await page.evaluate('document.documentElement.scrollWidth'), path).toBeLessThanOrEqual(360);
      }
    }
    expect(cspViolations).toEqual([]);
    expect(documents.length).toBeGreaterThanOrEqual(4);
    for (const d of documents) expect(d.csp, d.url).toBe(OWNER_CSP);
    expect(await page.locator('script').count()).toBe(0);
  } finally {
    await context.close();
  }
}

describe('owner pages in chromium on a phone', () => {
  it('English, JavaScript on: login, LND locked, unlock, alias, pairing QR, revoke', async () => {
    await ownerFlow('en', 'en-US', true, 'en-js');
  });

  it('German, JavaScript off: the same flow works with only forms and links', async () => {
    await ownerFlow('de', 'de-DE', false, 'de-nojs');
  });

  it('refuses a form POST without the CSRF token (403 NG_GW_CSRF) and sends nothing to LND', async () => {
    const context = await phoneContext('en-US', false);
    try {
      const page = await context.newPage();
      await page.goto(`${base}/_nodegate/login`);
      await page.getByLabel(t('en', 'login.password')).fill(OWNER_PASSWORD);
      await submit(page, page.getByRole('button', { name: t('en', 'login.submit') }));
      expect(page.url()).toBe(`${base}/_nodegate/`);
      await freshLockedLnd();
      const before = lnd.sim.unlockAttempts();
      const res = await context.request.post(`${base}/_nodegate/unlock`, { form: { wallet_password: WALLET_PASSWORD }, maxRedirects: 0 });
      expect(res.status()).toBe(403);
      expect(res.headers()[ERROR_CODE_HEADER]).toBe('NG_GW_CSRF');
      const forged = await context.request.post(`${base}/_nodegate/unlock`, { form: { wallet_password: WALLET_PASSWORD, csrf: 'forged' }, maxRedirects: 0 });
      expect(forged.status()).toBe(403);
      expect(forged.headers()[ERROR_CODE_HEADER]).toBe('NG_GW_CSRF');
      expect(lnd.sim.unlockAttempts()).toBe(before);
      // the session still works: the owner page says LND is locked
      await page.reload();
      expect(await page.locator('#lnd-state').textContent()).toBe(t('en', 'lnd.locked'));
    } finally {
      await context.close();
    }
  });

  it('the language switch is a plain link that sets a cookie; the no-script notice page is translated', async () => {
    const context = await phoneContext('pt-BR', false);
    try {
      const page = await context.newPage();
      await page.goto(`${base}/_nodegate/dashboard-needs-js`);
      expect(await page.locator('html').getAttribute('lang')).toBe('pt-BR');
      expect(await page.locator('h1').textContent()).toBe(t('pt-BR', 'noscript.title'));
      await page.screenshot({ path: `${SCREENSHOTS}pt-nojs-dashboard-needs-js.png`, fullPage: true });
      await submit(page, page.getByRole('link', { name: 'Español' }));
      expect(page.url()).toBe(`${base}/_nodegate/dashboard-needs-js`);
      expect(await page.locator('html').getAttribute('lang')).toBe('es');
      expect(await page.locator('h1').textContent()).toBe(t('es', 'noscript.title'));
      await page.goto(`${base}/_nodegate/login`);
      expect(await page.locator('h1').textContent()).toBe(t('es', 'login.title'));
    } finally {
      await context.close();
    }
  });
});
