/**
 * The epoch a NAT-PMP or PCP router puts in every reply (RFC 6886 §3.6, RFC 6887 §8.5): seconds since
 * it started. Neither protocol can look a mapping up, so an epoch that went back is how their
 * `check()` learns that the router rebooted and lost its mappings.
 */
export class RouterEpoch {
  private last: { value: number; at: number } | undefined;
  private rebootSeen = false;

  constructor(private readonly now: () => number) {}

  /**
   * Records the epoch of a reply. It shows a reboot when it is less than the last one plus 7/8 of the
   * time elapsed, less 2 s (the test of RFC 6886 §3.6).
   */
  observe(epoch: number): void {
    const now = this.now();
    const prev = this.last;
    this.last = { value: epoch, at: now };
    if (prev && epoch + 2 < prev.value + ((now - prev.at) / 1000) * 7 / 8) this.rebootSeen = true;
  }

  /** Whether a reply since the last call showed a reboot (mappings lost). Reset on read. */
  takeRebootSeen(): boolean {
    const seen = this.rebootSeen;
    this.rebootSeen = false;
    return seen;
  }
}
