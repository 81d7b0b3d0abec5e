/**
 * The whole system as its users meet it, in network namespaces (test/world/e2e-world.ts):
 * the registry (API + embedded DNS on port 53 + STUN) and pebble on the "internet", a home behind a
 * NAT router with miniupnpd, the node at 192.168.1.10 running `nodegate init` and `nodegate start`
 * as child processes (with the LND simulator and the dashboard beside it), and a phone outside whose
 * resolver is the registry's DNS. Debian's chromium runs INSIDE the phone namespace (playwright-core
 * launches it through `ip netns exec`), with pebble's root in an NSS db of a temporary HOME:
 *   1. it resolves <id>.home.test through the registry, opens the owner page over HTTPS with no
 *      certificate warning, logs in, sees LND locked, unlocks it and sees getinfo's alias;
 *   2. the ISP changes the home's WAN address: the registry's answer and the same page follow
 *      within seconds, the node is not restarted;
 *   3. power cuts: `nodegate start` is killed with SIGKILL at a random moment, a bounded number of
 *      times (half of them strike again while it reboots; the last one takes the LND simulator and
 *      the dashboard down too), and restarted; after each restart the name, the certificate
 *      (verifying against pebble's root), the tokens (one reaches LND, a revoked one stays revoked),
 *      the device key, the token list and the registry's records are intact; at the end the owner
 *      logs in again, finds LND locked, unlocks it, and opens the dashboard (its WebSocket too).
 * Tor: the node runs its managed tor (killed with it at every cut) against a private network with no
 * reachable authority (see OFFLINE_TORRC), so the onion key and address are checked after every cut,
 * not the onion's publication (the demo and test/integration/tor cover that on loopback).
 * Screenshots go to docs/screenshots/e2e-*.png. Everything is torn down by PID and namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash, randomInt } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { t } from '../../gateway/ui/i18n.ts';
import { loadOrCreateOnionKey } from '../../tor/onion.ts';
import type { RunningProcess } from '../../sim/process.ts';
import { createE2eWorld, ISP_ADDRESS, NODE_ADDRESS, type E2eWorld } from './e2e-world.ts';
import { screenshotDir } from '../support/screenshots.ts';
import { eventually } from '../support/eventually.ts';

const REPO = resolve(import.meta.dirname, '../..');
const NODEGATE = join(REPO, 'bin/nodegate.js');
const RUN_TS = join(REPO, 'bin/run-ts.js');
const SCREENSHOTS = screenshotDir(); // docs/screenshots with NODEGATE_UPDATE_SCREENSHOTS=1
const ZONE = 'home.test';
const REGISTRY_URL = `http://${ISP_ADDRESS}:8053`;
const REGISTRY_DNS = `${ISP_ADDRESS}:53`;
const PEBBLE_PORT = 14000;
const PEBBLE_MGMT_PORT = 15000;
const HTTPS_PORT = 8443;
const OWNER_PASSWORD = 'owner password for the e2e test';
const WALLET_PASSWORD = 'wallet-secret-e2e-7Qx';
const ALIAS = 'satoshi-behind-nat';
const SECOND_WAN_ADDRESS = '198.51.100.3';
const PHONE = { width: 390, height: 844 };
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Bounds: every wait below is one of these. */
const READY_MS = 30_000;
/**
 * The node's managed tor joins a private Tor network whose only directory authority is a closed
 * port on the node namespace's loopback: tor runs (and dies at every power cut with the node), the
 * onion key and address are the node's real ones, and no packet goes anywhere else. (A full private
 * Tor network in this world took over a minute to reach consensus on a loaded 2-core machine; the
 * onion's publication and reachability are covered on loopback by the demo and test/integration/tor.)
 */
