/**
 * The gateway's job table: handles, coalescing by unique id, priorities,
 * background and scheduled (epoch) jobs kept on disk, status, and dispatch of
 * each job as one NATS request (which waits in the requester while every
 * worker is full). It knows nothing of Gearman packets: it tells each job's
 * listeners what happened (JobNotice) and the packet handlers speak Gearman.
 */
import { createHash } from 'node:crypto';
import { headers as natsHeaders, type Msg } from 'nats';
import { sniffEncoding } from '../mesh/codec/index.js';
import { ErrorCode, errorMessage } from '../shared/errors.js';
import { Header } from '../mesh/headers.js';
import type { Logger } from '../shared/log.js';
import type { Outcome } from '../shared/metrics.js';
import { toJobEvent } from '../mesh/events.js';
import type { CallHandle, Requester } from '../mesh/requester.js';
import { CallError, cancelledError } from '../mesh/call-error.js';
import { TurnBatch } from '../mesh/turn-batch.js';
import { callTrace, endSpan, logFields, type Span } from '../shared/tracing.js';
import { PRIORITY_RANK, type Priority } from '../mesh/wait-queue.js';
import { afterRestart, backoffMs, DEFAULT_ATTEMPTS, DEFAULT_RUN_TIMEOUT_MS, isPermanent } from './retry.js';
import type { DeadJob, JobStore, StoredJob } from './store.js';

export type { Priority };

/** What happened to a job, in the order it happens. */
export type JobNotice =
  | { kind: 'assigned' }
  | { kind: 'status'; numerator: number; denominator: number }
  | { kind: 'data' | 'warning'; data: Uint8Array }
  | { kind: 'done'; data: Uint8Array }
  /** `message` is absent for a plain failure (a Gearman worker's WORK_FAIL). */
  | { kind: 'failed'; message?: string };

/** Someone waiting for a job's events (a client connection). */
export interface JobListener {
  readonly id: number;
  jobNotice(job: Job, event: JobNotice): void;
}

/** A job: what is stored of a background one, and what lives only here. */
export interface Job extends StoredJob {
  background: boolean;
  /**
   * One entry per submission waiting for it: a connection that submitted the
   * same unique id twice is told twice, as gearmand does (clients pair each
   * result with one of their submissions).
   */
  listeners: JobListener[];
  /** waiting: for its time or for a worker with room; running: a worker holds it. */
  state: 'waiting' | 'running';
  numerator: number;
  denominator: number;
  timer?: NodeJS.Timeout;
  /** Its NATS call, once dispatched. */
  call?: CallHandle;
  /** Withdrawn before or while it ran (its client went away, an administrator cancelled it). */
  withdrawn: boolean;
  /** Attempts that ended without a result (a background job has gateway.backgroundAttempts of them). */
  attempts: number;
  /** Epoch ms a worker took the current attempt of a background job (stored: a restart counts that attempt). */
  runningSince?: number;
  lastError?: string;
  /** Its submission's span (gearman SUBMIT_JOB…) while tracing is on: the parent of its NATS requests. */
  span?: Span;
  /**
   * The turn of the event loop that read it. Jobs read together are handed
   * out highest priority first, a higher one's disk write included: a LOW job
   * stored quickly must not reach a waiting worker before the HIGH one read
   * beside it (gearmand's worker grabs the highest priority that has arrived).
   */
  pass: number;
}

/** What a submission asks for. */
export type JobSpec = Pick<StoredJob, 'fn' | 'unique' | 'data' | 'priority' | 'runAt'> & { background: boolean; span?: Span };

export interface JobsMetrics {
  finished(fn: string, outcome: Outcome, seconds: number, background: boolean): void;
}

