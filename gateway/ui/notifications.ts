/**
 * The notification settings page (`/_nodegate/notifications`): where notifications go (webhook in
 * ntfy, Gotify or JSON form; e-mail over SMTP), their language, which events, and a test button.
 * Plain forms, no script. Saving needs the owner password (a stolen session cookie alone must not
 * redirect the owner's alerts, or silence them); the test is throttled by the service. Secrets are
 * never shown back: the webhook URL appears redacted, the SMTP password not at all, and a field
 * left empty keeps what is saved.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isNodegateError } from '../../core/errors.ts';
import type { OwnerAuth, OwnerSession } from '../auth/owner.ts';
import { html, type SafeHtml } from './html.ts';
import { CATALOGS, LANGUAGES, formatDate, t, type Lang, type MessageKey } from './i18n.ts';
import { csrfField, layout, noticeBlock, type Notice, type PageContext } from './pages.ts';
import { NOTIFY_EVENT_KINDS, type NotificationSettingsView, type OwnerNotifications, type WebhookFormat } from './types.ts';

const FORMATS: readonly WebhookFormat[] = ['ntfy', 'gotify', 'json'];

export interface TestLine {
  channel: 'webhook' | 'email';
  ok: boolean;
  reason?: string;
}

function selected(on: boolean): SafeHtml {
  return on ? html` selected` : html``;
}
function checked(on: boolean): SafeHtml {
  return on ? html` checked` : html``;
}

export function notificationsPage(ctx: PageContext, view: NotificationSettingsView, opts: { notice?: Notice; tests?: TestLine[] }): string {
  const { lang, prefix } = ctx;
  const reasonKey = (r: string | undefined) => `notify.reason.${['timeout', 'refused', 'tls', 'auth', 'http', 'rejected'].includes(r ?? '') ? r : 'other'}` as MessageKey;
  const tests = opts.tests?.length
    ? html`<ul class="notice notice-${opts.tests.every((x) => x.ok) ? 'ok' : 'error'}" role="status" id="test-results">${opts.tests.map(
        (x) =>
          html`<li>${
            x.ok
              ? t(lang, 'notify.testOk', { channel: t(lang, `notify.channel.${x.channel}`) })
              : t(lang, 'notify.testFailed', { channel: t(lang, `notify.channel.${x.channel}`), reason: t(lang, reasonKey(x.reason)) })
          }</li>`,
      )}</ul>`
    : '';
  const w = view.webhook;
  const e = view.email;
  const status = html`${view.pending > 0 ? html`<p>${t(lang, 'notify.pending', { count: view.pending })}</p>` : ''}${
    view.lastSentAt ? html`<p>${t(lang, 'notify.lastSent', { date: formatDate(lang, view.lastSentAt) })}</p>` : ''
  }`;
  const body = html`<p>${t(lang, 'notify.intro')}</p>
${noticeBlock(opts.notice, ctx)}${tests}
<form method="post" action="${prefix}/notifications" class="card">
${csrfField(ctx)}
<label for="language">${t(lang, 'notify.language')}</label>
<select id="language" name="language">${LANGUAGES.map((l: Lang) => html`<option value="${l}" lang="${l}"${selected(view.language === l)}>${CATALOGS[l]['lang.name']}</option>`)}</select>
<fieldset><legend>${t(lang, 'notify.webhook.heading')}</legend>
<label for="webhook_url">${t(lang, 'notify.webhook.url')}</label>
<input id="webhook_url" name="webhook_url" type="url" inputmode="url" autocomplete="off" maxlength="2048" aria-describedby="webhook_help">
<p class="hint" id="webhook_help">${w ? html`${t(lang, 'notify.webhook.saved', { url: w.redactedUrl })} ` : ''}${t(lang, 'notify.webhook.help')}</p>
<label for="webhook_format">${t(lang, 'notify.webhook.format')}</label>
<select id="webhook_format" name="webhook_format">${FORMATS.map((f) => html`<option value="${f}"${selected((w?.format ?? 'ntfy') === f)}>${t(lang, `notify.format.${f}`)}</option>`)}</select>
${w ? html`<div class="choice"><input type="checkbox" id="webhook_remove" name="webhook_remove" value="1"><label for="webhook_remove">${t(lang, 'notify.webhook.remove')}</label></div>` : ''}
</fieldset>
<fieldset><legend>${t(lang, 'notify.email.heading')}</legend>
<label for="smtp_host">${t(lang, 'notify.email.host')}</label>
<input id="smtp_host" name="smtp_host" type="text" autocomplete="off" maxlength="253" value="${e?.host ?? ''}">
<label for="smtp_port">${t(lang, 'notify.email.port')}</label>
<input id="smtp_port" name="smtp_port" type="number" min="1" max="65535" value="${e?.port ?? 587}">
<label for="smtp_security">${t(lang, 'notify.email.security')}</label>
<select id="smtp_security" name="smtp_security"><option value="starttls"${selected((e?.security ?? 'starttls') === 'starttls')}>${t(lang, 'notify.security.starttls')}</option><option value="tls"${selected(e?.security === 'tls')}>${t(lang, 'notify.security.tls')}</option></select>
<label for="smtp_user">${t(lang, 'notify.email.user')}</label>
<input id="smtp_user" name="smtp_user" type="text" autocomplete="off" maxlength="254" value="${e?.user ?? ''}">
<label for="smtp_password">${t(lang, 'notify.email.password')}</label>
<input id="smtp_password" name="smtp_password" type="password" autocomplete="new-password" maxlength="255"${e?.hasPassword ? html` aria-describedby="smtp_password_help"` : ''}>
${e?.hasPassword ? html`<p class="hint" id="smtp_password_help">${t(lang, 'notify.email.passwordSaved')}</p>` : ''}
<label for="email_from">${t(lang, 'notify.email.from')}</label>
<input id="email_from" name="email_from" type="email" autocomplete="off" maxlength="254" value="${e?.from ?? ''}">
<label for="email_to">${t(lang, 'notify.email.to')}</label>
<input id="email_to" name="email_to" type="text" autocomplete="off" maxlength="1300" value="${e?.to.join(', ') ?? ''}">
${e ? html`<div class="choice"><input type="checkbox" id="email_remove" name="email_remove" value="1"><label for="email_remove">${t(lang, 'notify.email.remove')}</label></div>` : ''}
</fieldset>
<fieldset><legend>${t(lang, 'notify.events')}</legend>
${NOTIFY_EVENT_KINDS.map(
  (k) => html`<div class="choice"><input type="checkbox" id="event-${k}" name="event-${k}" value="1"${checked(!view.muted.includes(k))}><label for="event-${k}">${t(lang, `notify.event.${k}`)}</label></div>`,
)}
</fieldset>
<label for="owner_password">${t(lang, 'notify.ownerPassword')}</label>
<input id="owner_password" name="owner_password" type="password" autocomplete="current-password" required maxlength="1024">
<button type="submit">${t(lang, 'notify.save')}</button>
</form>
<section class="card" aria-labelledby="test-h"><h2 id="test-h">${t(lang, 'notify.test')}</h2>
${w || e ? status : html`<p>${t(lang, 'notify.noChannel')}</p>`}
<form method="post" action="${prefix}/notifications/test">${csrfField(ctx)}<button type="submit" class="secondary">${t(lang, 'notify.test')}</button></form>
</section>`;
  return layout(ctx, t(lang, 'notify.title'), body);
}

/** What the routes borrow from the owner-pages plugin. */
export interface NotificationRouteHelpers {
  prefix: string;
  auth: OwnerAuth;
  notifications: OwnerNotifications;
  langOf(req: FastifyRequest): Lang;
  ctxOf(req: FastifyRequest, path: string, session?: OwnerSession): PageContext;
  sendHtml(reply: FastifyReply, status: number, page: string): FastifyReply;
  requireSession(req: FastifyRequest, reply: FastifyReply): OwnerSession | undefined;
  requireForm(req: FastifyRequest, reply: FastifyReply): { session: OwnerSession; form: Record<string, string> } | undefined;
  doneNotice(req: FastifyRequest): Notice | undefined;
  /** Sets the error-code header of a refused request. */
  codeHeader(reply: FastifyReply, code: string): void;
}

