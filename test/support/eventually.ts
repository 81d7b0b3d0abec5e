/**
 * Polls `check` every `intervalMs` until it returns a value (not undefined), bounded by `timeoutMs`.
 * A throw from `check` counts as "not yet"; the timeout error names `what` and the last such error.
 *
 * @example
 *   await eventually('the A record', 10_000, () => (dnsA().length ? dnsA() : undefined));
 */
export async function eventually<T>(what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `; last error: ${last.message}` : last !== undefined ? `; last error: ${JSON.stringify(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