export interface JobsOptions {
  metrics?: JobsMetrics;
  /** May a lost request for this function be sent again? (From service discovery.) */
  isIdempotent?: (fn: string) => boolean;
  /** How long a foreground job's caller waits, queueing included. */
  timeoutMs: number;
  /** Longest a background job waits for a worker (0: until it runs). */
  backgroundMaxAgeMs: number;
  /** Attempts a background job gets before it goes to the dead letters (default 3). */
  backgroundAttempts?: number;
  /** Longest one attempt of a background job may run on a worker, whatever the worker says (default 10 minutes). */
  backgroundRunTimeoutMs?: number;
  retries: number;
  /** Payload bytes of all jobs held here at once. */
  maxBytes: number;
  /** Host (and port) in job handles. */
  handleHost: string;
  /** Numbers of this gateway's handles start after it (see handleBase). */
  handleBase?: number;
  store?: JobStore;
  log: Logger;
}

/** A job refused at submission: the Gearman caller gets QUEUE_ERROR with this message. */
export class JobLimitError extends Error {}


/** Longest a scheduled job may wait (setTimeout's limit, about 24.8 days). */
const MAX_SCHEDULE_MS = 2 ** 31 - 1;
/** libgearman keeps 64-byte handles (63 and a NUL) and cannot match a longer one. */
export const MAX_HANDLE_BYTES = 63;
/** Room kept in a handle for the job number (2^53 has 16 digits). */
const NUMBER_DIGITS = 16;

/** gearmand's handle prefix `H:<host>:`, the host cut so that every handle fits libgearman's 63 bytes. */
export function handlePrefix(host: string): string {
  const room = MAX_HANDLE_BYTES - 'H::'.length - NUMBER_DIGITS;
  return `H:${Buffer.from(host, 'latin1').subarray(0, room).toString('latin1')}:`;
}

/**
 * Job numbers of the gateway on `port` start past port × 10^9: gearmand's handle
 * form `H:<host>:<number>` has no room for the port, and two gateways on one
 * host must never hand out the same handle (a billion jobs each before ranges meet).
 */
export const HANDLE_RANGE = 1e9;
export function handleBase(port: number): number {
  return port * HANDLE_RANGE;
}

export class Jobs {
  private readonly byHandle = new Map<string, Job>();
  private readonly byUnique = new Map<string, Job>();
  private readonly prefix: string;
  private counter: number;
  private bytes = 0;
  /** gearmand's maxqueue: per function, the most jobs waiting at each priority (absent: no limit). */
  private readonly maxQueue = new Map<string, Record<Priority, number>>();
  /**
   * Jobs read in one pass reach NATS in one socket write (see TurnBatch), highest
   * priority first: as gearmand, whose waiting worker grabs the highest priority
   * of what has arrived, not the first packet read.
   */
  private readonly ready = new TurnBatch<Job>((job) => this.runOrHold(job), (a, b) => PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || a.seq - b.seq);
  /**
   * Background jobs being written to disk, and the jobs read after them that
   * wait for those writes: a background job is handed out only once stored, and
   * the ones that arrived with it must not overtake it (gearmand queues every
   * job in arrival order within its priority).
   */
  private readonly storing = new Map<number, Pick<Job, 'priority' | 'pass'>>();
  private heldForStore: Job[] = [];
  /** The turn of the event loop jobs are read in (see Job.pass). */
  private pass = 0;
  private passOpen = false;
  /** Set while the gateway stops: background jobs cut off by it stay on disk for the next start. */
  private stopping = false;

  constructor(private readonly requester: Requester, private readonly options: JobsOptions) {
    this.prefix = handlePrefix(options.handleHost);
    this.counter = Math.max(options.store?.counter ?? 0, options.handleBase ?? 0);
  }

  get size(): number {
    return this.byHandle.size;
  }

  all(): IterableIterator<Job> {
    return this.byHandle.values();
  }

  get(handle: string): Job | undefined {
    return this.byHandle.get(handle);
  }

  getByUnique(unique: string): Job | undefined {
    for (const job of this.byUnique.values()) if (job.unique === unique) return job;
    return undefined;
  }

