/**
 * The gateway's job table: handles, coalescing by unique id, priorities,
 * background and scheduled (epoch) jobs kept on disk, status, and dispatch of
 * each job as one NATS request (which waits in the requester while every
 * worker is full). It knows nothing of Gearman packets: it tells each job's
 * listeners what happened (JobEvent) and the packet handlers speak Gearman.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import { headers as natsHeaders, type Msg } from 'nats';
import { sniffEncoding } from '../shared/codec/index.js';
import { ErrorCode, errorMessage } from '../shared/errors.js';
import { Header } from '../shared/headers.js';
import type { Logger } from '../shared/log.js';
import { toJobEvent } from '../shared/events.js';
import { CallError, cancelledError, type CallHandle, type Requester } from '../shared/requester.js';
import { TurnBatch } from '../shared/turn-batch.js';
import type { Priority } from '../shared/wait-queue.js';
import type { JobStore, StoredJob } from './store.js';

export type { Priority };

/** What happened to a job, in the order it happens. */
export type JobEvent =
  | { kind: 'assigned' }
  | { kind: 'status'; numerator: number; denominator: number }
  | { kind: 'data' | 'warning'; data: Uint8Array }
  | { kind: 'done'; data: Uint8Array }
  /** `message` is absent for a plain failure (a Gearman worker's WORK_FAIL). */
  | { kind: 'failed'; message?: string };

/** Someone waiting for a job's events (a client connection). */
export interface JobListener {
  readonly id: number;
  jobEvent(job: Job, event: JobEvent): void;
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
}

/** What a submission asks for. */
export type JobSpec = Pick<StoredJob, 'fn' | 'unique' | 'data' | 'priority' | 'runAt'> & { background: boolean };

export interface JobsMetrics {
  finished(fn: string, ok: boolean, seconds: number, background: boolean): void;
}

export interface JobsOptions {
  metrics?: JobsMetrics;
  /** May a lost request for this function be sent again? (From service discovery.) */
  isIdempotent?: (fn: string) => boolean;
  /** How long a foreground job's caller waits, queueing included. */
  timeoutMs: number;
  /** Longest a background job waits for a worker (0: until it runs). */
  backgroundMaxAgeMs: number;
  retries: number;
  /** Payload bytes of all jobs held here at once. */
  maxBytes: number;
  /** Host (and port) in job handles. */
  handleHost: string;
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

export function defaultHandleHost(port: number): string {
  return `${os.hostname()}-${port}`;
}

export class Jobs {
  private readonly byHandle = new Map<string, Job>();
  private readonly byUnique = new Map<string, Job>();
  private readonly prefix: string;
  private counter: number;
  private bytes = 0;
  /** gearmand's maxqueue: per function, the most jobs waiting at each priority (absent: no limit). */
  private readonly maxQueue = new Map<string, Record<Priority, number>>();
  /** Jobs read in one pass reach NATS in one socket write (see TurnBatch). */
  private readonly ready = new TurnBatch<Job>((job) => void this.run(job));
  /** Set while the gateway stops: background jobs cut off by it stay on disk for the next start. */
  private stopping = false;

