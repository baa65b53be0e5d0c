/**
 * Work gathered over one turn of the event loop and done together in its
 * check phase (setImmediate), in the order it was added.
 *
 * Why: nats.js writes its outbound buffer to the socket in a microtask queued
 * by the first publish after a write. Messages published at different
 * microtask depths (jobs finishing one after another, callers sending their
 * next job as each answer lands) each get a write of their own, and a write
 * to loopback costs as much CPU as a small job (it wakes nats-server). Work
 * added during one turn and published from one callback leaves in one write.
 * The check phase runs right after the poll phase that read the messages, so
 * nothing waits on a timer.
 */
export class TurnBatch<T> {
  private due: T[] = [];

  /** `order`: how items gathered in one turn are ordered before they run (a stable sort; none: as added). */
  constructor(private readonly run: (item: T) => void, private readonly order?: (a: T, b: T) => number) {}

  add(item: T): void {
    if (this.due.push(item) === 1) setImmediate(this.flush);
  }

  /** Do the work gathered so far now (before closing what it writes to). */
  readonly flush = (): void => {
    const due = this.due;
    this.due = [];
    if (this.order && due.length > 1) due.sort(this.order);
    for (const item of due) this.run(item);
  };
}