  /** `maxqueue fn [all | high normal low]`; no sizes (or 0) lifts the limit, as in gearmand. */
  setMaxQueue(fn: string, sizes: number[]): void {
    if (sizes.length === 0 || sizes.every((n) => n === 0)) this.maxQueue.delete(fn);
    else this.maxQueue.set(fn, { high: sizes[0], normal: sizes[1] ?? sizes[0], low: sizes[2] ?? sizes[0] });
  }

  /** Jobs of `fn` at `priority` not yet held by a worker. */
  private waitingCount(fn: string, priority: Priority): number {
    let n = 0;
    for (const job of this.byHandle.values()) if (job.fn === fn && job.priority === priority && job.state === 'waiting') n++;
    return n;
  }

  /**
   * Accept a job (or join the live one with the same function and unique id).
   * `listener` is null for background jobs. Returns the accepted job — for a
   * background job kept on disk, a promise of it, settled once it is written —
   * so JOB_CREATED may be sent. Throws (or rejects) JobLimitError when it
   * cannot be accepted. Foreground jobs, most of the traffic, make no promise.
   */
  submit(spec: JobSpec, listener: JobListener | null): Job | Promise<Job> {
    // gearmand: "-" asks for a unique id made from the data; an empty one never coalesces
    const unique = spec.unique === '-' ? createHash('sha1').update(spec.data).digest('hex') : spec.unique;
    const existing = unique ? this.byUnique.get(uniqueKey(spec.fn, unique)) : undefined;
    if (existing) {
      // joined a live job: the job's own span (the first submission's) covers its run
      endSpan(spec.span, 'JOINED', undefined, spec.span && { 'dips.job_id': existing.handle });
      if (listener) existing.listeners.push(listener);
      if (spec.background && !existing.background && this.options.store) return this.keepForBackground(existing);
      return existing;
    }
    this.checkLimits(spec);
    const delayMs = spec.runAt ? spec.runAt * 1000 - Date.now() : 0;
    if (delayMs > MAX_SCHEDULE_MS) throw new JobLimitError(`cannot schedule a job more than ${Math.floor(MAX_SCHEDULE_MS / 86_400_000)} days ahead`);
    const seq = ++this.counter;
    const job = this.track({ seq, handle: `${this.prefix}${seq}`, fn: spec.fn, unique, data: spec.data, priority: spec.priority, runAt: spec.runAt, createdAt: Date.now() }, spec.background, listener);
    if (spec.span) {
      job.span = spec.span;
      job.span.setAttribute('dips.job_id', job.handle);
    }
    if (!job.background || !this.options.store) {
      this.schedule(job);
      return job;
    }
    this.storing.set(job.seq, job);
    return this.options.store.add(stored(job), this.counter).then(
      () => {
        this.schedule(job);
        this.storeSettled(job);
        return job;
      },
      (err: unknown) => {
        this.forget(job);
        this.storeSettled(job);
        throw new JobLimitError(`cannot store the background job: ${errorMessage(err)}`);
      },
    );
  }

  /**
   * A background submission shares a live foreground job (same function and
   * unique id): the job becomes a background one too, stored before its
   * JOB_CREATED, so it still runs when the foreground client goes away.
   */
  private keepForBackground(job: Job): Promise<Job> {
    job.background = true;
    return this.options.store!.add(stored(job), this.counter).then(
      () => job,
      (err: unknown) => {
        job.background = false;
        throw new JobLimitError(`cannot store the background job: ${errorMessage(err)}`);
      },
    );
  }

  /**
   * The gateway is stopping: what fails from now on because of it is not a
   * job's failure. Attempts it cuts off are stored as not started, so the next
   * start does not count them (only a gateway's death does). Resolves once written.
   */
  stop(): Promise<unknown> {
    this.stopping = true;
    const writes: Promise<unknown>[] = [];
    for (const job of this.byHandle.values()) {
      clearTimeout(job.timer);
      if (job.runningSince === undefined) continue;
      job.runningSince = undefined;
      writes.push(this.saveAttempts(job));
    }
    return Promise.all(writes);
  }

