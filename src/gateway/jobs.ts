/**
 * The gateway's jobs: handles, coalescing by unique id, background and
 * scheduled (epoch) jobs, status, and dispatch of each job as one NATS request.
 * Jobs live only as long as someone can still learn their result.
 */
import os from 'node:os';
import { headers as natsHeaders, type Msg } from 'nats';
import { sniffEncoding } from '../shared/codec/index.js';
import { ErrorCode, errorMessage } from '../shared/errors.js';
import { Header } from '../shared/headers.js';
import type { Logger } from '../shared/log.js';
import { toJobEvent } from '../shared/events.js';
import { CallError, type Requester } from '../shared/requester.js';
import { isValidFunctionName } from '../shared/subjects.js';
import { PacketType } from './protocol/constants.js';
import type { Arg } from './protocol/encoder.js';

export type Priority = 'high' | 'normal' | 'low';

/** What a job needs of a client connection. */
export interface Listener {
  readonly id: number;
  /** The client sent OPTION_REQ "exceptions". */
  readonly exceptions: boolean;
  send(type: number, args: readonly Arg[]): void;
  /** The job it waited for has ended (after its final packet). */
  jobEnded(): void;
}

export interface Job {
  handle: string;
  fn: string;
  unique: string;
  data: Buffer;
  priority: Priority;
  background: boolean;
  listeners: Set<Listener>;
  state: 'scheduled' | 'running';
  numerator: number;
  denominator: number;
  /** Epoch seconds a scheduled job runs at. */
  runAt?: number;
  timer?: NodeJS.Timeout;
  createdAt: number;
}

export interface JobsMetrics {
  finished(fn: string, ok: boolean, seconds: number): void;
}

export interface JobsOptions {
  metrics?: JobsMetrics;
  /** May a lost request for this function be sent again? (From service discovery.) */
  isIdempotent?: (fn: string) => boolean;
  timeoutMs: number;
  retries: number;
  maxBackgroundJobs: number;
  log: Logger;
}

export class JobLimitError extends Error {}

/** Longest a scheduled job may wait (setTimeout's limit, about 24.8 days). */
const MAX_SCHEDULE_MS = 2 ** 31 - 1;

export class Jobs {
  private readonly byHandle = new Map<string, Job>();
  private readonly byUnique = new Map<string, Job>();
  private readonly handlePrefix = `H:${os.hostname()}:${process.pid}`;
  private counter = 0;
  private backgroundCount = 0;

  constructor(private readonly requester: Requester, private readonly options: JobsOptions) {}

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

  /**
   * Submit a job (or join the running one with the same function and unique id).
   * `listener` is null for background jobs. Throws JobLimitError when full.
   */
  submit(spec: { fn: string; unique: string; data: Buffer; priority: Priority; background: boolean; runAt?: number }, listener: Listener | null): Job {
    const key = `${spec.fn}\0${spec.unique}`;
    const existing = spec.unique ? this.byUnique.get(key) : undefined;
    if (existing) {
      if (listener) existing.listeners.add(listener);
      return existing;
    }
    if (spec.background && this.backgroundCount >= this.options.maxBackgroundJobs) {
      throw new JobLimitError(`Job queue is full: ${this.backgroundCount} background jobs waiting or running`);
    }
    const job: Job = {
      handle: `${this.handlePrefix}-${++this.counter}`,
      fn: spec.fn,
      unique: spec.unique,
      data: spec.data,
      priority: spec.priority,
      background: spec.background,
      listeners: new Set(listener ? [listener] : []),
      state: 'scheduled',
      numerator: 0,
      denominator: 0,
      runAt: spec.runAt,
      createdAt: Date.now(),
    };
    this.byHandle.set(job.handle, job);
    if (spec.unique) this.byUnique.set(key, job);
    if (job.background) this.backgroundCount++;

    const delayMs = spec.runAt ? spec.runAt * 1000 - Date.now() : 0;
    if (delayMs > MAX_SCHEDULE_MS) {
      this.forget(job);
      throw new JobLimitError(`cannot schedule a job more than ${Math.floor(MAX_SCHEDULE_MS / 86_400_000)} days ahead`);
    }
    if (delayMs > 0) job.timer = setTimeout(() => this.run(job), delayMs);
    else setImmediate(() => void this.run(job));
    return job;
  }

