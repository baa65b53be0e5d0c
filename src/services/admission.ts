/**
 * Admission control for one worker process: at most `concurrency` jobs run,
 * at most `maxQueued` wait behind them (default none: a job that finds every
 * slot taken is bounced to wait at its caller, where it keeps its place and
 * priority — see src/shared/room.ts).
 */
export class Admission {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];

  /** `onFree` runs each time a slot frees (after the next waiting task, if any, took it). */
  constructor(private readonly concurrency: number, private readonly maxQueued: number, private readonly onFree?: () => void) {}

  get inFlight(): number {
    return this.running;
  }
  get queued(): number {
    return this.waiting.length;
  }
  /** Jobs this worker could take now without refusing. */
  get free(): number {
    return Math.max(0, this.concurrency + this.maxQueued - this.running - this.waiting.length);
  }

  /** Run `task` when a slot frees; false (and nothing runs) when the slots and the queue are full. */
  tryRun(task: () => Promise<void>): boolean {
    if (this.running < this.concurrency) {
      this.start(task);
      return true;
    }
    if (this.waiting.length >= this.maxQueued) return false;
    this.waiting.push(() => this.start(task));
    return true;
  }

  /** Resolves once nothing runs or waits. */
  idle(): Promise<void> {
    if (this.running === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private start(task: () => Promise<void>): void {
    this.running++;
    task()
      .catch(() => undefined) // tasks report their own errors
      .finally(() => {
        this.running--;
        const next = this.waiting.shift();
        if (next) next();
        else if (this.running === 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          for (const resolve of waiters) resolve();
        }
        this.onFree?.();
      });
  }
}