  /** Background jobs stored by an earlier run of this gateway: they run again (at least once). */
  restore(): number {
    const stored = this.options.store?.jobs((key, problem) => this.options.log.error({ key, problem }, 'a stored background job cannot be read; it stays in the store and the others run')) ?? [];
    for (const s of stored) {
      if (this.byHandle.has(s.handle)) continue;
      this.counter = Math.max(this.counter, s.seq);
      const job = this.track({ ...s, data: Buffer.from(s.data) }, true, null);
      const { attempts, lastError } = afterRestart(s);
      job.attempts = attempts;
      job.lastError = lastError;
      if (attempts >= this.budget) {
        this.deadLetter(job, `its ${attempts} attempts are used up (gateway.backgroundAttempts), the last cut off by a restart`);
        continue;
      }
      if (s.runningSince !== undefined) void this.saveAttempts(job);
      this.schedule(job);
    }
    return stored.length;
  }

  /** Attempts a background job gets. */
  private get budget(): number {
    return this.options.backgroundAttempts ?? DEFAULT_ATTEMPTS;
  }

  private checkLimits(spec: JobSpec): void {
    if (this.bytes + spec.data.length > this.options.maxBytes) {
      throw new JobLimitError(`Queue full: ${this.bytes} bytes of jobs held by this gateway, limit ${this.options.maxBytes} bytes (queue.maxWaitingBytes)`);
    }
    const max = this.maxQueue.get(spec.fn)?.[spec.priority];
    if (max && this.waitingCount(spec.fn, spec.priority) >= max) {
      throw new JobLimitError(`Job queue is full: ${max} ${spec.priority} jobs of ${spec.fn} already wait (maxqueue)`);
    }
  }

  private track(s: StoredJob, background: boolean, listener: JobListener | null): Job {
    // one literal, always the same fields in the same order: every job has one hidden class
    const job: Job = {
      seq: s.seq,
      handle: s.handle,
      fn: s.fn,
      unique: s.unique,
      data: s.data,
      priority: s.priority,
      runAt: s.runAt,
      createdAt: s.createdAt,
      background,
      listeners: listener ? [listener] : [],
      state: 'waiting',
      numerator: 0,
      denominator: 0,
      timer: undefined,
      call: undefined,
      withdrawn: false,
      attempts: 0,
      runningSince: undefined,
      lastError: undefined,
      span: undefined,
      pass: this.currentPass(),
    };
    this.byHandle.set(job.handle, job);
    if (job.unique) this.byUnique.set(uniqueKey(job.fn, job.unique), job);
    this.bytes += job.data.length;
    return job;
  }

  private schedule(job: Job): void {
    const delayMs = job.runAt ? job.runAt * 1000 - Date.now() : 0;
    if (delayMs > 0) {
      job.timer = setTimeout(() => void this.run(job), delayMs);
      return;
    }
    this.ready.add(job);
  }

  private runOrHold(job: Job): void {
    if (this.waitsForStore(job)) this.heldForStore.push(job);
    else this.run(job);
  }

  /**
   * Whether a background job that arrived before `job`, or one of higher priority
   * read in the same turn, is still being written (only those: a steady stream of
   * writes must not hold the rest).
   */
  private waitsForStore(job: Job): boolean {
    for (const [seq, other] of this.storing) {
      if (seq < job.seq || (other.pass === job.pass && PRIORITY_RANK[other.priority] < PRIORITY_RANK[job.priority])) return true;
    }
    return false;
  }

  /** This turn's number: it moves on once the turn's jobs are all read. */
  private currentPass(): number {
    if (!this.passOpen) {
      this.passOpen = true;
      setImmediate(() => {
        this.pass++;
        this.passOpen = false;
      });
    }
    return this.pass;
  }

