/**
 * The notification service as the owner pages see it (gateway/ui/types.ts OwnerNotifications):
 * a view without secrets, a save that validates the whole form before anything is written, the
 * test button, and the login hook.
 */
import { NodegateError, isNodegateError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/atomic-file.ts';
import type { NotificationSettingsInput, NotificationSettingsView, OwnerNotifications } from '../ui/types.ts';
import { EVENT_KINDS, NOTIFY_LANGUAGES, WEBHOOK_FORMATS, parseNotifyConfig, redactUrl, saveNotifyConfig, smtpPasswordPath, type NotifyConfig } from './config.ts';
import type { NotificationService } from './service.ts';

/** The SMTP password as typed is at most this long (RFC 4616 allows 255 octets for PLAIN's parts). */
const MAX_SMTP_PASSWORD_CHARS = 255;

function invalid(field: 'webhook' | 'email' | 'torOnly', message: string, cause?: unknown): NodegateError {
  return new NodegateError('NG_CONFIG_INVALID', message, { status: 400, details: { field }, ...(cause ? { cause } : {}) });
}

/** The new "notify" section from the form and the current config (what the form leaves empty is kept). */
function sectionFrom(input: NotificationSettingsInput, current: NotifyConfig, passwordFile: string | undefined): Record<string, unknown> {
  const { webhook: w, email: e } = input;
  const language = (NOTIFY_LANGUAGES as readonly string[]).includes(input.language) ? input.language : current.language;
  const format = (WEBHOOK_FORMATS as readonly string[]).includes(w.format) ? w.format : 'json';
  const webhook = w.remove ? undefined : w.url.trim() !== '' ? { url: w.url.trim(), format } : current.webhook ? { url: current.webhook.url, format } : undefined;
  let email: Record<string, unknown> | undefined;
  if (!e.remove && e.host.trim() !== '') {
    const user = e.user.trim();
    email = {
      host: e.host.trim(),
      port: /^\d{1,5}$/.test(e.port.trim()) ? Number(e.port.trim()) : e.port.trim() === '' ? 587 : -1,
      security: e.security === 'tls' ? 'tls' : 'starttls',
      ...(user !== '' ? { user } : {}),
      ...(user !== '' && passwordFile ? { passwordFile } : {}),
      ...(current.email?.caFile ? { caFile: current.email.caFile } : {}),
      from: e.from.trim(),
      to: e.to
        .split(/[,;\s]+/)
        .map((a) => a.trim())
        .filter((a) => a !== ''),
    };
  }
  const enabled = new Set(input.enabled);
  return {
    ...current,
    language,
    webhook,
    email,
    muted: EVENT_KINDS.filter((k) => !enabled.has(k)),
  };
}

export function ownerNotifications(service: NotificationService, options: { dataDir: string; torOnly: boolean }): OwnerNotifications {
  return {
    view(): NotificationSettingsView {
      const c = service.config();
      const s = service.status();
      return {
        language: c.language,
        ...(c.webhook ? { webhook: { format: c.webhook.format, redactedUrl: redactUrl(c.webhook.url) } } : {}),
        ...(c.email
          ? { email: { host: c.email.host, port: c.email.port, security: c.email.security, ...(c.email.user ? { user: c.email.user } : {}), hasPassword: c.email.passwordFile !== undefined, from: c.email.from, to: c.email.to } }
          : {}),
        muted: c.muted,
        pending: s.pending,
        ...(s.lastSentAt ? { lastSentAt: s.lastSentAt } : {}),
      };
    },

    async save(input) {
      const current = service.config();
      const password = input.email.password;
      if (password.length > MAX_SMTP_PASSWORD_CHARS || /[\r\n]/.test(password)) throw invalid('email', 'The SMTP password is too long or has a line break.');
      const newPasswordFile = password !== '' ? smtpPasswordPath(options.dataDir) : current.email?.passwordFile;
      const section = sectionFrom(input, current, newPasswordFile);
      // Validate each part alone first, to say which one is wrong.
      for (const field of ['webhook', 'email'] as const) {
        try {
          parseNotifyConfig({ [field]: section[field] }, `the ${field} settings`, { torOnly: options.torOnly });
        } catch (err) {
          if (!isNodegateError(err, 'NG_CONFIG_INVALID')) throw err;
          throw invalid(err.details?.problem === 'tor-only' ? 'torOnly' : field, err.message, err);
        }
      }
      if (password !== '') await writeFileAtomic(smtpPasswordPath(options.dataDir), password + '\n', { mode: 0o600 });
      const saved = await saveNotifyConfig(options.dataDir, section, { torOnly: options.torOnly });
      await service.reconfigure(saved);
    },

    sendTest: () => service.sendTest(),
    ownerLoggedIn: (address) => service.ownerLoggedIn(address),
  };
}
