/**
 * Jobs waiting for a worker, as gearmand keeps them per function: three lanes
 * (HIGH, NORMAL, LOW), first in first out within each. A job sent to a worker
 * and bounced comes back to its place by submission number, not to the end.
 */
export type Priority = 'high' | 'normal' | 'low';
export const PRIORITIES: readonly Priority[] = ['high', 'normal', 'low'];
/** A priority's place in gearmand's order: lower goes first. */
export const PRIORITY_RANK: Readonly<Record<Priority, number>> = { high: 0, normal: 1, low: 2 };

export interface Waiting {
  /** Submission order, increasing. */
  readonly seq: number;
  readonly priority: Priority;
}

class Lane<T extends Waiting> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    const item = this.items[this.head];
    if (item === undefined) return undefined;
    this.items[this.head++] = undefined as unknown as T;
    // compact now and then, so a long-lived lane neither leaks nor copies on every shift
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Insert by seq (new jobs go to the end at once; returning ones are found by binary search). */
  insert(item: T): void {
    const last = this.items[this.items.length - 1];
    if (this.length === 0 || (last && last.seq < item.seq)) {
      this.items.push(item);
      return;
    }
    let lo = this.head;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.items[mid].seq < item.seq) lo = mid + 1;
      else hi = mid;
    }
    this.items.splice(lo, 0, item);
  }

  remove(item: T): boolean {
    const at = this.items.indexOf(item, this.head);
    if (at < 0) return false;
    this.items.splice(at, 1);
    return true;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i];
  }
}

export class WaitQueue<T extends Waiting> {
  private readonly lanes = { high: new Lane<T>(), normal: new Lane<T>(), low: new Lane<T>() };

  get length(): number {
    return this.lanes.high.length + this.lanes.normal.length + this.lanes.low.length;
  }

  lengthOf(priority: Priority): number {
    return this.lanes[priority].length;
  }

  insert(item: T): void {
    this.lanes[item.priority].insert(item);
  }

  /** The next job to run: HIGH before NORMAL before LOW, oldest first. */
  shift(): T | undefined {
    for (const p of PRIORITIES) {
      const item = this.lanes[p].shift();
      if (item) return item;
    }
    return undefined;
  }

  peek(): T | undefined {
    for (const p of PRIORITIES) {
      const item = this.lanes[p].peek();
      if (item) return item;
    }
    return undefined;
  }

  remove(item: T): boolean {
    return this.lanes[item.priority].remove(item);
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (const p of PRIORITIES) yield* this.lanes[p];
  }
}
