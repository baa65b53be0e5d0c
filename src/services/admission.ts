import { WaitQueue, type Waiting } from '../mesh/wait-queue.js';

/**
 * Admission control for one worker process: at most `concurrency` jobs run.
 * Beyond that a job is taken to wait inside the worker only while the wait it
 * faces is shorter than `prefetchMs` — the typical run time of the jobs
 * running and already waiting here, spread over the slots — and never more
 * than `maxQueued`. Everything else is refused at once and waits at its
 * caller, in priority order, until room frees (see src/mesh/room.ts).
 *
 * A plain caller's job (one that did not send `Dips-Accept: no-room`) cannot
 * be refused that way: it is held here instead, in priority order, until a
 * slot frees or its deadline passes — bounded by `maxHeldBytes` — and held
 * jobs go before any new job a bouncing caller offers.
 *
 * Why the budget: handing a freed slot its next job costs one round trip
 * through NATS (about 1 ms here). For jobs much shorter than that (echo, tiny
 * images) the round trip would dominate, so a worker keeps about that much work
 * in hand; behind real image work (tens of ms) or work of unknown length it
 * keeps none, so a small job never waits inside a worker behind a big one
 * while a slot is free elsewhere.
 */
/** A plain caller's job waiting here for a slot. */
export interface HeldJob extends Waiting {
  readonly bytes: number;
  readonly costMs?: number;
  readonly run: () => Promise<void>;
}

export class Admission {
  private running = 0;
  /**
   * Slots offered to callers that can take a job elsewhere: all of them, or
   * fewer on a guest host whose own processes need the CPU (setShare). Jobs
   * already taken, and plain callers' jobs (which cannot move), still use every slot.
   */
  private limit: number;
  private readonly held = new WaitQueue<HeldJob>();
  private heldBytes = 0;
  private readonly waiting: Array<() => void> = [];
  /** Typical run time of the jobs running and waiting here whose cost is known. */
  private takenKnownMs = 0;
  /** Jobs running or waiting here whose run time is not known yet. */
  private takenUnknown = 0;
  private idleWaiters: Array<() => void> = [];

  /** `onFree` runs each time a slot frees (after the next waiting task, if any, took it). */
  constructor(
    private readonly concurrency: number,
    private readonly maxQueued: number,
    private readonly prefetchMs: number,
    private readonly maxHeldBytes: number,
    private readonly onFree?: () => void,
  ) {
    this.limit = concurrency;
  }

  /** Offer `share` (0-1) of the slots; true when that is more than before (room to announce). */
  setShare(share: number): boolean {
    const before = this.limit;
    this.limit = Math.max(0, Math.min(this.concurrency, Math.round(this.concurrency * share)));
    return this.limit > before;
  }

  get slotsOffered(): number {
    return this.limit;
  }

  get inFlight(): number {
    return this.running;
  }
  /** Jobs taken but not running yet: prefetched ones and plain callers' held ones. */
  get queued(): number {
    return this.waiting.length + this.held.length;
  }
  get bytesHeld(): number {
    return this.heldBytes;
  }
  /** Slots free now (what a room announcement offers). */
  get free(): number {
    return Math.max(0, this.limit - this.running - this.waiting.length - this.held.length);
  }

  /**
   * Run `task` now, or after the jobs held here when its wait stays within the
   * budget; false (and nothing runs) otherwise. `costMs`: its typical run time
   * (undefined when not known yet).
   */
  tryRun(task: () => Promise<void>, costMs?: number): boolean {
    const known = costMs !== undefined && Number.isFinite(costMs);
    if (this.running < this.limit) {
      this.addCost(costMs, known, +1);
      this.start(task, costMs, known);
      return true;
    }
    // plain callers' held jobs came first
    if (this.held.length > 0 || this.limit === 0) return false;
    const wait = this.takenUnknown > 0 || !known ? Infinity : (this.takenKnownMs + costMs) / this.limit;
    if (this.waiting.length >= this.maxQueued || wait > this.prefetchMs) return false;
    this.addCost(costMs, known, +1);
    this.waiting.push(() => this.start(task, costMs, known));
    return true;
  }

  /**
   * Keep a plain caller's job until a slot frees (call after tryRun refused
   * it); false, and nothing is kept, when it would pass maxHeldBytes.
   */
  hold(job: HeldJob): boolean {
    if (this.heldBytes + job.bytes > this.maxHeldBytes) return false;
    if (this.running < this.concurrency && this.waiting.length === 0 && this.held.length === 0) {
      // a slot kept from callers that can move (setShare) still serves one that cannot
      this.startHeldJob(job);
      return true;
    }
    this.heldBytes += job.bytes;
    this.held.insert(job);
    return true;
  }

  /** Take a held job back before it ran (its deadline passed); false when it already started. */
  release(job: HeldJob): boolean {
    if (!this.held.remove(job)) return false;
    this.heldBytes -= job.bytes;
    this.settleIfIdle();
    return true;
  }

  /**
   * How many more jobs of typical cost `costMs` this worker would take now,
   * counting the slot of a job about to end (its reply says so): free slots,
   * plus what fits in the wait budget for jobs of known cost.
   */
  roomFor(costMs: number | undefined, ending: number | undefined): number {
    if (this.limit === 0) return 0;
    const endingKnown = ending !== undefined && Number.isFinite(ending);
    // held jobs take the slot of the job about to end first
    const free = Math.max(0, this.limit - this.running - this.waiting.length - this.held.length + 1);
    if (free === 0) return 0;
    const known = costMs !== undefined && Number.isFinite(costMs) && costMs > 0;
    if (!known || this.takenUnknown > (endingKnown ? 0 : 1)) return free;
    const budget = this.prefetchMs * this.limit - (this.takenKnownMs - (endingKnown ? ending : 0)) - free * costMs;
    return free + Math.max(0, Math.min(this.maxQueued - this.waiting.length, Math.floor(budget / costMs)));
  }

  /** Resolves once nothing runs or waits. */
  idle(): Promise<void> {
    if (this.running === 0 && this.waiting.length === 0 && this.held.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private addCost(costMs: number | undefined, known: boolean, sign: 1 | -1): void {
    if (known) this.takenKnownMs += sign * costMs!;
    else this.takenUnknown += sign;
  }

  private start(task: () => Promise<void>, costMs: number | undefined, known: boolean): void {
    this.running++;
    // one settle handler either way (tasks report their own errors): no catch-then-finally pair of promises per job
    const ended = () => {
      this.running--;
      this.addCost(costMs, known, -1);
      const next = this.waiting.shift();
      if (next) next();
      else this.startHeld();
      this.settleIfIdle();
      this.onFree?.();
    };
    task().then(ended, ended);
  }

  private startHeld(): void {
    const job = this.held.shift();
    if (!job) return;
    this.heldBytes -= job.bytes;
    this.startHeldJob(job);
  }

  private startHeldJob(job: HeldJob): void {
    const known = job.costMs !== undefined && Number.isFinite(job.costMs);
    this.addCost(job.costMs, known, +1);
    this.start(job.run, job.costMs, known);
  }

  private settleIfIdle(): void {
    if (this.running !== 0 || this.waiting.length !== 0 || this.held.length !== 0) return;
    this.takenKnownMs = 0; // no float drift across millions of jobs
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
