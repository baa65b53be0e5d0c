/**
 * Background and epoch jobs on disk, gearmand's persistent queue: each is
 * written (and synced) before its JOB_CREATED goes out, removed when it ends,
 * and read back when a gateway starts, so a job survives a SIGKILL of the
 * gateway that accepted it and runs at least once.
 *
 * LMDB (the `lmdb` package, prebuilt binaries, no compiler needed): writes made
 * in one event-loop turn commit as one transaction, so a burst of background
 * jobs costs one fsync per batch, not one per job.
 */
import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import type { Priority } from '../shared/wait-queue.js';

export interface StoredJob {
  /** The number in its handle: submission order. */
  seq: number;
  handle: string;
  fn: string;
  unique: string;
  data: Uint8Array;
  priority: Priority;
  /** Epoch seconds an epoch job runs at. */
  runAt?: number;
  createdAt: number;
}

/** Key of the handle counter, so handles are never reused across restarts. */
const COUNTER_KEY = '\0counter';

export class JobStore {
  private constructor(private readonly db: RootDatabase) {}

  static open(dir: string): JobStore {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const db = open({ path: dir, encoding: 'msgpack', compression: false });
    // job payloads are callers' data: readable by the gateway's user only, whatever the umask
    chmodSync(dir, 0o700);
    for (const file of readdirSync(dir)) chmodSync(path.join(dir, file), 0o600);
    return new JobStore(db);
  }

  /** Durably store a job (and the counter its handle came from); resolves once it is on disk. */
  async add(job: StoredJob, counter: number): Promise<void> {
    void this.db.put(COUNTER_KEY, counter);
    await this.db.put(job.handle, job);
  }

  remove(handle: string): Promise<boolean> {
    return this.db.remove(handle);
  }

  /**
   * Every stored job, oldest first. An entry that is not a job (a disk error, a
   * store written by something else) goes to `unreadable` with what is wrong,
   * and stays on disk for an operator: it must not keep the others from running.
   */
  jobs(unreadable?: (key: string, problem: string) => void): StoredJob[] {
    const out: StoredJob[] = [];
    for (const key of this.db.getKeys()) {
      if (key === COUNTER_KEY) continue;
      let value: unknown;
      try {
        value = this.db.get(key);
      } catch (err) {
        unreadable?.(String(key), `cannot decode it: ${(err as Error).message}`);
        continue;
      }
      const problem = jobProblem(value);
      if (problem) unreadable?.(String(key), problem);
      else out.push(value as StoredJob);
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  get counter(): number {
    return Number(this.db.get(COUNTER_KEY)) || 0;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/** What makes a stored value not a job, or undefined when it is one. */
function jobProblem(value: unknown): string | undefined {
  if (!value || typeof value !== 'object') return 'not a record';
  const v = value as Partial<Record<keyof StoredJob, unknown>>;
  if (!Number.isSafeInteger(v.seq)) return 'no sequence number';
  if (typeof v.handle !== 'string' || typeof v.fn !== 'string' || !v.fn || typeof v.unique !== 'string') return 'no handle, function or unique id';
  if (!(v.data instanceof Uint8Array)) return 'no payload';
  if (v.priority !== 'high' && v.priority !== 'normal' && v.priority !== 'low') return `bad priority ${JSON.stringify(v.priority)}`;
  if (v.runAt !== undefined && !Number.isSafeInteger(v.runAt)) return 'bad run time';
  if (typeof v.createdAt !== 'number') return 'no creation time';
  return undefined;
}
