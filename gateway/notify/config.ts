/**
 * The "notify" section of DATA/config.json: where notifications go (a webhook in ntfy, Gotify or
 * plain JSON form; e-mail over SMTP), in which language, which events are muted, and the limits
 * that keep them few (dedup window, daily cap) and delivered (retry with back-off). Every default
 * lives here, units in the name. Written by `nodegate init --notify-*` and the owner's settings page.
 */
import { Type, type Static } from '@sinclair/typebox';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { strictObject, parseConfig, writeConfigSection } from '../../core/config.ts';
import { readFileIfExists } from '../../core/atomic-file.ts';
import { NodegateError } from '../../core/errors.ts';
import { NOTIFY_EVENT_KINDS, type NotifyEventKind } from '../ui/types.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Body formats of the webhook: ntfy's JSON publish, Gotify's POST /message, or our own JSON. */
export const WEBHOOK_FORMATS = ['ntfy', 'gotify', 'json'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** What the owner can be told about (the list lives with the owner pages' contract). */
export const EVENT_KINDS = NOTIFY_EVENT_KINDS;
export type EventKind = NotifyEventKind;

export const NOTIFY_LANGUAGES = ['en', 'es', 'pt-BR', 'de', 'fr'] as const;
export type NotifyLanguage = (typeof NOTIFY_LANGUAGES)[number];

/** An e-mail address as SMTP takes it: no spaces, no angle brackets, one @. */
const Address = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s<>@]+@[^\\s<>@]+$' });

export const WebhookSchema = strictObject({
  /** http: or https: URL. ntfy: the topic URL; Gotify: the server URL with `?token=APPTOKEN`; json: any. */
  url: Type.String({ minLength: 8, maxLength: 2048 }),
  format: Type.Union([Type.Literal('ntfy'), Type.Literal('gotify'), Type.Literal('json')]),
});
export type WebhookConfig = Static<typeof WebhookSchema>;

export const EmailSchema = strictObject({
  /** The SMTP server (the submission port of the owner's mail provider). */
  host: Type.String({ minLength: 1, maxLength: 253 }),
  /** 587 for STARTTLS (submission, RFC 6409), 465 for TLS from the first byte (RFC 8314). */
  port: Type.Integer({ minimum: 1, maximum: 65535, default: 587 }),
  /** `starttls`: plain connect, then STARTTLS is required (never sends without TLS); `tls`: implicit TLS. */
  security: Type.Union([Type.Literal('starttls'), Type.Literal('tls')], { default: 'starttls' }),
  /** SMTP AUTH user; absent: no AUTH. */
  user: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })),
  /** File holding the SMTP password (first line), 0600; never in the config itself or argv. */
  passwordFile: Type.Optional(Type.String({ minLength: 1 })),
  /** Extra CA (PEM) trusted for the server's certificate (a self-hosted mail server). */
  caFile: Type.Optional(Type.String({ minLength: 1 })),
  from: Address,
  to: Type.Array(Address, { minItems: 1, maxItems: 5 }),
});
export type EmailConfig = Static<typeof EmailSchema>;

export const NotifyConfigSchema = strictObject(
  {
    /** Language of the notification texts; the settings page sets it to the page's. */
    language: Type.Union(NOTIFY_LANGUAGES.map((l) => Type.Literal(l)), { default: 'en' }),
    webhook: Type.Optional(WebhookSchema),
    email: Type.Optional(EmailSchema),
    /** Events not to be told about. */
    muted: Type.Array(Type.Union(EVENT_KINDS.map((k) => Type.Literal(k))), { default: [], maxItems: EVENT_KINDS.length }),
    /** The same event (same kind and subject) is not queued again within this, ms: a flapping LND or link says it once. */
    dedupWindowMs: Type.Integer({ minimum: 0, default: 1 * HOUR }),
    /** At most this many notifications per UTC day (test ones included); the rest are logged only. */
    dailyCap: Type.Integer({ minimum: 1, maximum: 1000, default: 20 }),
    /** First retry of a failed delivery after about this, doubling with jitter, ms. */
    retryMinMs: Type.Integer({ minimum: 10, default: 30 * SECOND }),
    /** Longest wait between two retries, ms. */
    retryMaxMs: Type.Integer({ minimum: 10, default: 30 * MINUTE }),
    /** A delivery still failing this long after the event is dropped (and logged), ms. */
    giveUpAfterMs: Type.Integer({ minimum: 1000, default: DAY }),
    /** One delivery attempt (connect, TLS, request, answer) is cut after this, ms. */
    sendTimeoutMs: Type.Integer({ minimum: 100, maximum: 120 * SECOND, default: 15 * SECOND }),
    /** How often the node's state (LND, certificate, reachability, wallets) is looked at, ms. */
    checkIntervalMs: Type.Integer({ minimum: 50, default: 30 * SECOND }),
    /** Renewal failures are reported once they have lasted this long, ms. Default 3 days (of the 30 a 90-day certificate leaves). */
    certFailingForMs: Type.Integer({ minimum: 0, default: 3 * DAY }),
    /** The node must have been unreachable this long before it is reported (short outages are not), ms. */
    unreachableForMs: Type.Integer({ minimum: 0, default: 15 * MINUTE }),
    /** The settings page's "send a test notification" works at most once per this, ms. */
    testMinGapMs: Type.Integer({ minimum: 0, default: 30 * SECOND }),
  },
  { default: {} },
);
export type NotifyConfig = Static<typeof NotifyConfigSchema>;