  /** A client went away: it stops listening; a foreground job nobody waits for is dropped. */
  detach(listener: Listener): void {
    for (const job of this.byHandle.values()) {
      if (!job.listeners.delete(listener)) continue;
      if (!job.background && job.listeners.size === 0) this.cancel(job.handle);
    }
  }

  /** Forget a job: a scheduled one never runs; a running one's result is dropped (its deadline lets the worker skip it). */
  cancel(handle: string): boolean {
    const job = this.byHandle.get(handle);
    if (!job) return false;
    clearTimeout(job.timer);
    this.forget(job);
    return true;
  }

  private forget(job: Job): void {
    if (!this.byHandle.delete(job.handle)) return;
    if (job.unique) this.byUnique.delete(`${job.fn}\0${job.unique}`);
    if (job.background) this.backgroundCount--;
  }

  private async run(job: Job): Promise<void> {
    if (!this.byHandle.has(job.handle)) return; // cancelled while scheduled
    job.state = 'running';
    try {
      if (!isValidFunctionName(job.fn)) throw new CallError(ErrorCode.badRequest, `invalid function name ${JSON.stringify(job.fn)}`);
      const headers = natsHeaders();
      headers.set(Header.encoding, sniffEncoding(job.data));
      headers.set(Header.jobId, job.handle);
      if (job.unique) headers.set(Header.unique, job.unique);
      const reply = await this.requester.call(job.fn, job.data, {
        timeoutMs: this.options.timeoutMs,
        headers,
        retries: this.options.retries,
        idempotent: this.options.isIdempotent?.(job.fn) ?? true,
        onEvent: (msg) => this.relayEvent(job, msg),
      });
      this.count(job, true);
      this.finish(job, (l) => l.send(PacketType.WORK_COMPLETE, [job.handle, reply.data]));
    } catch (err) {
      this.count(job, false);
      const message = errorMessage(err);
      if (!(err instanceof CallError)) this.options.log.error({ err, handle: job.handle, fn: job.fn }, 'job failed in the gateway');
      else this.options.log.debug({ handle: job.handle, fn: job.fn, message }, 'job failed');
      // a plain failure (a Gearman worker's WORK_FAIL) has no message to raise as an exception
      const plain = err instanceof CallError && err.code === ErrorCode.workFail;
      this.finish(job, (l) => {
        if (l.exceptions && !plain) l.send(PacketType.WORK_EXCEPTION, [job.handle, message]);
        l.send(PacketType.WORK_FAIL, [job.handle]);
      });
    }
  }

  /** Streamed progress from a worker: data, warnings and status reach every listener in order. */
  private relayEvent(job: Job, msg: Msg): void {
    const event = toJobEvent(msg);
    if (!event) return;
    if (event.kind === 'status') {
      job.numerator = event.numerator ?? 0;
      job.denominator = event.denominator ?? 0;
      for (const l of job.listeners) l.send(PacketType.WORK_STATUS, [job.handle, String(job.numerator), String(job.denominator)]);
    } else {
      const type = event.kind === 'data' ? PacketType.WORK_DATA : PacketType.WORK_WARNING;
      for (const l of job.listeners) l.send(type, [job.handle, event.data]);
    }
  }

  private finish(job: Job, notify: (l: Listener) => void): void {
    if (!this.byHandle.has(job.handle)) return; // cancelled: nobody to tell
    this.forget(job);
    for (const l of job.listeners) {
      notify(l);
      l.jobEnded();
    }
  }

  private count(job: Job, ok: boolean): void {
    this.options.metrics?.finished(job.fn, ok, (Date.now() - job.createdAt) / 1000);
  }
}
