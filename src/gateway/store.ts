/**
 * Background and epoch jobs on disk, gearmand's persistent queue: each is
 * written (and synced) before its JOB_CREATED goes out, removed when it ends,
 * and read back when a gateway starts, so a job survives a SIGKILL of the
 * gateway that accepted it and runs at least once.
 *
 * LMDB (the `lmdb` package, prebuilt binaries, no compiler needed): writes made
 * in one event-loop turn commit as one transaction, so a burst of background
 * jobs costs one fsync per batch, not one per job.
 *
 * Beside each job, a small record of its attempts (how many ended without a
 * result, whether one is under way, the last error), so a gateway restart
 * counts them too; and the dead letters: jobs that used up their attempts or
 * failed for good, kept whole (payload included) until an operator retries or
 * drops them. Both live under keys starting with NUL, which no handle does.
 */
import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import type { Priority } from '../mesh/wait-queue.js';

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

/** What is known of a job's attempts (kept apart from the job: the payload is written once). */
export interface AttemptState {
  /** Attempts that ended without a result (a restart counts the one it cut off). */
  attempts: number;
  /** Epoch ms a worker took the current attempt; absent between attempts. */
  runningSince?: number;
  lastError?: string;
}

/** A stored job as read back, with its attempts. */
export type RestoredJob = StoredJob & Partial<AttemptState>;

/** A job that ran out of attempts or failed for good: kept for an operator. */
export interface DeadJob extends StoredJob {
  attempts: number;
  lastError: string;
  /** Epoch ms it was dead-lettered. */
  deadAt: number;
}

/** Key of the handle counter, so handles are never reused across restarts. */
const COUNTER_KEY = '\0counter';
const ATTEMPT_PREFIX = '\0attempt:';
const DEAD_PREFIX = '\0dead:';
/** Functions DIPS's own workers were seen serving (see NativeFunctions). */
const NATIVE_KEY = '\0native';
/** Keys that are not jobs (the counter, attempts, dead letters) all start with NUL; handles never do. */
const isMetaKey = (key: unknown) => typeof key === 'string' && key.startsWith('\0');

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

  /** A job ended: it leaves the store with its attempts. */
  remove(handle: string): Promise<boolean> {
    void this.db.remove(ATTEMPT_PREFIX + handle);
    return this.db.remove(handle);
  }

  /** Record a job's attempts (not awaited by callers: a lost write only loses a count, and a restart re-reads what made it). */
  setAttempts(handle: string, state: AttemptState): Promise<boolean> {
    return this.db.put(ATTEMPT_PREFIX + handle, state);
  }

  /**
   * Move a job to the dead letters. Single writes, in order, in one turn: they
   * commit together, and after any attempt write made before.
   */
  bury(dead: DeadJob): Promise<boolean> {
    const written = this.db.put(DEAD_PREFIX + dead.handle, dead);
    void this.remove(dead.handle);
    return written;
  }

  /** Every dead letter, oldest first; `unreadable` as for jobs(). */
  deadLetters(unreadable?: (key: string, problem: string) => void): DeadJob[] {
    const out: DeadJob[] = [];
    for (const key of this.db.getKeys()) {
      if (typeof key !== 'string' || !key.startsWith(DEAD_PREFIX)) continue;
      const value = this.read(key, unreadable);
      const problem = value === undefined ? undefined : jobProblem(value) ?? deadProblem(value);
      if (problem) unreadable?.(key, problem);
      else if (value !== undefined) out.push(value as DeadJob);
    }
    return out.sort((a, b) => a.deadAt - b.deadAt || a.seq - b.seq);
  }

  deadLetter(handle: string): DeadJob | undefined {
    const value = this.read(DEAD_PREFIX + handle);
    return value !== undefined && !jobProblem(value) && !deadProblem(value) ? (value as DeadJob) : undefined;
  }

  deadCount(): number {
    let n = 0;
    for (const key of this.db.getKeys()) if (typeof key === 'string' && key.startsWith(DEAD_PREFIX)) n++;
    return n;
  }

  /** A dead letter goes back to the jobs, with no attempts. Resolves once it is on disk. */
  async revive(job: StoredJob): Promise<void> {
    void this.db.remove(ATTEMPT_PREFIX + job.handle);
    void this.db.put(job.handle, job);
    await this.db.remove(DEAD_PREFIX + job.handle);
  }

  /** Drop a dead letter for good; false when there was none. */
  dropDead(handle: string): Promise<boolean> {
    return this.db.remove(DEAD_PREFIX + handle);
  }

  private read(key: string, unreadable?: (key: string, problem: string) => void): unknown {
    try {
      return this.db.get(key);
    } catch (err) {
      unreadable?.(key, `cannot decode it: ${(err as Error).message}`);
      return undefined;
    }
  }

  /**
   * Every stored job, oldest first. An entry that is not a job (a disk error, a
   * store written by something else) goes to `unreadable` with what is wrong,
   * and stays on disk for an operator: it must not keep the others from running.
   */
  jobs(unreadable?: (key: string, problem: string) => void): RestoredJob[] {
    const out: RestoredJob[] = [];
    for (const key of this.db.getKeys()) {
      if (isMetaKey(key)) continue;
      const value = this.read(String(key), unreadable);
      if (value === undefined) continue;
      const problem = jobProblem(value);
      if (problem) unreadable?.(String(key), problem);
      else out.push({ ...(value as StoredJob), ...this.attempts((value as StoredJob).handle) });
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  /** How many jobs are stored (not counting dead letters), without reading them. */
  jobCount(): number {
    let n = 0;
    for (const key of this.db.getKeys()) if (!isMetaKey(key)) n++;
    return n;
  }

  /** A job's attempt record; an unreadable one counts as none (the job still runs). */
  private attempts(handle: string): Partial<AttemptState> {
    const value = this.read(ATTEMPT_PREFIX + handle) as Partial<AttemptState> | undefined;
    if (!value || typeof value !== 'object' || !Number.isSafeInteger(value.attempts)) return {};
    return { attempts: value.attempts, runningSince: typeof value.runningSince === 'number' ? value.runningSince : undefined, lastError: typeof value.lastError === 'string' ? value.lastError : undefined };
  }

  /** The functions DIPS's own workers were seen serving, as last written. */
  nativeFunctions(): string[] {
    const value = this.read(NATIVE_KEY);
    return Array.isArray(value) ? value.filter((fn): fn is string => typeof fn === 'string') : [];
  }

  setNativeFunctions(fns: string[]): Promise<boolean> {
    return this.db.put(NATIVE_KEY, fns);
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

/** What makes a stored job not a dead letter, or undefined when it is one. */
function deadProblem(value: unknown): string | undefined {
  const v = value as Partial<Record<keyof DeadJob, unknown>>;
  if (!Number.isSafeInteger(v.attempts) || typeof v.lastError !== 'string' || typeof v.deadAt !== 'number') return 'a dead letter without attempts, last error or time';
  return undefined;
}
