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
import { mkdirSync } from 'node:fs';
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
    mkdirSync(dir, { recursive: true });
    return new JobStore(open({ path: dir, encoding: 'msgpack', compression: false }));
  }

  /** Durably store a job (and the counter its handle came from); resolves once it is on disk. */
  async add(job: StoredJob, counter: number): Promise<void> {
    void this.db.put(COUNTER_KEY, counter);
    await this.db.put(job.handle, job);
  }

  remove(handle: string): Promise<boolean> {
    return this.db.remove(handle);
  }

  /** Every stored job, oldest first. */
  jobs(): StoredJob[] {
    const out: StoredJob[] = [];
    for (const { key, value } of this.db.getRange()) if (key !== COUNTER_KEY) out.push(value as StoredJob);
    return out.sort((a, b) => a.seq - b.seq);
  }

  get counter(): number {
    return Number(this.db.get(COUNTER_KEY)) || 0;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
