/**
 * The DNS-01 solver port (RFC 8555 §8.4): publish and withdraw one TXT value under
 * `_acme-challenge.<name>`. Two verbs, like certmagic's `RecordAppender`/`RecordDeleter`.
 *
 * Contract for adapters:
 * - `present(name, value)` ADDS `value` to the TXT RRset of `_acme-challenge.<name>` and resolves once
 *   the authoritative primary has accepted it. It must not remove other values: an order for
 *   `<id>.<zone>` and `*.<id>.<zone>` puts two values under the same name at once.
 * - `cleanup(name, value)` removes exactly that value. Removing a value that is not there is not an
 *   error (cleanup runs in `finally` blocks and may follow a failed `present`).
 * - `name` is the identifier without the `*.` prefix and without a trailing dot ("abc.example.org").
 * - Both are safe to call concurrently for different values; both honour `signal` and fail with a
 *   coded NodegateError (never a bare Error).
 * - Visibility at the authoritative servers is NOT the adapter's job: certs/propagation.ts checks it.
 */
export interface Dns01Solver {
  /** A short name for logs and status ("registry", "rfc2136"). */
  readonly kind: string;
  present(name: string, value: string, options?: { signal?: AbortSignal }): Promise<void>;
  cleanup(name: string, value: string, options?: { signal?: AbortSignal }): Promise<void>;
}

/** The owner name of the challenge record for `name` (a wildcard shares its base name's record). */
export function challengeRecordName(name: string): string {
  return `_acme-challenge.${name.replace(/^\*\./, '').replace(/\.$/, '')}`;
}
