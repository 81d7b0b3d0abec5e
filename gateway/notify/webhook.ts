/**
 * The webhook channel: one POST per notification, in the form the receiver expects.
 *
 * - `ntfy`: JSON publishing (docs.ntfy.sh/publish, "Publish as JSON"): POST to the server's root
 *   with `{ topic, title, message, priority 1-5, tags }`; the owner gives the topic URL
 *   (`https://ntfy.sh/mytopic`), whose last path segment is the topic. JSON rather than the
 *   `Title`/`Priority`/`Tags` headers because header values cannot carry the non-Latin-1 characters
 *   of every language's text. User-info in the URL (`https://user:pass@host/topic`) becomes Basic auth.
 * - `gotify`: POST /message?token=APPTOKEN (gotify.net/docs/pushmsg) with
 *   `{ title, message, priority 0-10, extras: { "client::display": { contentType: "text/plain" } } }`.
 * - `json`: our own body, `{ source: "nodegate", kind, node, title, message, priority, tags, at }`.
 *
 * Never follows a redirect, never reads more of the answer than its status (the body is discarded:
 * the settings page shows only a reason code, so the webhook cannot be used to read another
 * service's answers), and every attempt is bounded by `timeoutMs`.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import { messageOf } from '../../core/errors.ts';
import { forbiddenDestination, type WebhookConfig } from './config.ts';
import type { Priority, RenderedMessage } from './message.ts';
import type { DeliveryReason } from './channel.ts';
import { deliveryError, type Channel } from './channel.ts';

const NTFY_PRIORITY: Record<Priority, number> = { low: 2, default: 3, high: 4 };
const GOTIFY_PRIORITY: Record<Priority, number> = { low: 2, default: 5, high: 8 };

/** Where and what to POST for `message`, in `config.format`. */
export function webhookRequest(config: WebhookConfig, message: RenderedMessage): { url: string; headers: Record<string, string>; body: string } {
  const url = new URL(config.url);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'nodegate' };
  if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  let body: unknown;
  switch (config.format) {
    case 'ntfy': {
      const segments = url.pathname.split('/');
      const topic = decodeURIComponent(segments.pop() ?? '');
      url.pathname = segments.join('/') + '/';
      body = { topic, title: message.title, message: message.body, priority: NTFY_PRIORITY[message.priority], tags: message.tags };
      break;
    }
    case 'gotify':
      if (!url.pathname.endsWith('/message')) url.pathname = url.pathname.replace(/\/?$/, '/message');
      body = { title: message.title, message: message.body, priority: GOTIFY_PRIORITY[message.priority], extras: { 'client::display': { contentType: 'text/plain' } } };
      break;
    case 'json':
      body = { source: 'nodegate', kind: message.kind, node: message.node, title: message.title, message: message.body, priority: message.priority, tags: message.tags, at: message.at };
      break;
  }
  return { url: url.toString(), headers, body: JSON.stringify(body) };
}

/** undici's and node's failure codes, as the reason the settings page words. */
function reasonOf(err: unknown): DeliveryReason {
  const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code ?? '';
  if (/TIMEOUT/.test(code) || (err as Error).name === 'TimeoutError') return 'timeout';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ECONNRESET') return 'refused';
  if (/CERT|SSL|TLS|ERR_SSL/.test(code)) return 'tls';
  return 'other';
}

/**
 * DNS lookup that refuses link-local answers: a host name that resolves to a cloud metadata
 * address at send time is refused like the literal address is at save time (config.ts).
 */
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 0);
    const bad = addresses.find((a) => forbiddenDestination(a.address));
    if (bad) return callback(Object.assign(new Error(`${hostname} resolves to the link-local address ${bad.address}; notifications are never sent there`), { code: 'ENOTFOUND' }), '', 0);
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
};

export class WebhookChannel implements Channel {
  readonly name = 'webhook' as const;
  readonly #config: WebhookConfig;
  readonly #agent: Agent;
  readonly #timeoutMs: number;

  constructor(config: WebhookConfig, options: { timeoutMs: number }) {
    this.#config = config;
    this.#timeoutMs = options.timeoutMs;
    this.#agent = new Agent({ connect: { timeout: options.timeoutMs, lookup: guardedLookup }, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs, keepAliveTimeout: 1000 });
  }

  async send(message: RenderedMessage, signal?: AbortSignal): Promise<void> {
    const req = webhookRequest(this.#config, message);
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    let status: number;
    try {
      const res = await request(req.url, {
        method: 'POST',
        headers: req.headers,
        body: req.body,
        dispatcher: this.#agent,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      status = res.statusCode;
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined); // the answer is never read
    } catch (err) {
      const reason = timeout.aborted ? 'timeout' : reasonOf(err);
      throw deliveryError('NG_NOTIFY_WEBHOOK', `The webhook could not be reached (${reason}: ${messageOf(err)}).`, { reason, permanent: false, cause: err });
    }
    if (status >= 200 && status < 300) return;
    // 408 and 429 ask to come back later, 5xx may be temporary; other 4xx will not change by retrying
    const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
    throw deliveryError('NG_NOTIFY_WEBHOOK', `The webhook answered HTTP ${status}.`, { reason: 'http', status, permanent });
  }

  async close(): Promise<void> {
    await this.#agent.destroy(); // cuts a send in progress: it is retried from the queue after a restart
  }
}