  /** A background job's disk write ended (either way): what waited for it (and for no earlier write) runs, in order. */
  private storeSettled(job: Job): void {
    this.storing.delete(job.seq);
    const held = this.heldForStore;
    this.heldForStore = [];
    for (const waiting of held) {
      if (this.waitsForStore(waiting)) this.heldForStore.push(waiting);
      else this.ready.add(waiting);
    }
  }

  /** A client went away: it stops listening; a foreground job nobody waits for is withdrawn. */
  detach(listener: JobListener): void {
    for (const job of this.byHandle.values()) {
      if (!job.listeners.includes(listener)) continue;
      job.listeners = job.listeners.filter((l) => l !== listener);
      if (!job.background && job.listeners.length === 0) this.withdraw(job, 'its client went away');
    }
  }

  /** gearmand's `cancel job`: the job never runs (or its result is dropped); whoever waits gets WORK_FAIL. */
  cancel(handle: string): boolean {
    const job = this.byHandle.get(handle);
    if (!job) return false;
    this.withdraw(job, 'cancelled by an administrator');
    return true;
  }

  private withdraw(job: Job, why: string): void {
    clearTimeout(job.timer);
    if (job.timer) {
      // waiting for its time or its next attempt, no call under way: nothing will settle it
      this.recordOutcome(job, 'CANCELLED');
      this.end(job, { kind: 'failed' });
      this.options.log.info({ handle: job.handle, fn: job.fn }, `scheduled job withdrawn: ${why}`);
    }
    job.withdrawn = true;
    job.call?.cancel();
  }

  private forget(job: Job): void {
    if (!this.untrack(job)) return;
    if (job.background) void this.options.store?.remove(job.handle).catch((err) => this.options.log.error({ err, handle: job.handle }, 'cannot remove a finished job from the store'));
  }

  /** Out of the table (not the store); false when it was not in it. */
  private untrack(job: Job): boolean {
    if (!this.byHandle.delete(job.handle)) return false;
    if (job.unique) this.byUnique.delete(uniqueKey(job.fn, job.unique));
    this.bytes -= job.data.length;
    return true;
  }

  private run(job: Job): void {
    if (!this.byHandle.has(job.handle)) return;
    job.timer = undefined;
    if (job.withdrawn) {
      this.settle(job, cancelledError(job.fn));
      return;
    }
    try {
      job.call = this.dispatch(job);
    } catch (err) {
      this.options.log.error({ err, handle: job.handle, fn: job.fn }, 'job failed in the gateway');
      this.settle(job, new CallError(ErrorCode.internal, `${job.fn}: ${errorMessage(err)}`));
    }
  }

  /** One NATS call for the job (it waits in the requester while every worker is full). */
  private dispatch(job: Job): CallHandle {
    const headers = natsHeaders();
    headers.set(Header.encoding, sniffEncoding(job.data));
    headers.set(Header.jobId, job.handle);
    if (job.unique) headers.set(Header.unique, job.unique);
    return this.requester.start(
      job.fn,
      job.data,
      {
        timeoutMs: job.background ? this.options.backgroundMaxAgeMs || null : this.options.timeoutMs,
        // with no overall deadline the requester ends an attempt after this, even while its worker says "working"
        runTimeoutMs: job.background ? this.options.backgroundRunTimeoutMs ?? DEFAULT_RUN_TIMEOUT_MS : this.options.timeoutMs,
        runTimeoutName: 'queue.backgroundRunTimeoutMs',
        headers,
        priority: job.priority,
        retries: this.options.retries,
        idempotent: this.options.isIdempotent?.(job.fn) ?? true,
        trace: job.span && callTrace(job.fn, job.span),
        onAssigned: () => {
          job.state = 'running';
          if (job.background) {
            // on disk before it can matter: a gateway that dies now counts this attempt when it starts again
            job.runningSince = Date.now();
            void this.saveAttempts(job);
          }
          this.tell(job, { kind: 'assigned' });
        },
        onEvent: (msg) => this.relayEvent(job, msg),
      },
      (err, reply) => this.settle(job, err, reply),
    );
  }