const OFFLINE_TORRC = [
  'TestingTorNetwork 1',
  'UseDefaultFallbackDirs 0',
  'DirAuthority e2e orport=9 no-v2 v3ident=E2E0000000000000000000000000000000000000 127.0.0.1:9 E2E0 0000 0000 0000 0000 0000 0000 0000 0000 0000',
  'ClientUseIPv6 0',
];
const NODE_START_MS = 45_000;
const SERVING_MS = 30_000;
const WAN_CHANGE_MS = 30_000;
/** Power cuts: how many, and a wall-clock cap for the whole loop. */
const POWER_CUTS = 10;
const POWER_CUT_LOOP_MS = 120_000;
/** A cut lands within this many ms after the node serves again (DDNS, mapping, certificate check...). */
const MAX_KILL_DELAY_MS = 2_000;
/** Cuts during a forced renewal come this much later (the renewal process loads first). */
const RENEWAL_KILL_OFFSET_MS = 1_200;
/** Half the cuts strike again within this many ms of the reboot (before the node serves). */
const MAX_BOOT_KILL_DELAY_MS = 1_500;
/** Between two looks at a condition: each look runs a command in a namespace (curl, dig, ps). */
const POLL_MS = 200;

let world: E2eWorld;
let tmp: string;
let dataDir: string;
let rootPem: string;
let rootFile: string;
let name: string;
let lanName: string;
let node: RunningProcess | undefined;
/** The LND simulator + dashboard process in the node namespace (killed too by the last power cut). */
let lndRunner: RunningProcess;
let onion: string;
let browser: Browser | undefined;
let context: BrowserContext | undefined;
const timings: Record<string, number> = {};

/** `nodegate ARGS` in the node namespace; returns stdout (exit 0 required). */
function nodegate(args: string[], timeoutMs = 60_000): string {
  return world.exec(world.ns.node, process.execPath, [NODEGATE, ...args], timeoutMs);
}

/** A records the registry's DNS answers for `host`, asked from the phone (as its resolver would). */
function digA(host: string): string[] {
  const out = world.exec(world.ns.phone, 'dig', ['+short', '+time=1', '+tries=2', `@${ISP_ADDRESS}`, host, 'A']);
  return out.split('\n').map((l) => l.trim()).filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l));
}

/** curl from the phone through its resolver (the registry's DNS), trusting only pebble's root. */
function phoneCurl(path: string, headers: string[] = []): { status: number; body: string } {
  const out = world.exec(world.ns.phone, 'curl', [
    '-sS', '--max-time', '5', '--cacert', rootFile, '-w', '\n%{http_code}',
    ...headers.flatMap((h) => ['-H', h]),
    `https://${name}:${HTTPS_PORT}${path}`,
  ], 10_000);
  const i = out.lastIndexOf('\n');
  return { status: Number(out.slice(i + 1)), body: out.slice(0, i) };
}

/** The certificate the node serves to the phone, verified against pebble's root and the name. */
function servedCertificate(): X509Certificate {
  const out = world.exec(world.ns.phone, 'openssl', [
    's_client', '-connect', `${world.wanAddress()}:${HTTPS_PORT}`, '-servername', name, '-verify_hostname', name,
    '-CAfile', rootFile, '-verify_return_error', '-showcerts',
  ], 10_000);
  if (!out.includes('Verify return code: 0 (ok)')) throw new Error(`the served certificate does not verify against pebble's root:\n${out.slice(-1500)}`);
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out)?.[0];
  if (!pem) throw new Error(`openssl s_client printed no certificate:\n${out.slice(-1500)}`);
  return new X509Certificate(pem);
}

/** Starts `nodegate start` in the node namespace (its PID is node's own: `ip netns exec` execs). */
function startNodegate(): RunningProcess {
  return world.spawn(world.ns.node, process.execPath, [NODEGATE, 'start', '--data', dataDir], { NODEGATE_LOG_LEVEL: process.env.NGW_LOG_LEVEL ?? 'warn' });
}

/** Waits until the node serves the phone: its gateway is listening and the page answers over trusted HTTPS. */
async function waitServing(p: RunningProcess): Promise<void> {
  await p.waitFor(/gateway listening on https:/, NODE_START_MS);
  try {
    await eventually('the owner login page over HTTPS from the phone', SERVING_MS, () => (phoneCurl('/_nodegate/login').status === 200 ? true : undefined), POLL_MS);
  } catch (err) {
    let dns: string;
    try {
      dns = world.exec(world.ns.phone, 'dig', ['+time=1', '+tries=1', `@${ISP_ADDRESS}`, name, 'A']);
    } catch (e) {
      dns = String(e);
    }
    throw new Error(`${(err as Error).message}\nthe registry's DNS says:\n${dns}\nnodegate start printed:\n${p.output().slice(-4000)}`, { cause: err });
  }
}

