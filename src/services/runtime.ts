/**
 * The worker runtime: serves functions on NATS through the service API (so
 * `$SRV.PING|INFO|STATS` discovery works with standard tooling), one service
 * per function so each can be paused and resumed on its own, queue group =
 * function name. Bounded admission, deadlines, error headers and drain live here
 * so that functions only compute.
 */
import os from 'node:os';
import { nuid, type Msg, type MsgHdrs, type NatsConnection, type Payload, type PublishOptions, type Service, type Subscription } from 'nats';
import { decodeBody, encodeBody, isEncoding, sniffEncoding, CONTENT_TYPES, type Encoding } from '../mesh/codec/index.js';
import { DipsError, ErrorCode, errorMessage, kindOfCode } from '../shared/errors.js';
import { Header, headerValue } from '../mesh/headers.js';
import type { Logger } from '../shared/log.js';
import { directWildcard, functionOfDirectSubject, functionSubject } from '../mesh/subjects.js';
import { EMPTY, repliesToInbox, respondError, respondNoRoom, resultHeaders, type JobMsg } from '../mesh/replies.js';
import { RoomAnnouncer } from '../mesh/room.js';
import { Admission, type HeldJob } from './admission.js';
import { acceptsOf, defaultDeadlineNote, type Accepts } from '../mesh/accept.js';
import type { Priority } from '../mesh/wait-queue.js';
import { shown } from './params.js';
import { eventHeaders, JobWatch, statusPayload, WORKING, type JobEventKind, type WatchedJob } from '../mesh/events.js';
import type { FunctionDef, Job, JobProgress, Result } from './job.js';
import type { WorkerMetrics } from './metrics.js';
import { jobRecorder, outcomeOf } from '../shared/metrics.js';
import { TurnBatch } from '../mesh/turn-batch.js';
import { LatencyWindow } from './latency-window.js';
import { endSpan, flushTracing, logFields, startJobSpan, Attr } from '../shared/tracing.js';
import { encodedHeaderBytes } from '../mesh/nats-internals.js';
import { registerFunction, takeJobs } from '../mesh/service.js';

export interface WorkerOptions {
  concurrency: number;
  maxQueued: number;
  /** Longest wait a job may be kept for inside this worker, by the expected run time of those before it. */
  prefetchMs: number;
  /** Deadline of a request that carries no Dips-Deadline (a plain NATS caller's), from its arrival. */
  defaultDeadlineMs: number;
  /** Payload bytes of plain callers' jobs held waiting for a slot; past it they get 503. */
  maxWaitingBytes: number;
  version: string;
  log: Logger;
  metrics?: WorkerMetrics;
  /** The stretch of time p50 and p99 cover, in ms (worker.latencyWindowSec; default DEFAULT_LATENCY_WINDOW_MS). */
  latencyWindowMs?: number;
}

export const DEFAULT_LATENCY_WINDOW_MS = 60_000;

export interface FunctionStats {
  done: number;
  failed: number;
  /** Durations in ms of the jobs that ended in the last latencyWindowMs, for p50 and p99. */
  latencies: LatencyWindow;
  /** Moving average of recent durations in ms (undefined until the first job): a job's expected cost. */
  typicalMs?: number;
}

/**
 * What a held job counts against worker.maxWaitingBytes beyond its payload
 * (its headers, the message, its place in the watch): so that jobs with
 * empty bodies (a raw request's parameters travel in a header) are bounded too.
 */
const HELD_JOB_OVERHEAD_BYTES = 4096;

