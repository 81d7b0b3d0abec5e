/**
 * The e-mail channel: SMTP submission (RFC 6409) through nodemailer, TLS always — STARTTLS
 * (RFC 3207) required on the submission port, or implicit TLS (RFC 8314) on 465; with
 * `security: starttls` a server that offers no STARTTLS gets nothing (nodemailer `requireTLS`), so
 * the password and the message never cross the network in the clear. The server's certificate is
 * verified (system roots, plus `caFile` for a self-hosted server).
 *
 * nodemailer is loaded on the first send only (docs/decisions.md: it is 2.3 MB and 75 ms to load,
 * for a channel many nodes never configure). The password is read from its file at each send, so a
 * new one saved on the settings page applies at once.
 */
import { readFile } from 'node:fs/promises';
import { messageOf } from '../../core/errors.ts';
import type { EmailConfig } from './config.ts';
import type { RenderedMessage } from './message.ts';
import { deliveryError, type Channel, type DeliveryReason } from './channel.ts';

/** What nodemailer's errors carry (nodemailer/lib/smtp-connection: `code`, `responseCode`). */
interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
}

function classify(err: SmtpError): { reason: DeliveryReason; permanent: boolean } {
  const code = err.code ?? '';
  const reply = err.responseCode;
  if (code === 'EAUTH' || reply === 535 || reply === 534) return { reason: 'auth', permanent: true };
  if (code === 'ETLS' || /certificate|self.signed|TLS|SSL/i.test(err.message)) return { reason: 'tls', permanent: false };
  if (code === 'ETIMEDOUT' || /timeout/i.test(err.message)) return { reason: 'timeout', permanent: false };
  if (code === 'ECONNECTION' || code === 'EDNS' || code === 'ESOCKET' || /ECONNREFUSED|ECONNRESET|ENOTFOUND/.test(err.message)) return { reason: 'refused', permanent: false };
  // RFC 5321 §4.2.1: 5yz is a permanent refusal, 4yz a temporary one
  if (reply !== undefined && reply >= 500) return { reason: 'rejected', permanent: true };
  if (reply !== undefined && reply >= 400) return { reason: 'rejected', permanent: false };
  return { reason: 'other', permanent: false };
}

export class EmailChannel implements Channel {
  readonly name = 'email' as const;
  readonly #config: EmailConfig;
  readonly #timeoutMs: number;

  constructor(config: EmailConfig, options: { timeoutMs: number }) {
    this.#config = config;
    this.#timeoutMs = options.timeoutMs;
  }

  async send(message: RenderedMessage, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const c = this.#config;
    let pass: string | undefined;
    let ca: string | undefined;
    try {
      if (c.passwordFile) pass = (await readFile(c.passwordFile, 'utf8')).split(/\r?\n/)[0] ?? '';
      if (c.caFile) ca = await readFile(c.caFile, 'utf8');
    } catch (err) {
      throw deliveryError('NG_NOTIFY_SMTP', `Could not read the SMTP password or CA file: ${messageOf(err)}.`, { reason: 'other', permanent: false, cause: err });
    }
    const { createTransport } = (await import('nodemailer')).default;
    const transport = createTransport({
      host: c.host,
      port: c.port,
      secure: c.security === 'tls',
      requireTLS: c.security === 'starttls',
      ...(c.user !== undefined ? { auth: { user: c.user, pass: pass ?? '' } } : {}),
      tls: { minVersion: 'TLSv1.2', ...(ca ? { ca } : {}) },
      connectionTimeout: this.#timeoutMs,
      greetingTimeout: this.#timeoutMs,
      socketTimeout: this.#timeoutMs,
      // nothing in our messages asks nodemailer to read files or URLs; make sure it never does
      disableFileAccess: true,
      disableUrlAccess: true,
    });
    const onAbort = () => transport.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await transport.sendMail({
        from: c.from,
        to: c.to,
        subject: message.title,
        text: `${message.body}\n\n-- \nnodegate · ${message.node}\n`,
        headers: { 'X-Nodegate-Event': message.kind },
      });
    } catch (err) {
      const { reason, permanent } = classify(err as SmtpError);
      const reply = (err as SmtpError).responseCode;
      throw deliveryError('NG_NOTIFY_SMTP', `The mail server did not take the message (${reason}${reply ? `, reply ${reply}` : ''}).`, { reason, permanent, ...(reply ? { status: reply } : {}), cause: err });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      transport.close();
    }
  }

  close(): Promise<void> {
    return Promise.resolve(); // one connection per message, closed after it
  }
}