  /** The job's call ended: its listeners hear the result or the failure. */
  private settle(job: Job, err: CallError | undefined, reply?: Msg): void {
    if (!this.byHandle.has(job.handle)) return; // dropped or dead-lettered by an operator while its call waited
    if (!err) {
      this.recordOutcome(job, 'ok');
      this.end(job, { kind: 'done', data: reply!.data });
      return;
    }
    if (this.stopping && job.background) return; // stays on disk; runs when a gateway starts on this data directory
    if (job.background && !job.withdrawn && err.code !== ErrorCode.cancelled) {
      this.attemptFailed(job, err);
      return;
    }
    this.recordOutcome(job, err.kind);
    if (job.background) this.options.log.error({ handle: job.handle, fn: job.fn, message: err.message }, 'background job failed');
    else this.options.log.debug({ handle: job.handle, fn: job.fn, message: err.message, ...logFields(job.span) }, 'job failed');
    this.end(job, failureEvent(err));
  }

  /**
   * One attempt of a background job failed: it runs again after a pause while
   * its budget lasts, unless the failure is the job's own (a bad payload fails
   * every time); else it goes to the dead letters.
   */
  private attemptFailed(job: Job, err: CallError): void {
    job.attempts++;
    job.lastError = err.message;
    job.runningSince = undefined;
    job.call = undefined;
    job.state = 'waiting';
    job.numerator = job.denominator = 0;
    const event = failureEvent(err);
    if (isPermanent(err.code)) return this.deadLetter(job, `a failure no other attempt can mend (code ${err.code})`, event, err.kind);
    if (job.attempts >= this.budget) return this.deadLetter(job, `its ${job.attempts} attempts are used up (gateway.backgroundAttempts)`, event, err.kind);
    // foreground submissions that joined it waited for this attempt, as for a job of their own: they hear how it ended
    this.tell(job, event);
    job.listeners = [];
    const delayMs = backoffMs(job.attempts);
    this.options.log.warn({ handle: job.handle, fn: job.fn, attempt: job.attempts, attempts: this.budget, message: err.message, retryInMs: delayMs }, 'background job attempt failed; it runs again');
    void this.saveAttempts(job);
    job.timer = setTimeout(() => this.run(job), delayMs);
  }

  /**
   * The job gets no other attempt: it leaves the table and the queue for the
   * dead letters, kept whole with its last error until an operator retries or
   * drops it (dipsctl dead-letter, the dashboard). Whoever waits hears the failure.
   */
  private deadLetter(job: Job, why: string, event: JobNotice = { kind: 'failed' }, outcome: Outcome = 'INTERNAL'): void {
    this.recordOutcome(job, outcome);
    this.options.log.error({ handle: job.handle, fn: job.fn, attempts: job.attempts, message: job.lastError, deadLetter: why }, 'background job failed');
    this.untrack(job);
    const dead: DeadJob = { ...stored(job), attempts: job.attempts, lastError: job.lastError ?? '', deadAt: Date.now() };
    void this.options.store?.bury(dead).catch((err) => this.options.log.error({ err, handle: job.handle }, 'cannot move a failed job to the dead letters; it stays stored and runs again at the next start'));
    this.tell(job, event);
    endSpan(job.span, 'DEAD_LETTER', new Error(`${job.lastError ?? 'failed'} (dead letter: ${why})`));
  }

  /** Store a background job's attempts (a failed write is logged: it costs a count, never the job). */
  private saveAttempts(job: Job): Promise<unknown> {
    const store = this.options.store;
    if (!store || !job.background) return Promise.resolve();
    return store
      .setAttempts(job.handle, { attempts: job.attempts, runningSince: job.runningSince, lastError: job.lastError })
      .catch((err) => this.options.log.error({ err, handle: job.handle }, "cannot store a background job's attempts"));
  }

