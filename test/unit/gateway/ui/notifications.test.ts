/**
 * The notification settings page through fastify's inject, with the real notification service and
 * a real HTTP receiver: saving needs the owner password, what is saved is never shown back (the
 * Gotify token, the SMTP password), the test button reports each channel, and is throttled; a
 * login from a new address is told.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFile, stat } from 'node:fs/promises';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { ownerPages, ERROR_CODE_HEADER } from '../../../../gateway/ui/plugin.ts';
import { OwnerAuth } from '../../../../gateway/auth/owner.ts';
import { createLogger } from '../../../../core/log.ts';
import { freePort, tempDir } from '../../../../sim/process.ts';
import { NotificationService } from '../../../../gateway/notify/service.ts';
import { loadNotifyConfig, smtpPasswordPath } from '../../../../gateway/notify/config.ts';
import { ownerNotifications } from '../../../../gateway/notify/owner.ts';
import type { OwnerDeps } from '../../../../gateway/ui/types.ts';
import { startHttpReceiver, type HttpReceiver } from '../../../support/http-receiver.ts';

const OWNER_PASSWORD = 'owner password for tests';
const GOTIFY_TOKEN = 'AzyoeNSD4iJLVa7';
const SMTP_PASSWORD = 'smtp-Pa55word-not-shown';

let dir: { path: string; remove(): Promise<void> };
let app: FastifyInstance;
let service: NotificationService;
let receiver: HttpReceiver;

beforeEach(async () => {
  dir = await tempDir('ng-ui-notify-');
  receiver = await startHttpReceiver();
  service = await NotificationService.open({ dataDir: dir.path, config: await loadNotifyConfig(dir.path), node: 'abcd1234.nodegate.example', sources: {}, logger: createLogger({ level: 'silent' }) });
  const auth = await OwnerAuth.open({ dataDir: dir.path, scrypt: { N: 1024, r: 8, p: 1 } });
  await auth.setPassword(OWNER_PASSWORD);
  const deps = {
    status: () => Promise.resolve({ names: [], lnd: { state: 'unlocked' } }),
    notifications: ownerNotifications(service, { dataDir: dir.path, torOnly: false }),
  } as unknown as OwnerDeps; // the settings page needs no other dependency
  app = Fastify();
  await app.register(ownerPages, { prefix: '/_nodegate', dataDir: dir.path, deps, auth });
  await app.ready();
});
afterEach(async () => {
  await app.close();
  await service.stop();
  await receiver.close();
  await dir.remove();
});

const jarOf = (res: LightMyRequestResponse, jar = new Map<string, string>()) => {
  for (const c of res.cookies as { name: string; value: string }[]) jar.set(c.name, c.value);
  return jar;
};
const cookie = (jar: Map<string, string>) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
const csrfOf = (body: string) => /name="csrf" value="([^"]*)"/.exec(body)![1]!;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

async function login(ip: string): Promise<{ jar: Map<string, string>; csrf: string }> {
  const page = await app.inject({ url: '/_nodegate/login', remoteAddress: ip });
  const jar = jarOf(page);
  const res = await app.inject({ method: 'POST', url: '/_nodegate/login', remoteAddress: ip, headers: { ...FORM, cookie: cookie(jar) }, payload: new URLSearchParams({ csrf: csrfOf(page.body), password: OWNER_PASSWORD }).toString() });
  expect(res.statusCode).toBe(303);
  jarOf(res, jar);
  const settings = await app.inject({ url: '/_nodegate/notifications', headers: { cookie: cookie(jar) } });
  return { jar, csrf: csrfOf(settings.body) };
}

describe('notification settings page', () => {
  it('saves only with the owner password, never shows a saved secret, and tests each channel', async () => {
    const { jar, csrf } = await login('192.0.2.10');
    const page = await app.inject({ url: '/_nodegate/notifications', headers: { cookie: cookie(jar) } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<a href="/_nodegate/notifications" aria-current="page">Notifications</a>');
    expect(page.body).toContain('No webhook or e-mail is set up yet.');
    expect(page.body).not.toMatch(/<script/i);

    const deadSmtp = await freePort();
    const settings = {
      csrf,
      language: 'de',
      webhook_url: `${receiver.url}/message?token=${GOTIFY_TOKEN}`,
      webhook_format: 'gotify',
      smtp_host: '127.0.0.1',
      smtp_port: String(deadSmtp),
      smtp_security: 'starttls',
      smtp_user: 'owner',
      smtp_password: SMTP_PASSWORD,
      email_from: 'node@home.example',
      email_to: 'a@example.org, b@example.org',
      'event-lnd-locked': '1',
      'event-wallet-paired': '1',
    };
    const post = (o: Record<string, string>) => app.inject({ method: 'POST', url: '/_nodegate/notifications', headers: { ...FORM, cookie: cookie(jar) }, payload: new URLSearchParams(o).toString() });
    const wrong = await post({ ...settings, owner_password: 'not the password' });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.headers[ERROR_CODE_HEADER]).toBe('NG_GW_LOGIN_FAILED');
    expect((await loadNotifyConfig(dir.path)).webhook).toBeUndefined();

    const bad = await post({ ...settings, webhook_url: 'http://169.254.169.254/latest/meta-data', owner_password: OWNER_PASSWORD });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('cannot be a link-local address');

    const saved = await post({ ...settings, owner_password: OWNER_PASSWORD });
    expect(saved.statusCode).toBe(303);
    expect(saved.headers.location).toBe('/_nodegate/notifications?done=notify-saved');
    const config = await loadNotifyConfig(dir.path);
    expect(config).toMatchObject({
      language: 'de',
      webhook: { url: `${receiver.url}/message?token=${GOTIFY_TOKEN}`, format: 'gotify' },
      email: { host: '127.0.0.1', port: deadSmtp, security: 'starttls', user: 'owner', passwordFile: smtpPasswordPath(dir.path), from: 'node@home.example', to: ['a@example.org', 'b@example.org'] },
      muted: ['cert-failing', 'unreachable', 'login-new-address'],
    });
    expect(await readFile(smtpPasswordPath(dir.path), 'utf8')).toBe(`${SMTP_PASSWORD}\n`);
    expect((await stat(smtpPasswordPath(dir.path))).mode & 0o777).toBe(0o600);

    const shown = await app.inject({ url: saved.headers.location as string, headers: { cookie: cookie(jar) } });
    expect(shown.body).toContain('Notification settings saved.');
    expect(shown.body).toContain(`Saved: ${receiver.url}/mes…?…. Leave the field empty to keep it.`);
    expect(shown.body).not.toContain(GOTIFY_TOKEN);
    expect(shown.body).not.toContain(SMTP_PASSWORD);

    // Saving again with the secret fields empty keeps them.
    expect((await post({ ...settings, webhook_url: '', smtp_password: '', owner_password: OWNER_PASSWORD })).statusCode).toBe(303);
    expect((await loadNotifyConfig(dir.path)).webhook?.url).toBe(`${receiver.url}/message?token=${GOTIFY_TOKEN}`);

    const test = await app.inject({ method: 'POST', url: '/_nodegate/notifications/test', headers: { ...FORM, cookie: cookie(jar) }, payload: `csrf=${csrf}` });
    expect(test.statusCode).toBe(200);
    expect(test.body).toContain('<li>Webhook: delivered.</li><li>E-mail: not delivered (could not connect).</li>');
    const [hook] = receiver.requests;
    expect(hook!.url).toBe(`/message?token=${GOTIFY_TOKEN}`);
    expect(JSON.parse(hook!.body)).toEqual({ title: 'Testbenachrichtigung von abcd1234.nodegate.example', message: expect.stringMatching(/^Benachrichtigungen Ihres Knotens kommen hier an\. Gesendet am .+ UTC\.$/) as unknown, priority: 2, extras: { 'client::display': { contentType: 'text/plain' } } });

    const again = await app.inject({ method: 'POST', url: '/_nodegate/notifications/test', headers: { ...FORM, cookie: cookie(jar) }, payload: `csrf=${csrf}` });
    expect(again.statusCode).toBe(429);
    expect(again.headers[ERROR_CODE_HEADER]).toBe('NG_NOTIFY_RATE_LIMITED');
    expect(receiver.requests).toHaveLength(1);
  });

  it('tells of a login from a new address, once per address', async () => {
    const { jar, csrf } = await login('192.0.2.10');
    const post = new URLSearchParams({ csrf, webhook_url: `${receiver.url}/hook`, webhook_format: 'json', 'event-login-new-address': '1', owner_password: OWNER_PASSWORD });
    expect((await app.inject({ method: 'POST', url: '/_nodegate/notifications', headers: { ...FORM, cookie: cookie(jar) }, payload: post.toString() })).statusCode).toBe(303);
    await login('192.0.2.10'); // known since the first login (told then, while no channel was set)
    await login('198.51.100.20');
    await receiver.waitForRequests(1);
    await service.settled();
    expect(receiver.requests.map((r) => (JSON.parse(r.body) as { kind: string; message: string }).message)).toEqual([
      expect.stringMatching(/^Someone logged in to the owner pages from 198\.51\.100\.20 on .+ UTC\. If this was not you, change the owner password now\.$/),
    ]);
  });
});
