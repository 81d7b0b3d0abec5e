/**
 * The epoch a NAT-PMP or PCP router puts in every reply (RFC 6886 §3.6, RFC 6887 §8.5): seconds since
 * it started. Neither protocol can look a mapping up, so an epoch that does not keep pace with the
 * client's own clock is how their `check()` learns that the router restarted and lost its mappings.
 * The two protocols test it differently:
 * - NAT-PMP (RFC 6886 §3.6): a reboot when the new epoch is below the last one plus 7/8 of the time
 *   elapsed, less 2 s.
 * - PCP (RFC 6887 §8.5): invalid when the epoch went back by more than 1 s, or when either elapsed
 *   time (the client's, the router's) falls short of the other by more than 2 s plus 1/16 of it, so
 *   an epoch that runs too fast (a router restarted with another clock) counts as well.
 */
export type EpochRule = 'natpmp' | 'pcp';

export class RouterEpoch {
  private last: { value: number; at: number } | undefined;
  private rebootSeen = false;

  constructor(
    private readonly now: () => number,
    private readonly rule: EpochRule,
  ) {}

  /** Records the epoch of a reply; a reply that shows a restart is remembered until {@link takeRebootSeen}. */
  observe(epoch: number): void {
    const now = this.now();
    const prev = this.last;
    this.last = { value: epoch, at: now };
    if (prev && !epochValid(this.rule, prev.value, epoch, (now - prev.at) / 1000)) this.rebootSeen = true;
  }

  /** Whether a reply since the last call showed a reboot (mappings lost). Reset on read. */
  takeRebootSeen(): boolean {
    const seen = this.rebootSeen;
    this.rebootSeen = false;
    return seen;
  }
}

/** The protocol's test of an epoch `current` seen `clientDelta` seconds after `previous`. */
export function epochValid(rule: EpochRule, previous: number, current: number, clientDelta: number): boolean {
  if (rule === 'natpmp') return current + 2 >= previous + (clientDelta * 7) / 8;
  if (current + 1 < previous) return false; // back by more than a second (reordering allows one)
  const serverDelta = current - previous;
  return !(clientDelta + 2 < serverDelta - serverDelta / 16 || serverDelta + 2 < clientDelta - clientDelta / 16);
}
