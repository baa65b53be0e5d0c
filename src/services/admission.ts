/**
 * Admission control for one worker process: at most `concurrency` jobs run.
 * Beyond that a job is taken to wait inside the worker only while the wait it
 * faces is shorter than `prefetchMs` — the typical run time of the jobs
 * running and already waiting here, spread over the slots — and never more
 * than `maxQueued`. Everything else is refused at once and waits at its
 * caller, in priority order, until room frees (see src/shared/room.ts).
 *
 * Why the budget: handing a freed slot its next job costs one round trip
 * through NATS (about 1 ms here). For jobs much shorter than that (echo, tiny
 * images) the round trip would dominate, so a worker keeps about that much work
 * in hand; behind real image work (tens of ms) or work of unknown length it
 * keeps none, so a small job never waits inside a worker behind a big one
 * while a slot is free elsewhere.
 */
export class Admission {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** Typical run time of the jobs running and waiting here whose cost is known. */
  private heldKnownMs = 0;
  /** Jobs running or waiting here whose run time is not known yet. */
  private heldUnknown = 0;
  private idleWaiters: Array<() => void> = [];

  /** `onFree` runs each time a slot frees (after the next waiting task, if any, took it). */
  constructor(
    private readonly concurrency: number,
    private readonly maxQueued: number,
    private readonly prefetchMs: number,
    private readonly onFree?: () => void,
  ) {}

  get inFlight(): number {
    return this.running;
  }
  get queued(): number {
    return this.waiting.length;
  }
  /** Slots free now (what a room announcement offers). */
  get free(): number {
    return Math.max(0, this.concurrency - this.running - this.waiting.length);
  }

  /**
   * Run `task` now, or after the jobs held here when its wait stays within the
   * budget; false (and nothing runs) otherwise. `costMs`: its typical run time
   * (undefined when not known yet).
   */
  tryRun(task: () => Promise<void>, costMs?: number): boolean {
    const known = costMs !== undefined && Number.isFinite(costMs);
    if (this.running < this.concurrency) {
      this.hold(costMs, known, +1);
      this.start(task, costMs, known);
      return true;
    }
    const wait = this.heldUnknown > 0 || !known ? Infinity : (this.heldKnownMs + costMs) / this.concurrency;
    if (this.waiting.length >= this.maxQueued || wait > this.prefetchMs) return false;
    this.hold(costMs, known, +1);
    this.waiting.push(() => this.start(task, costMs, known));
    return true;
  }

  /**
   * How many more jobs of typical cost `costMs` this worker would take now,
   * counting the slot of a job about to end (its reply says so): free slots,
   * plus what fits in the wait budget for jobs of known cost.
   */
  roomFor(costMs: number | undefined, ending: number | undefined): number {
    const endingKnown = ending !== undefined && Number.isFinite(ending);
    const free = Math.max(0, this.concurrency - this.running - this.waiting.length) + 1;
    const known = costMs !== undefined && Number.isFinite(costMs) && costMs > 0;
    if (!known || this.heldUnknown > (endingKnown ? 0 : 1)) return free;
    const budget = this.prefetchMs * this.concurrency - (this.heldKnownMs - (endingKnown ? ending : 0)) - free * costMs;
    return free + Math.max(0, Math.min(this.maxQueued - this.waiting.length, Math.floor(budget / costMs)));
  }

  /** Resolves once nothing runs or waits. */
  idle(): Promise<void> {
    if (this.running === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private hold(costMs: number | undefined, known: boolean, sign: 1 | -1): void {
    if (known) this.heldKnownMs += sign * costMs!;
    else this.heldUnknown += sign;
  }

  private start(task: () => Promise<void>, costMs: number | undefined, known: boolean): void {
    this.running++;
    // one settle handler either way (tasks report their own errors): no catch-then-finally pair of promises per job
    const ended = () => {
      this.running--;
      this.hold(costMs, known, -1);
      const next = this.waiting.shift();
      if (next) next();
      else if (this.running === 0) {
        this.heldKnownMs = 0; // no float drift across millions of jobs
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
      this.onFree?.();
    };
    task().then(ended, ended);
  }
}
