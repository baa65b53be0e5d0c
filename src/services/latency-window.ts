/**
 * Job durations of a recent stretch of time, for the p50 and p99 that status
 * reports: a job that ended before the window no longer counts, so an old slow
 * job does not haunt the figures. Kept as a ring of (end time, duration) pairs
 * capped in count: under a heavy load the window holds the newest MAX_SAMPLES
 * jobs, and memory stays two fixed arrays per function.
 */

/** How many jobs a window keeps at most (2 × 16 KiB per function). */
export const MAX_SAMPLES = 2048;

export class LatencyWindow {
  private readonly endedAt = new Float64Array(MAX_SAMPLES);
  private readonly durations = new Float64Array(MAX_SAMPLES);
  /** Samples ever added: the next slot is added % MAX_SAMPLES. */
  private added = 0;

  constructor(readonly windowMs: number) {}

  add(ms: number, now = Date.now()): void {
    const slot = this.added++ % MAX_SAMPLES;
    this.endedAt[slot] = now;
    this.durations[slot] = ms;
  }

  /** Durations of the jobs that ended within the window (none: no job did). */
  recent(now = Date.now()): number[] {
    const since = now - this.windowMs;
    const out: number[] = [];
    for (let i = 0, n = Math.min(this.added, MAX_SAMPLES); i < n; i++) if (this.endedAt[i] > since) out.push(this.durations[i]);
    return out;
  }
}
