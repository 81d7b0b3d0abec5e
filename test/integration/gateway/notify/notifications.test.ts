// Notifications as an owner sets them up and meets them: `nodegate init --notify-*` (an ntfy
// webhook and e-mail), a real SMTP server from Debian (aiosmtpd, STARTTLS and AUTH required) and an
// HTTP receiver on loopback. The node's renewal keeps failing (the ACME directory is down) and the
// clock moves three days on; then LND restarts locked, the node restarts, and a wallet was paired
// meanwhile. Each notification arrives at both receivers once, with exactly the words expected,
// nothing arrives twice across the restart, and no secret of the node is in any body.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { command as init } from '../../../../gateway/cli/init.ts';
import { startNode, type RunningNode } from '../../../../gateway/node.ts';
import { TokenService } from '../../../../gateway/auth/tokens.ts';
import { formatDate } from '../../../../gateway/ui/i18n.ts';
import { createLogger } from '../../../../core/log.ts';
import type { CommandIO } from '../../../../core/cli.ts';
import { freePort, tempDir } from '../../../../sim/process.ts';
import { startLndSim, type LndSim } from '../../../../sim/lnd.ts';
import { startTestRegistry, type TestRegistry } from '../../../support/registry.ts';
import { startSmtpServer, type TestSmtpServer } from '../../../support/smtp-server.ts';
import { startHttpReceiver, type HttpReceiver } from '../../../support/http-receiver.ts';
import { eventually } from '../../../support/eventually.ts';

const DAY = 86_400_000;
const OWNER_PASSWORD = 'owner-password-4f1c9a';
const WALLET_PASSWORD = 'correct horse battery staple'; // the LND simulator's default

let registry: TestRegistry;
let smtp: TestSmtpServer;
let receiver: HttpReceiver;
let lnd: LndSim;
let dir: { path: string; remove(): Promise<void> };
let node: RunningNode | undefined;

beforeAll(async () => {
  [registry, smtp, receiver, dir] = await Promise.all([startTestRegistry(), startSmtpServer(), startHttpReceiver(), tempDir('ng-notify-it-')]);
  lnd = await startLndSim({ dir: join(dir.path, 'lnd'), unlocked: true });
});
afterAll(async () => {
  await node?.stop();
  await Promise.allSettled([lnd?.stop(), smtp?.stop(), receiver?.close(), registry?.stop()]);
  await dir?.remove();
});