const FIELD_KEYS: Record<string, MessageKey> = { webhook: 'notify.badWebhook', email: 'notify.badEmail', torOnly: 'notify.torOnly' };

/** GET /notifications, POST /notifications (save), POST /notifications/test. */
export function notificationRoutes(app: FastifyInstance, h: NotificationRouteHelpers): void {
  const path = `${h.prefix}/notifications`;
  const render = (req: FastifyRequest, reply: FastifyReply, session: OwnerSession, status: number, opts: { notice?: Notice; tests?: TestLine[] }) =>
    h.sendHtml(reply, status, notificationsPage(h.ctxOf(req, path, session), h.notifications.view(), opts));
  const one = (v: string | undefined) => v ?? '';

  app.get('/notifications', (req, reply) => {
    const session = h.requireSession(req, reply);
    if (!session) return reply;
    const notice = h.doneNotice(req);
    return render(req, reply, session, 200, notice ? { notice } : {});
  });

  app.post('/notifications', async (req, reply) => {
    const ok = h.requireForm(req, reply);
    if (!ok) return reply;
    const lang = h.langOf(req);
    const f = ok.form;
    const ownerPassword = one(f.owner_password);
    delete f.owner_password;
    try {
      h.auth.checkThrottle(req.ip);
    } catch (err) {
      if (!isNodegateError(err, 'NG_GW_LOGIN_THROTTLED')) throw err;
      h.codeHeader(reply, err.code);
      return render(req, reply, ok.session, 429, { notice: { kind: 'error', text: t(lang, 'notify.wrongPassword'), code: err.code } });
    }
    if (!(await h.auth.verifyPassword(ownerPassword))) {
      h.auth.recordFailure(req.ip); // the same throttle as the login: this field is a password guess too
      h.codeHeader(reply, 'NG_GW_LOGIN_FAILED');
      return render(req, reply, ok.session, 403, { notice: { kind: 'error', text: t(lang, 'notify.wrongPassword'), code: 'NG_GW_LOGIN_FAILED' } });
    }
    const events = NOTIFY_EVENT_KINDS.filter((k) => f[`event-${k}`] === '1');
    try {
      await h.notifications.save({
        language: one(f.language),
        webhook: { remove: one(f.webhook_remove) === '1', url: one(f.webhook_url), format: one(f.webhook_format) },
        email: {
          remove: one(f.email_remove) === '1',
          host: one(f.smtp_host),
          port: one(f.smtp_port),
          security: one(f.smtp_security),
          user: one(f.smtp_user),
          password: one(f.smtp_password),
          from: one(f.email_from),
          to: one(f.email_to),
        },
        enabled: events,
      });
    } catch (err) {
      if (!isNodegateError(err, 'NG_CONFIG_INVALID')) throw err;
      h.codeHeader(reply, err.code);
      const key = FIELD_KEYS[String(err.details?.field)] ?? 'error.badRequest';
      return render(req, reply, ok.session, 400, { notice: { kind: 'error', text: t(lang, key), code: err.code } });
    }
    return reply.redirect(`${path}?done=notify-saved`, 303);
  });

  app.post('/notifications/test', async (req, reply) => {
    const ok = h.requireForm(req, reply);
    if (!ok) return reply;
    const lang = h.langOf(req);
    try {
      const results = await h.notifications.sendTest();
      return render(req, reply, ok.session, 200, { tests: results });
    } catch (err) {
      if (isNodegateError(err, 'NG_NOTIFY_NO_CHANNEL')) {
        h.codeHeader(reply, err.code);
        return render(req, reply, ok.session, 409, { notice: { kind: 'error', text: t(lang, 'notify.noChannel'), code: err.code } });
      }
      if (isNodegateError(err, 'NG_NOTIFY_RATE_LIMITED')) {
        h.codeHeader(reply, err.code);
        const seconds = Number(err.details?.retryAfterSeconds ?? 0);
        if (seconds > 0) reply.header('retry-after', String(seconds));
        return render(req, reply, ok.session, 429, { notice: { kind: 'error', text: seconds > 0 ? t(lang, 'notify.tooSoon', { seconds }) : t(lang, 'notify.capReached'), code: err.code } });
      }
      throw err;
    }
  });
}