  /** The dead letters of this gateway's store, oldest first. */
  deadLetters(): DeadJob[] {
    return this.options.store?.deadLetters((key, problem) => this.options.log.error({ key, problem }, 'a dead letter cannot be read; it stays in the store')) ?? [];
  }

  deadCount(): number {
    return this.options.store?.deadCount() ?? 0;
  }

  /**
   * An operator's retry: the dead letter goes back to the queue, same handle,
   * with a fresh budget. Undefined when there is no such dead letter; throws
   * JobLimitError when it cannot go back now (the byte limit, a live job with
   * the same unique id, a store error).
   */
  async retryDead(handle: string): Promise<Job | undefined> {
    const store = this.options.store;
    const dead = store?.deadLetter(handle);
    if (!store || !dead) return undefined;
    if (this.byHandle.has(handle)) throw new JobLimitError(`${handle} is already back in the queue`);
    // two jobs under one unique id would each forget the other's entry when they end
    const live = dead.unique ? this.byUnique.get(uniqueKey(dead.fn, dead.unique)) : undefined;
    if (live) throw new JobLimitError(`${live.handle}, a live job of ${dead.fn}, has the same unique id; retry ${handle} once it ends`);
    this.checkLimits({ fn: dead.fn, unique: dead.unique, data: dead.data, priority: dead.priority, runAt: dead.runAt, background: true });
    const job = this.track({ seq: dead.seq, handle, fn: dead.fn, unique: dead.unique, data: Buffer.from(dead.data), priority: dead.priority, runAt: dead.runAt, createdAt: dead.createdAt }, true, null);
    try {
      await store.revive(stored(job));
    } catch (err) {
      this.untrack(job);
      throw new JobLimitError(`cannot store ${handle} back among the jobs: ${errorMessage(err)}`);
    }
    this.options.log.warn({ handle, fn: job.fn, attempts: dead.attempts, lastError: dead.lastError }, 'dead letter retried by an operator: it runs again with a fresh budget');
    if (!this.stopping) this.schedule(job);
    return job;
  }

  /** An operator's drop: the dead letter is gone for good. Undefined when there was none. */
  async dropDead(handle: string): Promise<DeadJob | undefined> {
    const store = this.options.store;
    const dead = store?.deadLetter(handle);
    if (!store || !dead) return undefined;
    await store.dropDead(handle);
    this.options.log.warn({ handle, fn: dead.fn, attempts: dead.attempts, lastError: dead.lastError }, 'dead letter dropped by an operator');
    return dead;
  }

  /** Stored background jobs no worker holds now (waiting for one, for their time or for their next attempt), oldest first. */
  waitingStored(): Job[] {
    if (!this.options.store) return [];
    const out: Job[] = [];
    for (const job of this.byHandle.values()) if (job.background && job.state === 'waiting') out.push(job);
    return out.sort((a, b) => a.seq - b.seq);
  }

  /** The waiting stored job an operator names; throws JobLimitError when a worker holds it now (only a waiting job may be changed). */
  private waitingStoredJob(handle: string): Job | undefined {
    const job = this.byHandle.get(handle);
    if (!job?.background || !this.options.store) return undefined;
    if (job.state !== 'waiting') throw new JobLimitError(`${handle} (${job.fn}) is running on a worker now; only a waiting job can be changed`);
    return job;
  }

  /** Out of its wait (timer, call waiting for a worker) without an outcome: the call's settle finds the job gone from the table. */
  private stopWaiting(job: Job): CallHandle | undefined {
    clearTimeout(job.timer);
    job.timer = undefined;
    job.withdrawn = true;
    const call = job.call;
    job.call = undefined;
    return call;
  }