export class Worker {
  private readonly services = new Map<string, Service>();
  private readonly admission: Admission;
  private readonly room: RoomAnnouncer;
  /** Heartbeats and deadlines of every job held here, on one timer. */
  private readonly watch = new JobWatch();
  /** Jobs sent to this worker alone, after it announced room. */
  private direct?: Subscription;
  readonly stats = new Map<string, FunctionStats>();
  private draining = false;
  readonly startedAt = Date.now();
  readonly latencyWindowMs: number;
  /** Arrival order of plain callers' held jobs. */
  private heldSeq = 0;
  private readonly recordMetrics?: ReturnType<typeof jobRecorder>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly functions: FunctionDef[],
    private readonly options: WorkerOptions,
  ) {
    this.latencyWindowMs = options.latencyWindowMs ?? DEFAULT_LATENCY_WINDOW_MS;
    this.room = new RoomAnnouncer(nc, nuid.next());
    if (options.metrics) this.recordMetrics = jobRecorder(options.metrics.jobs, options.metrics.duration);
    this.admission = new Admission(options.concurrency, options.maxQueued, options.prefetchMs, options.maxWaitingBytes, () =>
      this.room.settle((fn) => (this.services.has(fn) ? this.admission.free : 0)),
    );
    for (const def of functions) this.stats.set(def.name, { done: 0, failed: 0, latencies: new LatencyWindow(this.latencyWindowMs) });
  }

  get inFlight(): number {
    return this.admission.inFlight;
  }
  get queued(): number {
    return this.admission.queued;
  }

  /** Slots offered to callers now (fewer than the concurrency on a busy guest host). */
  get slotsOffered(): number {
    return this.admission.slotsOffered;
  }

  /**
   * A guest host's own processes need `1 - share` of the CPU: offer that share
   * of the slots. Callers waiting for this function hear at once when it grows.
   */
  setShare(share: number): void {
    if (!this.admission.setShare(share)) return;
    for (const fn of this.services.keys()) this.room.announce(fn, this.admission.free);
  }

  /** Functions this worker can serve, and whether each is taking jobs now. */
  functionStates(): Array<{ name: string; paused: boolean }> {
    return this.functions.map((d) => ({ name: d.name, paused: !this.services.has(d.name) }));
  }

  get functionNames(): string[] {
    return this.functions.map((d) => d.name);
  }

  /** Warm every function up, then start taking jobs (except for the functions an agent has paused). */
  async start(paused: ReadonlySet<string> = new Set()): Promise<void> {
    await Promise.all(this.functions.map((def) => def.init?.()));
    this.direct = this.nc.subscribe(directWildcard(this.room.workerId), {
      callback: (err, msg) => {
        if (err || !repliesToInbox(msg, this.options.log)) return;
        const fn = functionOfDirectSubject(msg.subject);
        const def = this.functions.find((d) => d.name === fn);
        const job = new AnsweredPerTurn(msg);
        if (headerValue(msg.headers, Header.ping)) {
          job.respond(EMPTY); // alive: a caller whose request fell silent asks
          return;
        }
        // a paused or unknown function has no room here: the caller waits for another worker
        this.room.claimed();
        if (def && this.services.has(fn)) this.admit(def, job);
        else if (acceptsOf(msg.headers).noRoom) respondNoRoom(job);
        else respondError(job, ErrorCode.noWorker, `${fn}: not served by this worker now; request ${functionSubject(fn)}`, this.room.workerId, 0, 'NO_WORKER');
      },
    });
    for (const def of this.functions) if (!paused.has(def.name)) await this.resume(def.name);
  }

  /** Start (again) taking jobs for one function. */
  async resume(fn: string): Promise<void> {
    const def = this.functions.find((d) => d.name === fn);
    if (!def || this.services.has(fn) || this.draining) return;
    const f = { fn: def.name, version: this.options.version, description: def.description, metadata: { host: os.hostname(), pid: String(process.pid), idempotent: String(def.idempotent) } };
    const service = await registerFunction(this.nc, f);
    takeJobs(service, f, this.options.log, (msg) => this.admit(def, new AnsweredPerTurn(msg)));
    this.services.set(fn, service);
    // callers holding jobs for it (none served it, or all were full) hear of the room at once
    this.room.announce(fn, this.admission.free);
  }

  /**
   * Stop taking jobs for one function; jobs already taken finish. `byOperator`:
   * callers hear that it was paused (a drain or reload stays silent: the new
   * workers take over and no call should fail).
   */
  async pause(fn: string, byOperator = false): Promise<void> {
    const service = this.services.get(fn);
    if (!service) return;
    this.services.delete(fn);
    await service.stop();
    if (byOperator) this.room.paused(fn);
  }

  /** SIGTERM: no new jobs, the taken ones finish and answer, then the connection drains. */
  async drain(): Promise<void> {
    this.draining = true;
    await Promise.all([...this.services.keys()].map((fn) => this.pause(fn)));
    await this.direct?.drain();
    await this.admission.idle();
    answers.flush();
    if (!this.nc.isClosed()) await this.nc.drain();
    await flushTracing();
  }

  private admit(def: FunctionDef, msg: JobMsg): void {
    const h = msg.headers;
    const accepts = acceptsOf(h);
    // a plain caller cannot be bounced: during a drain its job is still taken and run before the worker exits
    if (this.draining && accepts.noRoom) {
      respondNoRoom(msg);
      return;
    }
    let terms: JobTerms;
    try {
      terms = termsOf(def.name, h, this.options.defaultDeadlineMs);
    } catch (err) {
      respondError(msg, ErrorCode.badRequest, errorMessage(err), this.room.workerId, 0);
      return;
    }
    // from now until the answer, a caller that reads events hears that the job is alive (waiting or running)
    const watched = this.watch.add(accepts.events ? () => msg.respond(EMPTY, { headers: eventHeaders(WORKING) }) : NO_BEAT);
    const costMs = this.stats.get(def.name)?.typicalMs;
    const run = () => this.handle(def, msg, watched, terms, accepts);
    if (this.admission.tryRun(run, costMs)) return;
    if (accepts.noRoom) {
      // every slot is taken: the job waits at its caller, which hears when room frees here
      watched.stop();
      this.room.owe(def.name);
      respondNoRoom(msg);
      return;
    }
    const held: HeldJob = { seq: this.heldSeq++, priority: terms.priority, bytes: msg.data.length + HELD_JOB_OVERHEAD_BYTES, costMs, run };
    if (!this.admission.hold(held)) {
      watched.stop();
      respondError(
        msg,
        ErrorCode.busy,
        `${def.name}: worker full: ${this.admission.bytesHeld} bytes of jobs already wait here for a slot, limit ${this.options.maxWaitingBytes} (worker.maxWaitingBytes); try again, or send Dips-Accept: no-room to wait at your side`,
        this.room.workerId,
        0,
      );
      return;
    }
    watched.deadline = terms.deadline;
    watched.expire = () => {
      // still waiting for a slot when its deadline came: it never runs, and the caller hears why
      if (!this.admission.release(held)) return;
      watched.stop();
      respondError(msg, ErrorCode.timeout, `${def.name}: no slot freed before the deadline${terms.note}`, this.room.workerId, 0, 'TIMEOUT', true);
    };
  }

  private async handle(def: FunctionDef, msg: JobMsg, watched: WatchedJob, terms: JobTerms, accepts: Accepts): Promise<void> {
    const started = performance.now();
    const h = msg.headers;
    const { deadline } = terms;
    const jobId = headerValue(h, Header.jobId);
    // undefined while tracing is off: each use below is one check
    const span = startJobSpan(def.name, jobId, h, msg.data.length);
    if (Date.now() >= deadline) {
      // The caller has given up: spend nothing on it. A plain caller gets its one reply all the same.
      this.options.log.debug({ fn: def.name, jobId, ...logFields(span) }, 'skipped a job past its deadline');
      endSpan(span, 'TIMEOUT', new Error('deadline passed before a slot freed'));
      watched.stop();
      if (!accepts.noRoom) respondError(msg, ErrorCode.timeout, `${def.name}: deadline passed before a slot freed${terms.note}`, this.room.workerId, 0, 'TIMEOUT', true);
      return;
    }
    const headerEncoding = headerValue(h, Header.encoding);
    const encoding: Encoding = isEncoding(headerEncoding) ? headerEncoding : sniffEncoding(msg.data);
    const job = new RunningJob(def.name, jobId, msg, encoding, deadline, accepts.events, terms.note);
    watched.deadline = deadline;
    watched.expire = () => job.expire();
    try {
      if (def.input === 'params') job.params = this.paramsOf(def.name, msg, encoding);
      const result = await def.run(job);
      if (Date.now() < deadline) {
        const answer = this.answerOf(def.name, result, encoding);
        const room = this.offerRoomAfter(def.name, performance.now() - started, msg.data.length);
        msg.respond(answer.body, { headers: resultHeaders(this.room.workerId, room, answer.contentType, answer.encoding) });
        endSpan(span, 'ok', undefined, span && { [Attr.bytesOut]: answer.body.length, [Attr.worker]: this.room.workerId });
      }
      else {
        if (!accepts.noRoom) job.lateAnswer(this.room.workerId); // a plain caller gets one reply whatever happens
        endSpan(span, 'TIMEOUT', new Error('deadline passed before the result was ready'));
      }
      this.record(def.name, true, performance.now() - started);
    } catch (err) {
      this.record(def.name, false, performance.now() - started, err);
      endSpan(span, err instanceof DipsError ? kindOfCode(err.code) : 'INTERNAL', err, span && { [Attr.worker]: this.room.workerId });
      if (err instanceof DipsError) {
        respondError(msg, err.code, err.message, this.room.workerId, this.offerRoomAfter(def.name, performance.now() - started, msg.data.length));
      } else {
        this.options.log.error({ err, fn: def.name, jobId, ...logFields(span) }, 'function failed unexpectedly');
        respondError(msg, ErrorCode.internal, `${def.name}: internal error: ${errorMessage(err)}`, this.room.workerId, this.offerRoomAfter(def.name, performance.now() - started, msg.data.length));
      }
    } finally {
      watched.stop(); // here rather than in a .finally() on the job's promise: one promise fewer per job
    }
  }

  private paramsOf(fn: string, msg: JobMsg, encoding: Encoding): Record<string, unknown> {
    if (encoding === 'raw') {
      const header = msg.headers?.get(Header.params);
      if (!header) return {};
      return asParams(fn, safeJson(fn, header));
    }
    try {
      return asParams(fn, decodeBody(msg.data, encoding));
    } catch (err) {
      if (err instanceof DipsError) throw err;
      throw new DipsError(ErrorCode.badRequest, `${fn}: ${errorMessage(err)}`);
    }
  }

  /**
   * Jobs of `fn` this worker would take once the job now answering (which took
   * `ms` and was `bytes` long) has ended: offered to its caller in the reply.
   */
  private offerRoomAfter(fn: string, ms: number, bytes: number): number {
    const room = this.services.has(fn) && !this.draining ? this.admission.roomFor(this.stats.get(fn)?.typicalMs ?? ms, this.stats.get(fn)?.typicalMs) : 0;
    this.room.offer(room, bytes);
    return room;
  }

  /** A result as the bytes and content type its reply carries; throws when NATS could not carry it (checkFits). */
  private answerOf(fn: string, result: Result, encoding: Encoding): { body: Uint8Array; contentType: string; encoding?: string } {
    if (result.kind === 'bytes') {
      this.checkFits(fn, result.bytes.length, result.contentType);
      return { body: result.bytes, contentType: result.contentType };
    }
    const replyEncoding = encoding === 'raw' ? 'msgpack' : encoding;
    const body = encodeBody(result.value, replyEncoding);
    this.checkFits(fn, body.length, CONTENT_TYPES[replyEncoding], replyEncoding);
    return { body, contentType: CONTENT_TYPES[replyEncoding], encoding: replyEncoding };
  }

  /**
   * A reply NATS cannot carry would be dropped on the way, the caller would hear
   * silence and send the job again: it fails here instead, once, saying why.
   */
  private checkFits(fn: string, bytes: number, contentType: string, encoding?: string): void {
    const max = this.nc.info?.max_payload;
    if (max === undefined || bytes + RESULT_HEADER_SLACK < max - REPLY_HEADER_BYTES) return;
    // near the limit, count the reply's own header block (its room field varies by a few digits)
    if (bytes + encodedHeaderBytes(resultHeaders(this.room.workerId, 1, contentType, encoding)) + RESULT_HEADER_SLACK > max) {
      throw new DipsError(ErrorCode.tooLarge, `${fn}: the result is ${bytes} bytes, more than a NATS message carries (max_payload ${max}); ask for a smaller output`);
    }
  }

  private record(fn: string, ok: boolean, ms: number, err?: unknown): void {
    this.recordMetrics?.record(fn, ok ? 'ok' : outcomeOf(err), ms / 1000);
    const s = this.stats.get(fn);
    if (!s) return;
    if (ok) s.done++;
    else s.failed++;
    s.latencies.add(ms);
    s.typicalMs = s.typicalMs === undefined ? ms : s.typicalMs + (ms - s.typicalMs) / 8;
  }
}