/** Where the SMTP password set by `init` or the settings page is kept (0600). */
export function smtpPasswordPath(dataDir: string): string {
  return join(dataDir, 'notify', 'smtp-password');
}

/**
 * Addresses a webhook or mail server may never be: cloud metadata services (169.254.169.254 and
 * the rest of IPv4 link-local, fe80::/10) answer credentials to anyone who asks from the machine,
 * and nothing a home owner runs lives there. Everything else is allowed: owners run ntfy or Gotify
 * on the node itself or on the LAN (docs/threat-model.md, "Notifications").
 */
export function forbiddenDestination(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(h) === 4) return h.startsWith('169.254.') || h === '0.0.0.0';
  if (isIP(h) === 6) return /^fe[89ab][0-9a-f]:/.test(h) || h === '::' || /^::ffff:169\.254\./.test(h);
  return false;
}

/** Hosts that stay inside the home: loopback, private IPv4, IPv6 ULA (for Tor-only nodes). */
export function homeOnlyDestination(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(h) === 4) return /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(h);
  if (isIP(h) === 6) return h === '::1' || /^f[cd][0-9a-f]{2}:/.test(h);
  return false;
}

/**
 * Validates a raw "notify" section (defaults filled) and the rules a schema cannot say: webhook
 * URLs are http(s) without fragments, no destination is a forbidden address, a Tor-only node sends
 * only to addresses inside the home (its clearnet silence is the point of Tor-only).
 */
export function parseNotifyConfig(value: unknown, source: string, options: { torOnly?: boolean } = {}): NotifyConfig {
  const config = parseConfig(NotifyConfigSchema, value, source);
  const refuse = (field: 'webhook' | 'email', problem: 'not-url' | 'scheme' | 'link-local' | 'tor-only' | 'password-file', what: string) =>
    new NodegateError('NG_CONFIG_INVALID', `${source}: ${what}`, { details: { field, problem } });
  if (config.webhook) {
    let url: URL;
    try {
      url = new URL(config.webhook.url);
    } catch {
      throw refuse('webhook', 'not-url', `the webhook "${redactUrl(config.webhook.url)}" is not a URL. Write it as https://ntfy.sh/your-topic, https://gotify.example/message?token=APPTOKEN or any https:// address.`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refuse('webhook', 'scheme', 'the webhook must be an http: or https: URL.');
    if (forbiddenDestination(url.hostname)) throw refuse('webhook', 'link-local', `the webhook's host ${url.hostname} is a link-local (cloud metadata) address; notifications are never sent there.`);
    if (options.torOnly && !homeOnlyDestination(url.hostname)) throw refuse('webhook', 'tor-only', `this node is Tor-only, so it sends nothing to the internet: the webhook must be an IP address on this machine or the home network (127.x, 10.x, 172.16-31.x, 192.168.x, fc00::/7), not ${url.hostname}.`);
  }
  if (config.email) {
    if (forbiddenDestination(config.email.host)) throw refuse('email', 'link-local', `the SMTP host ${config.email.host} is a link-local (cloud metadata) address.`);
    if (options.torOnly && !homeOnlyDestination(config.email.host)) throw refuse('email', 'tor-only', `this node is Tor-only: the SMTP server must be an IP address on this machine or the home network, not ${config.email.host}.`);
    if (config.email.user !== undefined && config.email.passwordFile === undefined) throw refuse('email', 'password-file', 'email.user is set but email.passwordFile is not: give the SMTP password in a file (`--notify-smtp-password-file FILE`).');
  }
  return config;
}

/**
 * A URL safe to show in logs and on pages: scheme, host, port and path; the query (Gotify's
 * token) and the user-info (ntfy's user:password) are replaced by "…". An ntfy topic is the path,
 * and is a secret of sorts (docs.ntfy.sh: "the topic is essentially a password"): its last segment
 * is shortened to 3 characters.
 */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    const segments = url.pathname.split('/');
    const last = segments.pop() ?? '';
    const path = [...segments, last.length > 3 ? `${last.slice(0, 3)}…` : last].join('/');
    return `${url.protocol}//${url.username || url.password ? '…@' : ''}${url.host}${path}${url.search ? '?…' : ''}`;
  } catch {
    return '(not a URL)';
  }
}

/** Reads the "notify" section of DATA/config.json; absent: the defaults (no channel: nothing sent). */
export async function loadNotifyConfig(dataDir: string, options: { torOnly?: boolean } = {}): Promise<NotifyConfig> {
  const path = join(dataDir, 'config.json');
  const raw = await readFileIfExists(path);
  const whole = raw ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
  return parseNotifyConfig(whole.notify ?? {}, `${path} ("notify")`, options);
}

/**
 * Writes the "notify" section of DATA/config.json (other sections kept), validated first, 0600.
 * Returns the section with defaults filled.
 */
export async function saveNotifyConfig(dataDir: string, section: unknown, options: { torOnly?: boolean } = {}): Promise<NotifyConfig> {
  const config = parseNotifyConfig(section, 'the notification settings', options);
  await writeConfigSection(join(dataDir, 'config.json'), 'notify', config);
  return config;
}