  /**
   * An operator's drop of a waiting stored job: it never runs and is gone from
   * the store once this resolves. Undefined when this gateway holds no such job.
   */
  async dropStored(handle: string): Promise<Job | undefined> {
    const job = this.waitingStoredJob(handle);
    if (!job) return undefined;
    const call = this.stopWaiting(job);
    this.recordOutcome(job, 'CANCELLED');
    this.end(job, { kind: 'failed' });
    call?.cancel();
    // writes commit in order: once this one is on disk, so is end()'s removal
    await this.options.store!.remove(handle);
    this.options.log.warn({ handle, fn: job.fn, waitedMs: Date.now() - job.createdAt, attempts: job.attempts }, 'stored job dropped by an operator');
    return job;
  }

  /** An operator's move of a waiting stored job to the dead letters (to retry it later with `dead-letter retry`). Undefined when there is none. */
  async buryStored(handle: string): Promise<Job | undefined> {
    const job = this.waitingStoredJob(handle);
    if (!job) return undefined;
    const call = this.stopWaiting(job);
    job.lastError ??= `moved to the dead letters by an operator after waiting ${Math.round((Date.now() - job.createdAt) / 1000)} s`;
    this.deadLetter(job, 'moved there by an operator', { kind: 'failed' }, 'CANCELLED');
    call?.cancel();
    await this.options.store!.remove(handle);
    return job;
  }

  /**
   * An operator's "run it now": a job waiting for its time or its next attempt
   * is sent at once. Returns the job and whether it was sent now (false: it
   * already waits for a worker to take it); undefined when there is none.
   */
  retryStored(handle: string): { job: Job; sent: boolean } | undefined {
    const job = this.waitingStoredJob(handle);
    if (!job) return undefined;
    if (!job.timer) return { job, sent: false };
    clearTimeout(job.timer);
    job.timer = undefined;
    this.ready.add(job);
    return { job, sent: true };
  }

  /** Streamed progress from a worker: data, warnings and status reach every listener in order. */
  private relayEvent(job: Job, msg: Msg): void {
    const event = toJobEvent(msg);
    if (!event) return;
    if (event.kind === 'status') {
      job.numerator = event.numerator ?? 0;
      job.denominator = event.denominator ?? 0;
      this.tell(job, { kind: 'status', numerator: job.numerator, denominator: job.denominator });
    } else this.tell(job, { kind: event.kind, data: event.data });
  }

  private tell(job: Job, event: JobNotice): void {
    for (const l of job.listeners) l.jobNotice(job, event);
  }

  private end(job: Job, event: JobNotice): void {
    if (!this.byHandle.has(job.handle)) return;
    this.forget(job);
    this.tell(job, event);
    if (job.span) {
      if (event.kind === 'done') endSpan(job.span, 'ok', undefined, { 'dips.bytes_out': event.data.length });
      else endSpan(job.span, 'FAILED', new Error(event.kind === 'failed' && event.message !== undefined ? event.message : 'WORK_FAIL'));
    }
  }

  private recordOutcome(job: Job, outcome: Outcome): void {
    this.options.metrics?.finished(job.fn, outcome, (Date.now() - job.createdAt) / 1000, job.background);
  }
}

const uniqueKey = (fn: string, unique: string) => `${fn}\0${unique}`;

/** What listeners hear of a failure: a plain one (a Gearman worker's WORK_FAIL, a cancelled job) has no message to raise as an exception. */
function failureEvent(err: CallError): JobNotice {
  const plain = err.code === ErrorCode.workFail || err.code === ErrorCode.cancelled;
  return plain ? { kind: 'failed' } : { kind: 'failed', message: err.message };
}

function stored(job: Job): StoredJob {
  return { seq: job.seq, handle: job.handle, fn: job.fn, unique: job.unique, data: job.data, priority: job.priority, runAt: job.runAt, createdAt: job.createdAt };
}