function safeJson(fn: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DipsError(ErrorCode.badRequest, `${fn}: ${Header.params} header is not JSON: ${errorMessage(err)}`);
  }
}

function asParams(fn: string, value: unknown): Record<string, unknown> {
  if (value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)) {
    return value as Record<string, unknown>;
  }
  throw new DipsError(ErrorCode.badRequest, `${fn}: the payload must be a map of parameters, got ${shown(value)}`);
}

/** Replies this far under max_payload fit whatever their headers (a result's header block is a few hundred bytes at most). */
const REPLY_HEADER_BYTES = 4096;
/** Digits the room field of a reply's headers may add over the block measured with room 1. */
const RESULT_HEADER_SLACK = 16;

/** Every answer a worker sends (results, errors, no room, events) leaves with the others of its turn, in order: one socket write. */
const answers = new TurnBatch<{ msg: Msg; data: Payload | undefined; opts: PublishOptions | undefined }>((a) => {
  try {
    a.msg.respond(a.data, a.opts);
  } catch {
    // the NATS connection is closed: the caller hears nothing from this worker and sends the job again when it stays silent
  }
});

/** A job as the worker sees it: its answers go through `answers`. */
class AnsweredPerTurn implements JobMsg {
  constructor(private readonly msg: Msg) {}
  get data(): Uint8Array {
    return this.msg.data;
  }
  get headers(): MsgHdrs | undefined {
    return this.msg.headers;
  }
  respond(data?: Payload, opts?: PublishOptions): boolean {
    answers.add({ msg: this.msg, data, opts });
    return true;
  }
}