function io(): CommandIO & { out: () => string } {
  let out = '';
  const sink = { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream;
  return { stdout: sink, stderr: sink, env: {}, signal: new AbortController().signal, out: () => out };
}

describe('notifications', () => {
  it('arrive by webhook (ntfy) and e-mail when renewal keeps failing and when LND is locked after a restart, once each, with no secret', async () => {
    const dataDir = join(dir.path, 'data');
    await writeFile(join(dir.path, 'owner-password'), OWNER_PASSWORD + '\n');
    await writeFile(join(dir.path, 'smtp-password'), smtp.password + '\n', { mode: 0o600 });
    const deadAcme = await freePort(); // nothing listens: every renewal fails to reach the CA
    const cli = io();
    const code = await init.run(
      [
        '--data', dataDir, '--registry', registry.apiUrl, '--https', `127.0.0.1:${await freePort()}`, '--router', 'none', '--no-port-mapping', '--no-cert',
        '--acme-directory', `https://127.0.0.1:${deadAcme}/dir`, '--authoritative', `${registry.dnsAddress.host}:${registry.dnsAddress.port}`,
        '--lnd-rest', lnd.url, '--lnd-dir', lnd.dir, '--password-file', join(dir.path, 'owner-password'),
        '--notify-webhook', `${receiver.url}/nodegate-alerts`, '--notify-format', 'ntfy',
        '--notify-smtp', `${smtp.host}:${smtp.port}`, '--notify-smtp-user', smtp.user, '--notify-smtp-password-file', join(dir.path, 'smtp-password'),
        '--notify-smtp-ca', smtp.caFile, '--notify-email-from', 'node@home.example', '--notify-email-to', 'owner@example.org',
      ],
      cli,
    );
    expect(code, cli.out()).toBe(0);
    expect(cli.out()).not.toContain(smtp.password);
    expect(cli.out()).toContain(`Notifications: webhook ${receiver.url}/nod… (ntfy)\nNotifications: e-mail to owner@example.org through 127.0.0.1:${smtp.port} (starttls)\n`);
    // Test pacing only: look at the node every 100 ms instead of 30 s; no DDNS/port-mapping traffic.
    const configFile = join(dataDir, 'config.json');
    const config = JSON.parse(await readFile(configFile, 'utf8')) as { notify: Record<string, unknown>; reachability: Record<string, unknown> };
    expect(config.notify).toMatchObject({ webhook: { url: `${receiver.url}/nodegate-alerts`, format: 'ntfy' }, email: { host: '127.0.0.1', port: smtp.port, security: 'starttls', user: smtp.user, to: ['owner@example.org'] } });
    expect(JSON.stringify(config)).not.toContain(smtp.password);
    config.notify.checkIntervalMs = 100;
    config.reachability.enabled = false;
    await writeFile(configFile, JSON.stringify(config));
    const name = (JSON.parse(await readFile(join(dataDir, 'device', 'registration.json'), 'utf8')) as { name: string }).name;

    let offset = 0;
    const now = () => Date.now() + offset;
    const logger = createLogger({ level: 'silent' });
    node = await startNode({ dataDir, logger, now });
    const failing = await eventually('the first renewal failure', 20_000, () => node!.certificates!.status().failingSince);
    offset = 3 * DAY + 60_000; // three days of failures later
    const [hook] = await receiver.waitForRequests(1);
    const [mail] = await smtp.waitForMessages(1);

    const notAfter = node.certificates!.status().notAfter;
    const certText = `The certificate could not be renewed since ${formatDate('en', failing)} (error NG_CERT_ACME). The current certificate is valid until ${formatDate('en', notAfter)}; the node keeps trying. On the node, \`nodegate status\` and \`nodegate doctor\` tell more.`;
    expect(hook!.method).toBe('POST');
    expect(hook!.url).toBe('/'); // ntfy's JSON publishing goes to the root, the topic in the body
    expect(hook!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(hook!.body)).toEqual({ topic: 'nodegate-alerts', title: `Certificate renewal keeps failing on ${name}`, message: certText, priority: 4, tags: ['warning'] });
    expect(mail).toMatchObject({ tls: true, authenticated: true, mailFrom: 'node@home.example', rcptTos: ['owner@example.org'], subject: `Certificate renewal keeps failing on ${name}`, event: 'cert-failing' });
    expect(mail!.text).toBe(`${certText}\n\n-- \nnodegate · ${name}\n`);
    await node.stop();
    node = undefined;

    // A power cut: LND comes back locked, and a wallet was paired from the command line meanwhile.
    const port = lnd.port;
    await lnd.stop();
    lnd = await startLndSim({ dir: lnd.dir, port });
    const tokens = await TokenService.open(dataDir);
    const created = await tokens.create({ scope: 'invoice', name: 'Phone wallet' });
    const createdAt = tokens.list().find((t) => t.id === created.id)!.createdAt;
    tokens.close();
    node = await startNode({ dataDir, logger, now });
    const hooks = await receiver.waitForRequests(3);
    const mails = await smtp.waitForMessages(3);
    await node.notifications.check(); // one more look: nothing new may come of it
    await node.notifications.settled();

    const byTitle = (title: string) => hooks.filter((h) => (JSON.parse(h.body) as { title: string }).title === title);
    expect(byTitle(`LND is locked on ${name}`).map((h) => JSON.parse(h.body) as unknown)).toEqual([
      { topic: 'nodegate-alerts', title: `LND is locked on ${name}`, message: 'After a restart or a power cut, LND waits for its wallet password. Until it is unlocked, the node cannot pay or receive. Open the owner page and unlock it.', priority: 4, tags: ['lock'] },
    ]);
    const walletText = `A wallet access key named “Phone wallet” was created on ${formatDate('en', createdAt)}. Access: Receive: also create invoices. If this was not you, revoke it on the owner page and change the owner password.`;
    expect(byTitle(`New wallet connected to ${name}`).map((h) => (JSON.parse(h.body) as { message: string }).message)).toEqual([walletText]);
    expect(mails.map((m) => m.subject).sort()).toEqual([`Certificate renewal keeps failing on ${name}`, `LND is locked on ${name}`, `New wallet connected to ${name}`]);
    expect(receiver.requests).toHaveLength(3); // the renewal notice was not sent again after the restart
    expect(smtp.messages()).toHaveLength(3);

    const secrets = [OWNER_PASSWORD, WALLET_PASSWORD, smtp.password, created.token, ...Object.values(lnd.macaroonHex), ...Object.values(lnd.macaroonHex).map((h) => Buffer.from(h, 'hex').toString('base64'))];
    const sent = [...receiver.requests.map((r) => JSON.stringify(r)), ...smtp.messages().map((m) => m.raw)];
    for (const secret of secrets) for (const body of sent) expect(body.includes(secret), `a notification carries a secret (${secret.slice(0, 6)}…)`).toBe(false);
  });
});