/** PIDs of every descendant of `pid` (Linux /proc/PID/task/TID/children). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      return; // exited
    }
    for (const tid of tids) {
      let children = '';
      try {
        children = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of children.split(' ').map(Number).filter((n) => n > 0)) {
        out.push(c);
        visit(c);
      }
    }
  };
  visit(pid);
  return out;
}

/** The PID of the tor that `p` started (its managed tor), if it runs. */
function torChildOf(p: RunningProcess): number | undefined {
  return descendants(p.pid).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'tor';
    } catch {
      return false;
    }
  });
}

/** A power cut for `p` and every process it started (the node's managed tor): SIGKILL, all at once. */
async function killHard(p: RunningProcess): Promise<void> {
  for (const pid of [p.pid, ...descendants(p.pid)]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone (it crashed on its own: the next start's checks will show why)
    }
  }
  await p.exited;
  world.forget(p);
}

function sha256(path: string): Promise<string> {
  return readFile(path).then((b) => createHash('sha256').update(b).digest('hex'));
}

/** Starts (or restarts, after a power cut) the LND simulator (locked) and the dashboard in the node namespace. */
async function startLnd(): Promise<{ lndUrl: string; lndDir: string; dashboardUrl: string }> {
  lndRunner = world.spawn(world.ns.node, process.execPath, [RUN_TS, join(REPO, 'test/world/e2e-lnd-runner.ts'), join(tmp, 'lnd'), WALLET_PASSWORD, ALIAS]);
  return JSON.parse((await lndRunner.waitFor(/ready \{.*\}/, READY_MS)).slice('ready '.length)) as { lndUrl: string; lndDir: string; dashboardUrl: string };
}

/** Logs in on the owner page (the session does not outlive a restart of the node) and returns the page. */
async function ownerPage(base: string): Promise<{ page: Page; context: BrowserContext }> {
  const ctx = await browser!.newContext({ locale: 'en-US', viewport: PHONE, isMobile: true, hasTouch: true });
  const page = await ctx.newPage();
  await page.goto(`${base}/_nodegate/`, { timeout: 15_000 });
  if (page.url() === `${base}/_nodegate/login`) {
    await page.getByLabel(t('en', 'login.password')).fill(OWNER_PASSWORD);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('button', { name: t('en', 'login.submit') }).click()]);
  }
  const alert = (await page.getByRole('alert').allTextContents()).join(' | ');
  expect(page.url(), `after the login, the page says: ${alert}`).toBe(`${base}/_nodegate/`);
  return { page, context: ctx };
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ngw-e2e-'));
  await mkdir(SCREENSHOTS, { recursive: true });
  world = await createE2eWorld();
  const runTs = (ns: string, script: string, args: string[]) => world.spawn(ns, process.execPath, [RUN_TS, join(REPO, script), ...args]);

  // the internet: registry (DNS on :53) + STUN, and pebble asking the registry's DNS for DNS-01
  const registry = runTs(world.ns.isp, 'test/world/registry-runner.ts', [ISP_ADDRESS, join(tmp, 'registry'), '53']);
  const apiKey = join(tmp, 'pebble-api.key');
  const apiCert = join(tmp, 'pebble-api.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', apiKey, '-out', apiCert,
    '-days', '2', '-subj', '/CN=nodegate e2e pebble API', '-addext', `subjectAltName=IP:${ISP_ADDRESS}`], { stdio: 'ignore', timeout: 10_000 });
  const pebbleConfig = join(tmp, 'pebble.json');
  await writeFile(pebbleConfig, JSON.stringify({
    pebble: {
      listenAddress: `${ISP_ADDRESS}:${PEBBLE_PORT}`, managementListenAddress: `${ISP_ADDRESS}:${PEBBLE_MGMT_PORT}`,
      certificate: apiCert, privateKey: apiKey, httpPort: 5002, tlsPort: 5001, ocspResponderURL: '', externalAccountBindingRequired: false,
    },
  }));
  const pebble = world.spawn(world.ns.isp, '/usr/bin/pebble', ['-config', pebbleConfig, '-dnsserver', REGISTRY_DNS], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' });
  await Promise.all([registry.waitFor(/ready/, READY_MS), pebble.waitFor(/ACME directory available at/, READY_MS)]);
  rootPem = world.exec(world.ns.isp, 'curl', ['-sS', '--max-time', '5', '--cacert', apiCert, `https://${ISP_ADDRESS}:${PEBBLE_MGMT_PORT}/roots/0`]);
  rootFile = join(tmp, 'pebble-root.pem');
  await writeFile(rootFile, rootPem);

  // the node's LND (locked) and dashboard, inside the node namespace
  const ready = await startLnd();

  // nodegate init: register, config, owner password, first certificate through DNS-01
  dataDir = join(tmp, 'node');
  const passwordFile = join(tmp, 'owner-password');
  await writeFile(passwordFile, OWNER_PASSWORD + '\n', { mode: 0o600 });
  const started = Date.now();
  const init = JSON.parse(nodegate([
    'init', '--data', dataDir, '--registry', REGISTRY_URL,
    '--acme-directory', `https://${ISP_ADDRESS}:${PEBBLE_PORT}/dir`, '--acme-ca', apiCert, '--authoritative', REGISTRY_DNS,
    '--https', `0.0.0.0:${HTTPS_PORT}`, '--lnd-rest', ready.lndUrl, '--lnd-dir', ready.lndDir, '--lnd-network', 'regtest',
    '--dashboard', ready.dashboardUrl, '--password-file', passwordFile, '--registry-dns', REGISTRY_DNS,
    '--tor', ...OFFLINE_TORRC.flatMap((l) => ['--tor-torrc', l]), '--json',
  ], 90_000)) as { name: string; lanName: string; onion: string | null; certificate: { issuer: string; names: string[] } | null };
  timings.initMs = Date.now() - started;
  expect(init.name).toMatch(new RegExp(`^[a-z0-9]+\\.${ZONE.replace('.', '\\.')}$`));
  expect(init.certificate?.names).toContain(init.name);
  expect(init.onion).toMatch(/^[a-z2-7]{56}\.onion$/);
  name = init.name;
  lanName = init.lanName;
  onion = init.onion!;

  const t0 = Date.now();
  node = startNodegate();
  await waitServing(node);
  timings.firstStartMs = Date.now() - t0;
}, 240_000);

