/**
 * When to renew, and how long to wait after a failure.
 *
 * - Window: renew once `renewFractionLeft` (default 1/3) of the lifetime is left, or from a
 *   random moment inside the ACME Renewal Information window (RFC 9773 §4.2) when the CA gives one,
 *   whichever comes first.
 * - Failures: exponential back-off with full jitter, from `backoffMinMs` doubling to `backoffMaxMs`,
 *   never past the renewal deadline the certificate allows (the old certificate keeps serving).
 * - Clock: a certificate that is not yet valid, or already expired, by our clock right after it was
 *   issued means our clock is wrong (NG_CERT_CLOCK): TLS clients would see the same.
 */
import { NodegateError } from '../core/errors.ts';
import type { CertInfo } from './cert-info.ts';

/** The CA's renewal window (RFC 9773 §4.2 `suggestedWindow`). */
export interface RenewalWindow {
  start: Date;
  end: Date;
}

/** Tolerance for clock skew between us and the CA when checking a fresh certificate: 10 minutes. */
export const CLOCK_TOLERANCE_MS = 10 * 60 * 1000;

/**
 * The moment renewal should start for `info`. With an ARI window, a point inside it chosen by
 * `random` (RFC 9773 §4.2: uniformly at random), if earlier than the fraction rule.
 */
export function renewalTime(info: Pick<CertInfo, 'notBefore' | 'notAfter'>, fractionLeft: number, ari?: RenewalWindow, random: () => number = Math.random): number {
  const lifetime = info.notAfter.getTime() - info.notBefore.getTime();
  const byFraction = info.notAfter.getTime() - lifetime * fractionLeft;
  if (!ari || ari.end.getTime() < ari.start.getTime()) return byFraction;
  const inWindow = ari.start.getTime() + random() * (ari.end.getTime() - ari.start.getTime());
  return Math.min(byFraction, inWindow);
}

/** True when a renewal is due at `now`. */
export function renewalDue(info: Pick<CertInfo, 'notBefore' | 'notAfter'>, fractionLeft: number, now: number, ari?: RenewalWindow): boolean {
  return now >= renewalTime(info, fractionLeft, ari, () => 0);
}

/**
 * Delay before retry number `attempt` (1-based) after a failure: full jitter over
 * `min(maxMs, minMs * 2^(attempt-1))`, at least `minMs / 2`; a CA's Retry-After is respected.
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random, retryAfterMs?: number): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  const jittered = Math.max(minMs / 2, random() * ceiling);
  return Math.max(jittered, retryAfterMs ?? 0);
}

/**
 * Checks a certificate against our clock.
 * @throws NG_CERT_CLOCK when `now` is before notBefore (beyond tolerance) or after notAfter.
 */
export function checkClock(info: Pick<CertInfo, 'notBefore' | 'notAfter'>, now: number): void {
  if (now + CLOCK_TOLERANCE_MS < info.notBefore.getTime()) {
    throw new NodegateError('NG_CERT_CLOCK', `The certificate is valid from ${info.notBefore.toISOString()}, but this machine's clock says ${new Date(now).toISOString()}. The system clock is behind: enable time synchronisation (NTP, e.g. systemd-timesyncd).`, {
      details: { notBefore: info.notBefore.toISOString(), now: new Date(now).toISOString() },
    });
  }
  if (now > info.notAfter.getTime()) {
    throw new NodegateError('NG_CERT_CLOCK', `The certificate expired at ${info.notAfter.toISOString()} by this machine's clock (${new Date(now).toISOString()}). If it was just issued, the system clock is ahead: enable time synchronisation (NTP).`, {
      details: { notAfter: info.notAfter.toISOString(), now: new Date(now).toISOString() },
    });
  }
}