/**
 * A job as its function sees it. A class, not an object literal: a literal
 * with getters builds its accessors per job, and those closures (holding the
 * job's message and everything it reached) stayed alive through scavenges
 * until a full GC. Its signal and progress sender are made on first use: most
 * functions never look at either.
 */
class RunningJob implements Job {
  params: Record<string, unknown> = {};
  readonly body: Uint8Array;
  private controller?: AbortController;
  private expired?: DipsError;
  private sender?: JobProgress;

  constructor(
    readonly fn: string,
    readonly id: string,
    private readonly msg: JobMsg,
    readonly encoding: Encoding,
    readonly deadline: number,
    /** The caller reads streamed events; a plain caller gets none (its one reply is the result). */
    private readonly events: boolean,
    /** Said after "deadline passed" when the deadline was the worker's default. */
    private readonly deadlineNote: string,
  ) {
    this.body = msg.data;
  }

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.expired && !this.controller.signal.aborted) this.controller.abort(this.expired);
    return this.controller.signal;
  }

  get progress(): JobProgress {
    return (this.sender ??= this.events ? progressFor(this.msg) : NO_PROGRESS);
  }

  /** The deadline passed: a function listening to its signal stops. */
  expire(): void {
    this.expired = new DipsError(ErrorCode.timeout, `${this.fn}: deadline passed${this.deadlineNote}`);
    this.controller?.abort(this.expired);
  }

  /** The result came after the deadline: a caller that may still listen hears why it has none. */
  lateAnswer(workerId: string): void {
    respondError(this.msg, ErrorCode.timeout, `${this.fn}: deadline passed before the result was ready${this.deadlineNote}`, workerId);
  }
}

