/**
 * The port every notification channel implements (webhook.ts, email.ts): send one message, or fail
 * with a coded error that says why and whether trying again can help.
 *
 * Contract: `send` resolves once the receiver accepted the message (HTTP 2xx, SMTP 250 after DATA);
 * it is bounded by the channel's own timeout and by `signal`; it never retries by itself (the
 * outbox does, with back-off). Failures are NodegateErrors with `details: DeliveryDetails`.
 */
import { NodegateError, type ErrorCode } from '../../core/errors.ts';
import type { RenderedMessage } from './message.ts';

export type ChannelName = 'webhook' | 'email';
export const CHANNEL_NAMES: readonly ChannelName[] = ['webhook', 'email'];

/** Why a delivery failed, as the settings page words it (never the receiver's own text). */
export type DeliveryReason = 'timeout' | 'refused' | 'tls' | 'auth' | 'http' | 'rejected' | 'other';

export interface DeliveryDetails {
  reason: DeliveryReason;
  /** Trying again cannot help (HTTP 4xx, SMTP 5xx, a refused login): the delivery is dropped. */
  permanent: boolean;
  /** The HTTP status or SMTP reply code, when there was one. */
  status?: number;
}

export interface Channel {
  readonly name: ChannelName;
  send(message: RenderedMessage, signal?: AbortSignal): Promise<void>;
  /** Closes connections; a send in progress fails. */
  close(): Promise<void>;
}

export function deliveryError(code: ErrorCode, message: string, details: DeliveryDetails & { cause?: unknown }): NodegateError {
  const { cause, ...rest } = details;
  return new NodegateError(code, message, { details: { ...rest }, ...(cause !== undefined ? { cause } : {}) });
}

/** The details of a delivery failure (anything not coded counts as temporary, reason "other"). */
export function deliveryDetails(err: unknown): DeliveryDetails {
  const d = err instanceof NodegateError ? (err.details as Partial<DeliveryDetails> | undefined) : undefined;
  return { reason: d?.reason ?? 'other', permanent: d?.permanent ?? false, ...(typeof d?.status === 'number' ? { status: d.status } : {}) };
}
