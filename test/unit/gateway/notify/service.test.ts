// The notification service against a real HTTP receiver on loopback: conditions reported once
// (after their hold time, by an injected clock), dedup and the daily cap, retries with back-off,
// permanent refusals dropped, and a queue that survives a restart without re-sending.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../../../../core/log.ts';
import { tempDir } from '../../../../sim/process.ts';
import { parseNotifyConfig, type NotifyConfig } from '../../../../gateway/notify/config.ts';
import { NotificationService, STATE_FILE, type NotifySources } from '../../../../gateway/notify/service.ts';
import { isNodegateError } from '../../../../core/errors.ts';
import { startHttpReceiver, type HttpReceiver } from '../../../support/http-receiver.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T10:00:00Z');

let receiver: HttpReceiver;
let dir: { path: string; remove(): Promise<void> };
/** The injected clock runs with real time (retry timers are real), from T0 plus what a test adds. */
let offset: number;
const advance = (ms: number) => {
  offset += ms;
};
const nowIso = () => new Date(Date.now() + offset).toISOString();
const services: NotificationService[] = [];

beforeEach(async () => {
  receiver = await startHttpReceiver();
  dir = await tempDir('ng-notify-');
  offset = T0 - Date.now();
});
afterEach(async () => {
  for (const s of services.splice(0)) await s.stop();
  await receiver.close();
  await dir.remove();
});

function config(extra: Record<string, unknown> = {}): NotifyConfig {
  return parseNotifyConfig({ webhook: { url: `${receiver.url}/hook`, format: 'json' }, retryMinMs: 20, retryMaxMs: 40, ...extra }, 'test');
}

async function open(sources: NotifySources = {}, extra: Record<string, unknown> = {}): Promise<NotificationService> {
  const s = await NotificationService.open({ dataDir: dir.path, config: config(extra), node: 'abc.dyn.test', sources, logger: createLogger({ level: 'silent' }), now: () => Date.now() + offset, random: () => 0.5 });
  services.push(s);
  return s;
}

const bodies = () => receiver.requests.map((r) => JSON.parse(r.body) as { kind: string; title: string; message: string });