const NO_PROGRESS: JobProgress = { data: () => undefined, warning: () => undefined, status: () => undefined };
const NO_BEAT = (): void => undefined;

/** How a job asked to be treated: when its caller stops waiting, and its place among held jobs. */
interface JobTerms {
  deadline: number;
  /** Said after a timeout's message: '' or, when no Dips-Deadline came, that the default applied. */
  note: string;
  priority: Priority;
}

/** Read a job's deadline and priority headers; throws on a malformed one, naming it. */
function termsOf(fn: string, h: MsgHdrs | undefined, defaultDeadlineMs: number): JobTerms {
  const deadlineText = headerValue(h, Header.deadline);
  const priorityText = headerValue(h, Header.priority);
  let priority: Priority = 'normal';
  if (priorityText !== '') {
    const p = priorityText.trim().toLowerCase();
    if (p !== 'high' && p !== 'normal' && p !== 'low') throw new Error(`${fn}: ${Header.priority} must be high, normal or low, got ${JSON.stringify(priorityText.slice(0, 40))}`);
    priority = p;
  }
  if (deadlineText === '') return { deadline: Date.now() + defaultDeadlineMs, note: defaultDeadlineNote(defaultDeadlineMs), priority };
  const deadline = Number(deadlineText);
  if (!Number.isFinite(deadline) || deadline <= 0) {
    throw new Error(`${fn}: ${Header.deadline} must be epoch milliseconds (e.g. ${Date.now() + 5000}), got ${JSON.stringify(deadlineText.slice(0, 40))}`);
  }
  return { deadline, note: '', priority };
}

function progressFor(msg: JobMsg): JobProgress {
  const send = (kind: JobEventKind, data: Uint8Array | string) => {
    msg.respond(typeof data === 'string' ? Buffer.from(data) : data, { headers: eventHeaders(kind) });
  };
  return {
    data: (bytes) => send('data', bytes),
    warning: (bytes) => send('warning', bytes),
    status: (numerator, denominator) => send('status', statusPayload(numerator, denominator)),
  };
}