afterAll(async () => {
  // each step runs even if an earlier one fails; the first failure is rethrown
  const steps: Array<() => Promise<unknown> | undefined> = [
    () => browser?.close(),
    () => world?.destroy(),
    () => (tmp ? rm(tmp, { recursive: true, force: true }) : undefined),
  ];
  let first: unknown;
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      first ??= err;
    }
  }
  process.stdout.write(`e2e timings (ms): ${JSON.stringify(timings)}\n`);
  if (first) throw first instanceof Error ? first : new Error('e2e teardown failed', { cause: first });
}, 60_000);

/** Launches Debian's chromium inside the phone namespace, pebble's root in its NSS db. */
async function launchPhoneBrowser(): Promise<Browser> {
  const home = join(tmp, 'phone-home');
  const nssdb = join(home, '.pki', 'nssdb');
  await mkdir(nssdb, { recursive: true });
  execFileSync('certutil', ['-d', `sql:${nssdb}`, '-N', '--empty-password'], { stdio: 'pipe', timeout: 10_000 });
  execFileSync('certutil', ['-d', `sql:${nssdb}`, '-A', '-n', 'nodegate e2e pebble root', '-t', 'C,,', '-i', rootFile], { stdio: 'pipe', timeout: 10_000 });
  const wrapper = join(tmp, 'chromium-in-phone.sh');
  await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${world.ns.phone} /usr/bin/chromium "$@"\n`);
  await chmod(wrapper, 0o755);
  return chromium.launch({ executablePath: wrapper, args: CHROMIUM_ARGS, env: { ...process.env, HOME: home }, timeout: READY_MS });
}

/** Opens the owner page and returns the alias it shows (undefined while it does not show one yet). */
async function aliasShown(page: Page, base: string): Promise<string | undefined> {
  const response = await page.goto(`${base}/_nodegate/`, { timeout: 5_000 });
  if (response?.status() !== 200) return undefined;
  const alias = await page.locator('#lnd-alias').textContent({ timeout: 2_000 });
  return alias ?? undefined;
}

describe('nodegate end to end: a phone outside, a node behind NAT', () => {
  it('the registry answers the name with the home WAN address and the node its LAN address; curl from the phone trusts the certificate', () => {
    expect(digA(name)).toEqual([world.wanAddress()]);
    expect(digA(lanName)).toEqual([NODE_ADDRESS]);
    const cert = servedCertificate();
    expect(cert.subjectAltName).toContain(`DNS:${name}`);
    expect(phoneCurl('/_nodegate/login').status).toBe(200);
  });

  it('chromium on the phone: trusted HTTPS, owner login, LND locked, unlock, getinfo alias', async () => {
    browser = await launchPhoneBrowser();
    context = await browser.newContext({ locale: 'en-US', viewport: PHONE, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    const tlsErrors: string[] = [];
    page.on('requestfailed', (r) => tlsErrors.push(`${r.url()}: ${r.failure()?.errorText ?? ''}`));
    const base = `https://${name}:${HTTPS_PORT}`;

    const response = await page.goto(`${base}/_nodegate/`, { timeout: 15_000 });
    expect(page.url()).toBe(`${base}/_nodegate/login`);
    expect(response?.status()).toBe(200);
    const security = await response!.securityDetails();
    expect(security?.subjectName).toBe(name);
    expect(security?.issuer).toMatch(/Pebble Intermediate CA/);
    expect(await page.locator('h1').textContent()).toBe(t('en', 'login.title'));
    await page.screenshot({ path: join(SCREENSHOTS, 'e2e-1-login.png'), fullPage: true });

    await page.getByLabel(t('en', 'login.password')).fill(OWNER_PASSWORD);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('button', { name: t('en', 'login.submit') }).click()]);
    const alert = (await page.getByRole('alert').allTextContents()).join(' | ');
    expect(page.url(), `after the login, the page says: ${alert}`).toBe(`${base}/_nodegate/`);
    expect(await page.locator('#lnd-state').textContent()).toBe(t('en', 'lnd.locked'));
    await page.screenshot({ path: join(SCREENSHOTS, 'e2e-2-locked.png'), fullPage: true });

    await page.getByLabel(t('en', 'unlock.password')).fill(WALLET_PASSWORD);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('button', { name: t('en', 'unlock.submit') }).click()]);
    expect(page.url()).toBe(`${base}/_nodegate/?done=unlocked`);
    expect(await page.locator('#lnd-state').textContent()).toBe(t('en', 'lnd.unlocked'));
    expect(await page.locator('#lnd-alias').textContent()).toBe(ALIAS);
    expect(await page.locator('main').textContent(), 'the owner page shows the onion address').toContain(onion.replace(/\.onion$/, ''));
    await page.screenshot({ path: join(SCREENSHOTS, 'e2e-3-unlocked.png'), fullPage: true });
    expect(tlsErrors).toEqual([]);
  }, 90_000);

  it('the ISP changes the home address: the registry and the same page follow within seconds, without a restart', async () => {
    expect(context, 'the browser step must have run').toBeDefined();
    const pid = node!.pid;
    const changed = Date.now();
    world.changeWanAddress(SECOND_WAN_ADDRESS);
    await eventually(`the registry to answer ${name} with ${SECOND_WAN_ADDRESS}`, WAN_CHANGE_MS, () => (digA(name).join() === SECOND_WAN_ADDRESS ? true : undefined), POLL_MS);
    timings.wanChangeDnsMs = Date.now() - changed;

    // chromium keeps a resolved name for its TTL (60 s) per browsing context; a fresh context with
    // the same cookies (a new tab after the cache expired) asks the resolver again
    const state = await context!.storageState();
    const base = `https://${name}:${HTTPS_PORT}`;
    let page: Page | undefined;
    const alias = await eventually('the owner page at the new address (logged in, LND unlocked)', WAN_CHANGE_MS, async () => {
      await page?.context().close();
      const fresh = await browser!.newContext({ locale: 'en-US', viewport: PHONE, isMobile: true, hasTouch: true, storageState: state });
      page = await fresh.newPage();
      return aliasShown(page, base);
    }, 500);
    timings.wanChangePageMs = Date.now() - changed;
    expect(alias).toBe(ALIAS);
    expect(page!.url()).toBe(`${base}/_nodegate/`);
    await page!.screenshot({ path: join(SCREENSHOTS, 'e2e-4-after-address-change.png'), fullPage: true });
    await page!.context().close();
    expect(node!.pid).toBe(pid);
    expect(node!.child.exitCode).toBeNull();
  }, 90_000);

  it(`power cuts: ${POWER_CUTS} × kill -9 at a random moment (some while booting, the last one with LND too); name, certificate, tokens, keys and records survive`, async () => {
    const keep = JSON.parse(nodegate(['token', 'create', '--data', dataDir, '--scope', 'readonly', '--name', 'e2e wallet', '--json'])) as { token: string; id: string };
    const gone = JSON.parse(nodegate(['token', 'create', '--data', dataDir, '--scope', 'readonly', '--name', 'e2e revoked', '--json'])) as { token: string; id: string };
    nodegate(['token', 'revoke', '--data', dataDir, gone.id, '--json']);
    /** The kept token reaches LND (its alias, or LND's own "wallet locked" after LND lost power too); the revoked one never does. */
    const tokensOk = (lndLocked: boolean) => {
      const ok = phoneCurl('/v1/getinfo', [`Authorization: Bearer ${keep.token}`]);
      const reached = lndLocked ? ok.status === 503 && ok.body.includes('wallet locked') : ok.status === 200 && (JSON.parse(ok.body) as { alias?: string }).alias === ALIAS;
      if (!reached) throw new Error(`the kept token got ${ok.status}: ${ok.body.slice(0, 300)}`);
      const refused = phoneCurl('/v1/getinfo', [`Authorization: Bearer ${gone.token}`]);
      if (refused.status !== 401 || !refused.body.includes('NG_GW_TOKEN_REVOKED')) throw new Error(`the revoked token got ${refused.status}: ${refused.body.slice(0, 300)}`);
    };
    tokensOk(false);

    const registrationFile = join(dataDir, 'device', 'registration.json');
    const registration = await readFile(registrationFile, 'utf8');
    const deviceKey = await sha256(join(dataDir, 'device', 'key.jwk'));
    const onionKeyFile = join(dataDir, 'tor', 'onion-key.json');
    const onionKey = await sha256(onionKeyFile);
    const firstCert = servedCertificate();
    const tokenList = nodegate(['token', 'list', '--data', dataDir, '--json']);
    const seed = randomInt(1_000_000);
    let rng = seed;
    const random = () => (rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const loopStarted = Date.now();
    const cuts: string[] = [];
    let renewed = 0;

    for (let i = 0; i < POWER_CUTS; i++) {
      if (Date.now() - loopStarted > POWER_CUT_LOOP_MS) throw new Error(`power-cut loop exceeded ${POWER_CUT_LOOP_MS} ms after ${i} cuts (seed ${seed})`);
      const whole = i === POWER_CUTS - 1; // the last cut takes LND (and the dashboard) down too
      const withRenewal = i % 3 === 1;
      // a renewal process needs ~1-2 s to load before it talks to pebble: its cuts land later
      const delay = Math.floor(random() * MAX_KILL_DELAY_MS) + (withRenewal ? RENEWAL_KILL_OFFSET_MS : 0);
      const bootDelay = random() < 0.5 ? Math.floor(random() * MAX_BOOT_KILL_DELAY_MS) : undefined;
      const where = `power cut ${i + 1}/${POWER_CUTS} (seed ${seed}; ${delay} ms after serving${bootDelay !== undefined ? `, again ${bootDelay} ms into the reboot` : ''}${whole ? ', LND too' : ''})`;
      cuts.push(`${delay}${bootDelay !== undefined ? `+boot${bootDelay}` : ''}${whole ? '+lnd' : ''}`);
      // every third cut strikes while a forced certificate renewal runs (ACME order, DNS-01 TXT at
      // the registry, key and chain written to DATA/certs); before the last one a renewal completes
      const renewing = withRenewal ? world.spawn(world.ns.node, process.execPath, [NODEGATE, 'certs', 'renew', '--data', dataDir, '--force'], { NODEGATE_LOG_LEVEL: 'warn' }) : undefined;
      let renewedBefore: string | undefined;
      if (whole) {
        renewedBefore = servedCertificate().fingerprint256;
        nodegate(['certs', 'renew', '--data', dataDir, '--force'], 60_000);
      }
      await new Promise((r) => setTimeout(r, delay));
      if (renewing) cuts[cuts.length - 1] += renewing.child.exitCode === null ? '+renewal' : '+renewed';
      await Promise.all([killHard(node!), ...(renewing ? [killHard(renewing)] : []), ...(whole ? [killHard(lndRunner)] : [])]);
      if (whole) await startLnd();
      node = startNodegate();
      if (bootDelay !== undefined) {
        // the power goes again while the node boots (config, keys, certificate check, listeners)
        await new Promise((r) => setTimeout(r, bootDelay));
        await killHard(node);
        node = startNodegate();
      }
      try {
        await waitServing(node);
        tokensOk(whole);
        const cert = servedCertificate();
        if (cert.fingerprint256 !== firstCert.fingerprint256) renewed++;
        // a renewal completed after all those cuts (a stale lock or a half-written store would stop it) is what the node serves
        if (renewedBefore !== undefined) expect(cert.fingerprint256, `${where}: the certificate renewed before the cut`).not.toBe(renewedBefore);
        expect(cert.subjectAltName, where).toContain(`DNS:${name}`);
        expect(new Date(cert.validTo).getTime(), where).toBeGreaterThan(Date.now());
        expect(await readFile(registrationFile, 'utf8'), where).toBe(registration);
        expect(await sha256(join(dataDir, 'device', 'key.jwk')), where).toBe(deviceKey);
        expect(await sha256(onionKeyFile), `${where}: the onion key`).toBe(onionKey);
        await eventually(`${where}: the node's managed tor to run`, SERVING_MS, () => (torChildOf(node!) ? true : undefined), POLL_MS);
        const stored = await loadOrCreateOnionKey(join(dataDir, 'tor'));
        expect([stored.created, `${stored.key.address}.onion`], `${where}: the onion address`).toEqual([false, onion]);
        expect(nodegate(['token', 'list', '--data', dataDir, '--json']), where).toBe(tokenList);
        expect(digA(name), where).toEqual([world.wanAddress()]);
        expect(digA(lanName), where).toEqual([NODE_ADDRESS]);
      } catch (err) {
        throw new Error(`${where}: ${err instanceof Error ? err.message : String(err)}\nnode output:\n${node.output().slice(-3000)}`, { cause: err });
      }
    }
    timings.powerCutLoopMs = Date.now() - loopStarted;
    process.stdout.write(`power cuts: seed ${seed}, cuts (ms after serving [+renewal running or done] [+ms into the reboot] [+lnd]) ${cuts.join(', ')}; certificates renewed ${renewed}\n`);
    expect(cuts).toHaveLength(POWER_CUTS);
    expect(renewed).toBeGreaterThanOrEqual(1);

    // after the last cut (LND too): the owner logs in again, finds LND locked, unlocks it
    const base = `https://${name}:${HTTPS_PORT}`;
    const { page, context: ctx } = await ownerPage(base);
    try {
      expect(await page.locator('#lnd-state').textContent()).toBe(t('en', 'lnd.locked'));
      await page.getByLabel(t('en', 'unlock.password')).fill(WALLET_PASSWORD);
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('button', { name: t('en', 'unlock.submit') }).click()]);
      expect(await page.locator('#lnd-alias').textContent()).toBe(ALIAS);
      expect(await page.locator('main').textContent(), 'the owner page shows the same onion address').toContain(onion.replace(/\.onion$/, ''));
      await page.screenshot({ path: join(SCREENSHOTS, 'e2e-5-after-power-cuts.png'), fullPage: true });
      // the node's dashboard (restarted with LND) behind the owner login, its WebSocket through the gateway
      await page.goto(`${base}/`, { timeout: 15_000 });
      expect(page.url()).toBe(`${base}/`);
      await expect.poll(() => page.locator('#app').getAttribute('data-echo'), { timeout: 10_000 }).toBe('echo:ping');
      expect(await page.locator('#app').textContent()).toBe('Dashboard ready');
      await page.screenshot({ path: join(SCREENSHOTS, 'e2e-6-dashboard.png'), fullPage: true });
    } finally {
      await ctx.close();
    }
    tokensOk(false);
  }, 180_000);

});