describe('notification service', () => {
  it('reports a condition once after its hold time, and again only after it ended', async () => {
    let failingSince: string | undefined = new Date(T0).toISOString();
    let lnd = 'unlocked';
    const s = await open({ certificate: () => ({ notAfter: '2026-04-01T00:00:00Z', code: 'NG_CERT_ACME', ...(failingSince ? { failingSince } : {}) }), lndState: () => Promise.resolve(lnd) });
    await s.check();
    advance(2 * DAY); // failing for 2 days: below the 3-day default
    await s.check();
    await s.settled();
    expect(receiver.requests).toHaveLength(0);

    advance(DAY);
    lnd = 'locked';
    await s.check();
    await s.check();
    await receiver.waitForRequests(2);
    await s.settled();
    expect(bodies().map((b) => b.kind).sort()).toEqual(['cert-failing', 'lnd-locked']);
    expect(bodies().find((b) => b.kind === 'cert-failing')!.message).toBe(
      'The certificate could not be renewed since Mar 1, 2026, 10:00 AM UTC (error NG_CERT_ACME). The current certificate is valid until Apr 1, 2026, 12:00 AM UTC; the node keeps trying. On the node, `nodegate status` and `nodegate doctor` tell more.',
    );

    // unlocked, then locked again within the dedup window: the condition is new, the event a duplicate
    lnd = 'unlocked';
    await s.check();
    lnd = 'locked';
    advance(60_000);
    await s.check();
    await s.settled();
    expect(receiver.requests).toHaveLength(2);
    // after the window, a new lock is told again
    lnd = 'unlocked';
    await s.check();
    lnd = 'locked';
    advance(61 * 60_000);
    await s.check();
    await receiver.waitForRequests(3);
    failingSince = undefined;
    await s.check();
    expect(bodies()[2]!.kind).toBe('lnd-locked');
  });

  it('tells of the node unreachable only once it lasted unreachableForMs, in the reach model\'s words', async () => {
    let reason: { code: string; vars: Record<string, string | number> } | null = { code: 'NO_PATH', vars: {} };
    const s = await open({ reach: () => Promise.resolve(reason) });
    await s.check();
    advance(14 * 60_000);
    await s.check();
    await s.settled();
    expect(receiver.requests).toHaveLength(0); // 14 minutes: a short outage says nothing
    advance(60_000);
    await s.check();
    await receiver.waitForRequests(1);
    expect(bodies()[0]).toMatchObject({
      title: 'abc.dyn.test cannot be reached from the internet',
      message: 'Since Mar 1, 2026, 10:00 AM UTC: The internet cannot reach this node directly and no relay is available; only Tor (if on) reaches it.',
    });
    reason = null;
    await s.check();
    reason = { code: 'CGNAT', vars: { router: '100.64.1.2', public: '203.0.113.9', name: 'abc.dyn.test', port: 443, lan: '?' } };
    advance(61 * 60_000);
    await s.check();
    advance(16 * 60_000);
    await s.check();
    await receiver.waitForRequests(2);
    expect(bodies()[1]!.message).toMatch(/: Your internet provider shares one public address among many customers \(carrier-grade NAT\): your router has 100\.64\.1\.2, the internet sees 203\.0\.113\.9\. Ports cannot be opened/);
  });

  it('announces new wallets and new login addresses, not those it already knew', async () => {
    const tokens: { id: string; name: string; scope: 'readonly' | 'invoice' | 'admin'; createdAt: string; revoked: boolean }[] = [{ id: 'old', name: 'Old phone', scope: 'readonly', createdAt: '2026-02-01T00:00:00Z', revoked: false }];
    const s = await open({ tokens: () => tokens });
    await s.check(); // first look: learns "old" without a word
    tokens.push({ id: 'new', name: 'Zeus on my phone', scope: 'admin', createdAt: '2026-03-01T10:00:00Z', revoked: false });
    await s.check();
    s.ownerLoggedIn('2001:db8:1:2::10');
    s.ownerLoggedIn('2001:db8:1:2::99'); // the same /64: the same home
    s.ownerLoggedIn('::ffff:192.0.2.7');
    s.ownerLoggedIn('192.0.2.7');
    await receiver.waitForRequests(3);
    await s.settled();
    expect(bodies().map((b) => `${b.kind}: ${b.message}`)).toEqual([
      'wallet-paired: A wallet access key named “Zeus on my phone” was created on Mar 1, 2026, 10:00 AM UTC. Access: Full control: also send payments and manage channels. If this was not you, revoke it on the owner page and change the owner password.',
      'login-new-address: Someone logged in to the owner pages from 2001:db8:1:2::/64 on Mar 1, 2026, 10:00 AM UTC. If this was not you, change the owner password now.',
      'login-new-address: Someone logged in to the owner pages from 192.0.2.7 on Mar 1, 2026, 10:00 AM UTC. If this was not you, change the owner password now.',
    ]);
  });

  it('keeps to the daily cap and drops nothing silently: the rest is counted out', async () => {
    const s = await open({}, { dailyCap: 2 });
    expect(s.notify({ kind: 'login-new-address', at: nowIso(), address: '192.0.2.1' })).toBe('queued');
    expect(s.notify({ kind: 'login-new-address', at: nowIso(), address: '192.0.2.1' })).toBe('duplicate');
    expect(s.notify({ kind: 'login-new-address', at: nowIso(), address: '192.0.2.2' })).toBe('queued');
    expect(s.notify({ kind: 'login-new-address', at: nowIso(), address: '192.0.2.3' })).toBe('capped');
    await expect(s.sendTest()).rejects.toSatisfy((e) => isNodegateError(e, 'NG_NOTIFY_RATE_LIMITED'));
    await receiver.waitForRequests(2);
    await s.settled();
    advance(DAY); // a new UTC day
    expect(s.notify({ kind: 'login-new-address', at: nowIso(), address: '192.0.2.3' })).toBe('queued');
    await receiver.waitForRequests(3);
  });

  it('retries a failing receiver with back-off, and drops a delivery the receiver refuses for good', async () => {
    receiver.answers.push(503, 503);
    const s = await open();
    s.notify({ kind: 'lnd-locked', at: nowIso() });
    await receiver.waitForRequests(3);
    await s.settled();
    expect(receiver.requests.map((r) => r.url)).toEqual(['/hook', '/hook', '/hook']);
    expect(s.status().pending).toBe(0);

    receiver.answers.push(404);
    s.notify({ kind: 'login-new-address', at: nowIso(), address: '192.0.2.9' });
    await receiver.waitForRequests(4);
    await s.settled();
    expect(s.status().pending).toBe(0); // 404 will not change by retrying
    expect(receiver.requests).toHaveLength(4);
  });

  it('reaches a webhook given by host name (through the lookup that refuses link-local answers)', async () => {
    const s = await open({}, { webhook: { url: `${receiver.url.replace('127.0.0.1', 'localhost')}/by-name`, format: 'json' } });
    s.notify({ kind: 'lnd-locked', at: nowIso() });
    const [req] = await receiver.waitForRequests(1);
    expect(req!.url).toBe('/by-name');
  });

  it('keeps what is queued across a restart, and sends it once', async () => {
    receiver.answers.push(...Array<number>(1000).fill(503));
    const first = await open({}, { retryMinMs: 60_000, retryMaxMs: 60_000 });
    first.notify({ kind: 'lnd-locked', at: nowIso() });
    await receiver.waitForRequests(1);
    await first.settled();
    await first.stop();
    const saved = JSON.parse(await readFile(join(dir.path, STATE_FILE), 'utf8')) as { deliveries: { channel: string; attempts: number }[] };
    expect(saved.deliveries).toMatchObject([{ channel: 'webhook', attempts: 1 }]);

    receiver.answers.length = 0; // the receiver is back
    advance(61_000);
    const second = await open();
    second.start();
    await receiver.waitForRequests(2);
    await second.settled();
    expect(second.status().pending).toBe(0);
    second.notify({ kind: 'lnd-locked', at: nowIso() }); // within the dedup window
    await second.settled();
    expect(receiver.requests).toHaveLength(2);
  });
});