  constructor(private readonly requester: Requester, private readonly options: JobsOptions) {
    this.prefix = handlePrefix(options.handleHost);
    this.counter = options.store?.counter ?? 0;
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
      if (listener) existing.listeners.push(listener);
      if (spec.background && !existing.background && this.options.store) return this.keepForBackground(existing);
      return existing;
    }
    this.checkLimits(spec);
    const delayMs = spec.runAt ? spec.runAt * 1000 - Date.now() : 0;
    if (delayMs > MAX_SCHEDULE_MS) throw new JobLimitError(`cannot schedule a job more than ${Math.floor(MAX_SCHEDULE_MS / 86_400_000)} days ahead`);
    const seq = ++this.counter;
    const job = this.track({ seq, handle: `${this.prefix}${seq}`, fn: spec.fn, unique, data: spec.data, priority: spec.priority, runAt: spec.runAt, createdAt: Date.now() }, spec.background, listener);
    if (!job.background || !this.options.store) {
      this.schedule(job);
      return job;
    }
    return this.options.store.add(stored(job), this.counter).then(
      () => {
        this.schedule(job);
        return job;
      },
      (err: unknown) => {
        this.forget(job);
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

  /** The gateway is stopping: what fails from now on because of it is not a job's failure. */
  stop(): void {
    this.stopping = true;
    for (const job of this.byHandle.values()) clearTimeout(job.timer);
  }

  /** Background jobs stored by an earlier run of this gateway: they run again (at least once). */
  restore(): number {
    const stored = this.options.store?.jobs((key, problem) => this.options.log.error({ key, problem }, 'a stored background job cannot be read; it stays in the store and the others run')) ?? [];
    for (const s of stored) {
      if (this.byHandle.has(s.handle)) continue;
      this.counter = Math.max(this.counter, s.seq);
      this.schedule(this.track({ ...s, data: Buffer.from(s.data) }, true, null));
    }
    return stored.length;
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
    if (job.timer && job.runAt) {
      // never dispatched: nothing will settle it
      this.count(job, false);
      this.end(job, { kind: 'failed' });
      this.options.log.info({ handle: job.handle, fn: job.fn }, `scheduled job withdrawn: ${why}`);
    }
    job.withdrawn = true;
    job.call?.cancel();
  }

  private forget(job: Job): void {
    if (!this.byHandle.delete(job.handle)) return;
    if (job.unique) this.byUnique.delete(uniqueKey(job.fn, job.unique));
    this.bytes -= job.data.length;
    if (job.background) void this.options.store?.remove(job.handle).catch((err) => this.options.log.error({ err, handle: job.handle }, 'cannot remove a finished job from the store'));
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
        runTimeoutMs: this.options.timeoutMs,
        headers,
        priority: job.priority,
        retries: this.options.retries,
        idempotent: this.options.isIdempotent?.(job.fn) ?? true,
        onAssigned: () => {
          job.state = 'running';
          this.tell(job, { kind: 'assigned' });
        },
        onEvent: (msg) => this.relayEvent(job, msg),
      },
      (err, reply) => this.settle(job, err, reply),
    );
  }

  /** The job's call ended: its listeners hear the result or the failure. */
  private settle(job: Job, err: CallError | undefined, reply?: Msg): void {
    if (!err) {
      this.count(job, true);
      this.end(job, { kind: 'done', data: reply!.data });
      return;
    }
    if (this.stopping && job.background) return; // stays on disk; runs when a gateway starts on this data directory
    this.count(job, false);
    if (job.background) this.options.log.error({ handle: job.handle, fn: job.fn, message: err.message }, 'background job failed');
    else this.options.log.debug({ handle: job.handle, fn: job.fn, message: err.message }, 'job failed');
    // a plain failure (a Gearman worker's WORK_FAIL, a cancelled job) has no message to raise as an exception
    const plain = err.code === ErrorCode.workFail || err.code === ErrorCode.cancelled;
    this.end(job, plain ? { kind: 'failed' } : { kind: 'failed', message: err.message });
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

  private tell(job: Job, event: JobEvent): void {
    for (const l of job.listeners) l.jobEvent(job, event);
  }

  private end(job: Job, event: JobEvent): void {
    if (!this.byHandle.has(job.handle)) return;
    this.forget(job);
    this.tell(job, event);
  }

  private count(job: Job, ok: boolean): void {
    this.options.metrics?.finished(job.fn, ok, (Date.now() - job.createdAt) / 1000, job.background);
  }
}

const uniqueKey = (fn: string, unique: string) => `${fn}\0${unique}`;

function stored(job: Job): StoredJob {
  return { seq: job.seq, handle: job.handle, fn: job.fn, unique: job.unique, data: job.data, priority: job.priority, runAt: job.runAt, createdAt: job.createdAt };
}
