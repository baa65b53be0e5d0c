/**
 * Legacy Gearman workers joining the mesh through a gateway. While a PHP
 * (or any libgearman) worker connected here can do a function, the gateway
 * registers it on NATS like a native worker — one service per worker and
 * function, queue group = the function's token, so discovery counts it — and
 * feeds it jobs the way gearmand does: sleeping workers get NOOP, an idle
 * worker GRABs the oldest job. Like a native worker it takes only as many jobs
 * as it has idle Gearman workers; more are bounced to wait, in priority order,
 * at their caller, and room is announced when a Gearman worker frees (see
 * src/mesh/room.ts). WORK_DATA / WARNING / STATUS stream back to the caller
 * in order; WORK_COMPLETE / FAIL / EXCEPTION end the job. A plain NATS caller
 * (no Dips-Accept, see src/mesh/accept.ts) is never bounced nor sent
 * events: its job waits here for a Gearman worker, bounded by bytes and by its
 * deadline, and it hears one answer. A job whose worker
 * disconnects runs again on another worker here, or goes back to its caller to
 * wait for one.
 */
import os from 'node:os';
import { nuid, type NatsConnection, type Service, type Subscription } from 'nats';
import { ErrorCode } from '../shared/errors.js';
import { eventHeaders, statusPayload, WORKING } from '../mesh/events.js';
import { HEARTBEAT_MS } from '../mesh/timing.js';
import { PRIORITY_RANK } from '../mesh/wait-queue.js';
import { acceptsOf, defaultDeadlineNote, type Accepts } from '../mesh/accept.js';
import { Header, headerValue } from '../mesh/headers.js';
import type { Logger } from '../shared/log.js';
import { legacyMayServe } from '../shared/builtin-functions.js';
import { EMPTY, repliesToInbox, respondError, respondNoRoom, resultHeaders, type JobMsg } from '../mesh/replies.js';
import { RoomAnnouncer } from '../mesh/room.js';
import { directWildcard, functionOfDirectSubject } from '../mesh/subjects.js';
import type { Connection } from './connection.js';
import { handlePrefix, MAX_HANDLE_BYTES } from './jobs.js';
import { ErrorName } from './protocol/constants.js';
import { registerFunction, takeJobs } from '../mesh/service.js';

interface QueuedJob {
  seq: number;
  handle: string;
  fn: string;
  unique: string;
  data: Uint8Array;
  msg: JobMsg;
  deadline: number;
  /** Said after a timeout's message: '' or, when no Dips-Deadline came, that the default applied. */
  deadlineNote: string;
  accepts: Accepts;
  /** A plain caller's result as the Gearman worker streams it (WORK_DATA), joined with WORK_COMPLETE's. */
  chunks?: Buffer[];
  worker?: Connection;
  /** Gearman workers that disconnected while they held it. */
  lostWorkers?: number;
}

/** Times a job of an idempotent function runs again after its Gearman worker disconnected mid-job (gearmand's --job-retries). */
const MAX_LOST_WORKERS = 3;
/** How long a slot is kept for an earlier job bounced on its way back (see owesEarlier). */
const OWED_MS = 100;

/** Where a job stands in gearmand's order: its priority, then its gateway handle's number (arrival), when it has one. */
interface Place {
  rank: number;
  order: number;
}

function placeOf(headers: JobMsg['headers']): Place {
  const number = /:(\d+)$/.exec(headerValue(headers, Header.jobId) ?? '')?.[1];
  const priority = headerValue(headers, Header.priority);
  return { rank: PRIORITY_RANK[priority === 'high' || priority === 'low' ? priority : 'normal'], order: number ? Number(number) : Infinity };
}

const after = (a: Place, b: Place) => a.rank > b.rank || (a.rank === b.rank && a.order > b.order);

/** How often the bridge looks whether DIPS's own workers now serve a function its Gearman workers registered. */
const NATIVE_CHECK_MS = 5000;

const nativeRefusal = (fn: string) => `Gearman workers may not serve ${JSON.stringify(fn)}: DIPS's own workers serve it (a deployed function); gateway.legacyFunctions may name it to allow it`;

export interface LegacyOptions {
  /** Deadline of a job that came without Dips-Deadline (a plain NATS caller's). */
  defaultDeadlineMs: number;
  /** Payload bytes of plain callers' jobs kept waiting for a Gearman worker here. */
  maxWaitingBytes: number;
  /** gateway.legacyFunctions: what Gearman workers may serve (see legacyMayServe). */
  legacyFunctions: readonly string[];
  /** gateway.maxAbilities: functions one connection may register. */
  maxAbilities: number;
  /** gateway.idempotentFunctions: functions of Gearman workers that may be sent again after a possible loss. */
  idempotentFunctions: readonly string[];
  /** How the bridge's words reach a Gearman worker (handlers/worker.ts writes them as packets). */
  wire: WorkerWire;
  /** Which of `fns` DIPS's own workers serve, or have served (native-functions.ts): a deployed function is as much theirs as a built-in one. */
  nativelyServed?: (fns: string[]) => Promise<Set<string>>;
}

/** What a Gearman worker reports about a job it holds (handlers/worker.ts reads it from the WORK_* packets). */
export type WorkReport =
  | { kind: 'data' | 'warning' | 'complete' | 'exception' | 'fail'; handle: string; data: Buffer }
  | { kind: 'status'; handle: string; numerator: number; denominator: number };

/** What the bridge tells a Gearman worker: wake up (a job waits), no job for you, this job. */
export interface WorkerWire {
  wake(conn: Connection): void;
  noJob(conn: Connection): void;
  assign(conn: Connection, job: { handle: string; fn: string; unique: string; data: Uint8Array }, withUnique: boolean): void;
}

interface WorkerState {
  abilities: Map<string, Service>;
  /** CAN_DOs whose service is being added (counted against gateway.maxAbilities, not added twice). */
  registering: Set<string>;
  sleeping: boolean;
  jobs: Set<QueuedJob>;
}


export class LegacyBridge {
  private readonly workers = new Map<Connection, WorkerState>();
  private readonly queues = new Map<string, QueuedJob[]>();
  /** Per function, the earliest-placed job bounced lately (see owesEarlier). */
  private readonly bounced = new Map<string, Place & { at: number }>();
  private readonly running = new Map<string, QueuedJob>();
  private readonly room: RoomAnnouncer;
  private readonly direct: Subscription;
  private readonly prefix: string;
  private counter = 0;
  private readonly heartbeatTimer: NodeJS.Timeout;
  private readonly nativeTimer: NodeJS.Timeout;
  /** Bytes of plain callers' jobs here, waiting or running (they cannot be bounced): from enqueue until their one answer. */
  private plainBytes = 0;
  readonly id = `${os.hostname()}:${process.pid}`;

  constructor(private readonly nc: NatsConnection, private readonly version: string, private readonly log: Logger, private readonly options: LegacyOptions) {
    this.prefix = handlePrefix(os.hostname());
    this.room = new RoomAnnouncer(nc, nuid.next());
    this.direct = nc.subscribe(directWildcard(this.room.workerId), {
      callback: (err, msg) => {
        if (err || !repliesToInbox(msg, this.log)) return;
        if (headerValue(msg.headers, Header.ping)) msg.respond(EMPTY); // alive: a caller whose request fell silent asks
        else this.enqueue(functionOfDirectSubject(msg.subject), msg);
      },
    });
    // jobs waiting for, or held by, a Gearman worker are alive: tell their callers
    this.heartbeatTimer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    this.heartbeatTimer.unref();
    this.nativeTimer = setInterval(() => void this.withdrawNativelyServed().catch((err: unknown) => this.log.warn({ err }, 'could not check which functions DIPS\'s workers serve')), NATIVE_CHECK_MS);
    this.nativeTimer.unref();
  }

  private heartbeat(): void {
    const now = Date.now();
    // a plain caller's job whose deadline passed while it waited hears so now, not when a Gearman worker next asks
    for (const [fn, queue] of this.queues) {
      const live: QueuedJob[] = [];
      for (const job of queue) {
        if (job.accepts.noRoom || job.deadline > now) live.push(job);
        else this.expired(job);
      }
      if (live.length !== queue.length) this.queues.set(fn, live);
    }
    const alive = [...[...this.queues.values()].flat(), ...this.running.values()];
    for (const job of alive) if (job.accepts.events) job.msg.respond(EMPTY, { headers: eventHeaders(WORKING) });
  }

  /** Functions a connection has registered (for the admin `workers` listing). */
  abilities(conn: Connection): string[] {
    return [...(this.workers.get(conn)?.abilities.keys() ?? [])].sort();
  }

  /**
   * A worker connection closed: its functions leave the mesh. A job it held may
   * have run, or may be what crashed it: it runs again here only for a function
   * gateway.idempotentFunctions names, and only MAX_LOST_WORKERS times; any other
   * is answered with the failure, so its caller decides (a background job's
   * gateway counts an attempt against its budget, then the dead letters).
   */
  async disconnected(conn: Connection): Promise<void> {
    const state = this.workers.get(conn);
    if (!state) return;
    this.workers.delete(conn);
    for (const job of state.jobs) {
      this.running.delete(job.handle);
      job.worker = undefined;
      job.lostWorkers = (job.lostWorkers ?? 0) + 1;
      const again = this.options.idempotentFunctions.includes(job.fn) && job.lostWorkers < MAX_LOST_WORKERS;
      this.log.warn({ handle: job.handle, fn: job.fn, conn: conn.id, lostWorkers: job.lostWorkers }, again ? 'Gearman worker disconnected mid-job; running it again' : 'Gearman worker disconnected mid-job; its caller is told');
      if (again) this.requeue(job);
      else this.lost(job);
    }
    await Promise.all([...state.abilities.values()].map((service) => service.stop()));
    for (const fn of state.abilities.keys()) this.sendBackIfNobodyCan(fn);
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    clearInterval(this.nativeTimer);
    await this.direct.drain();
  }

  private state(conn: Connection): WorkerState {
    let state = this.workers.get(conn);
    if (!state) {
      state = { abilities: new Map(), registering: new Set(), sleeping: false, jobs: new Set() };
      this.workers.set(conn, state);
    }
    return state;
  }

  /** CAN_DO: the connection's worker can run `fn` (a name handlers/worker.ts checked on the wire); it joins the mesh as a worker for it. */
  async canDo(conn: Connection, fn: string): Promise<void> {
    // Whoever connects may CAN_DO: a Gearman worker serving one of DIPS's own functions would receive callers' photos
    if (!legacyMayServe(fn, this.options.legacyFunctions)) {
      conn.sendError(ErrorName.notAllowed, `Gearman workers may not serve ${JSON.stringify(fn)} through this gateway (gateway.legacyFunctions: ${this.options.legacyFunctions.join(',')})`);
      return;
    }
    const state = this.state(conn);
    if (state.abilities.has(fn) || state.registering.has(fn)) return;
    if (state.abilities.size + state.registering.size >= this.options.maxAbilities) {
      conn.sendError(ErrorName.notAllowed, `One connection may register at most ${this.options.maxAbilities} functions (gateway.maxAbilities)`);
      return;
    }
    state.registering.add(fn);
    // nor a function DIPS's workers serve from a deployed bundle, unless the operator names it
    if (!this.options.legacyFunctions.includes(fn) && (await this.options.nativelyServed?.([fn]))?.has(fn)) {
      state.registering.delete(fn);
      conn.sendError(ErrorName.notAllowed, nativeRefusal(fn));
      return;
    }
    // a Gearman worker cannot say whether running a job twice is harmless: the operator does (gateway.idempotentFunctions)
    const f = {
      fn, version: this.version, description: `Gearman worker ${conn.clientId} via gateway ${this.id}`,
      metadata: { host: conn.remote, pid: `gearman-${conn.id}`, kind: 'gearman-worker', gateway: this.id, idempotent: String(this.options.idempotentFunctions.includes(fn)) },
    };
    const service = await registerFunction(this.nc, f).finally(() => state.registering.delete(fn));
    if (conn.isClosed || this.workers.get(conn) !== state) {
      await service.stop(); // gone while we registered
      return;
    }
    state.abilities.set(fn, service);
    takeJobs(service, f, this.log, (msg) => this.enqueue(fn, msg));
    // jobs for it may be waiting at callers (submitted before any worker could do it)
    this.room.announce(fn, this.free(fn));
  }

  /**
   * A function Gearman workers registered before DIPS's own workers served it
   * (a bundle deployed later): their registrations leave the mesh, so callers'
   * jobs reach only the native workers. Checked every NATIVE_CHECK_MS while
   * any such registration exists.
   */
  private async withdrawNativelyServed(): Promise<void> {
    const unnamed = new Set<string>();
    for (const state of this.workers.values()) for (const fn of state.abilities.keys()) if (!this.options.legacyFunctions.includes(fn)) unnamed.add(fn);
    if (unnamed.size === 0 || !this.options.nativelyServed) return;
    const native = await this.options.nativelyServed([...unnamed]);
    for (const fn of native) {
      const holders = this.capable(fn);
      this.log.warn({ fn, workers: holders.map((c) => c.id) }, 'DIPS\'s own workers serve a function Gearman workers registered: their registrations leave the mesh (gateway.legacyFunctions may name it)');
      for (const conn of holders) {
        conn.sendError(ErrorName.notAllowed, nativeRefusal(fn));
        await this.cantDo(conn, fn);
      }
    }
  }

  /** CANT_DO: no longer. */
  async cantDo(conn: Connection, fn: string): Promise<void> {
    const state = this.workers.get(conn);
    const service = state?.abilities.get(fn);
    if (!state || !service) return;
    state.abilities.delete(fn);
    await service.stop();
    this.sendBackIfNobodyCan(fn);
  }

  private capable(fn: string): Connection[] {
    return [...this.workers].filter(([, s]) => s.abilities.has(fn)).map(([c]) => c);
  }

  /** Jobs for `fn` this gateway can take now: its idle Gearman workers for it, less the jobs already waiting for them. */
  private free(fn: string): number {
    const idle = [...this.workers.values()].filter((s) => s.abilities.has(fn) && s.jobs.size === 0).length;
    return idle - (this.queues.get(fn)?.length ?? 0);
  }

  private enqueue(fn: string, msg: JobMsg): void {
    const accepts = acceptsOf(msg.headers);
    const place = placeOf(msg.headers);
    if (this.free(fn) <= 0 || (accepts.noRoom && this.owesEarlier(fn, place))) {
      if (accepts.noRoom) {
        // every Gearman worker for it is busy: the job waits at its caller, in order, until room frees here
        this.noteBounce(fn, place);
        this.room.owe(fn);
        respondNoRoom(msg);
        return;
      }
      if (this.plainBytes + msg.data.length > this.options.maxWaitingBytes) {
        respondError(msg, ErrorCode.busy, `${fn}: gateway full: ${this.plainBytes} bytes of jobs already wait here for a Gearman worker, limit ${this.options.maxWaitingBytes} (queue.maxWaitingBytes); try again, or send Dips-Accept: no-room to wait at your side`, this.room.workerId, 0, 'BUSY');
        return;
      }
    }
    const owed = this.bounced.get(fn);
    if (owed && !after(place, owed)) this.bounced.delete(fn);
    const seq = ++this.counter;
    const deadline = Number(msg.headers?.get(Header.deadline));
    const job: QueuedJob = {
      seq,
      handle: gearmanHandle(msg.headers?.get(Header.jobId)) ?? `${this.prefix}${seq}`,
      fn,
      unique: msg.headers?.get(Header.unique) || msg.headers?.get(Header.jobId) || '',
      data: msg.data,
      msg,
      deadline: deadline > 0 ? deadline : Date.now() + this.options.defaultDeadlineMs,
      deadlineNote: deadline > 0 ? '' : defaultDeadlineNote(this.options.defaultDeadlineMs),
      accepts,
    };
    if (!accepts.noRoom) this.plainBytes += job.data.length;
    const queue = this.queues.get(fn) ?? [];
    queue.push(job);
    this.queues.set(fn, queue);
    this.wake(fn);
  }

  /**
   * gearmand's waiting worker grabs the highest priority that has arrived, the
   * oldest first. Here jobs arrive one by one: a HIGH job bounced while every
   * worker was busy is on its way back to its caller when a slot frees, and a
   * LOW job probing the queue group in that moment must not take the slot from
   * it. So a job placed after one bounced within OWED_MS (see placeOf) is
   * bounced too; the slot waits for the earlier one, or OWED_MS if it never
   * comes back.
   */
  private owesEarlier(fn: string, place: Place): boolean {
    const owed = this.bounced.get(fn);
    if (!owed) return false;
    if (Date.now() - owed.at > OWED_MS) {
      this.bounced.delete(fn);
      return false;
    }
    return after(place, owed);
  }

  private noteBounce(fn: string, place: Place): void {
    const owed = this.bounced.get(fn);
    if (!owed || !after(place, owed) || Date.now() - owed.at > OWED_MS) this.bounced.set(fn, { ...place, at: Date.now() });
  }

  private requeue(job: QueuedJob): void {
    if (this.capable(job.fn).length === 0) {
      this.giveBack(job); // back to its caller, to wait for a worker
      return;
    }
    const queue = this.queues.get(job.fn) ?? [];
    queue.unshift(job);
    this.queues.set(job.fn, queue);
    this.wake(job.fn);
  }

  /** gearmand wakes every sleeping worker that can take the job; the first GRAB wins. */
  private wake(fn: string): void {
    for (const conn of this.capable(fn)) {
      const state = this.workers.get(conn)!;
      if (!state.sleeping) continue;
      state.sleeping = false;
      this.options.wire.wake(conn);
    }
  }

  /** PRE_SLEEP: woken with NOOP when a job for it arrives. */
  preSleep(conn: Connection): void {
    const state = this.state(conn);
    state.sleeping = true;
    if ([...state.abilities.keys()].some((fn) => (this.queues.get(fn)?.length ?? 0) > 0)) {
      state.sleeping = false;
      this.options.wire.wake(conn);
    }
  }

  /** GRAB_JOB(_UNIQ/_ALL): the oldest job it can do, or NO_JOB. */
  grab(conn: Connection, withUnique: boolean): void {
    const state = this.state(conn);
    state.sleeping = false;
    const job = this.takeOldest(state);
    if (!job) {
      this.options.wire.noJob(conn);
      return;
    }
    job.worker = conn;
    state.jobs.add(job);
    // the same handle twice at once (a job sent again while its first copy still runs): results must find their copy
    if (this.running.has(job.handle)) job.handle = `${this.prefix}${job.seq}`;
    this.running.set(job.handle, job);
    if (job.accepts.events) job.msg.respond(EMPTY, { headers: eventHeaders(WORKING) }); // a worker holds it: GET_STATUS says running
    this.options.wire.assign(conn, job, withUnique);
  }

  /** The oldest live job among the worker's functions; jobs whose caller gave up are dropped on the way. */
  private takeOldest(state: WorkerState): QueuedJob | undefined {
    let best: QueuedJob | undefined;
    for (const fn of state.abilities.keys()) {
      const queue = this.queues.get(fn);
      while (queue?.length && queue[0].deadline <= Date.now()) this.expired(queue.shift()!);
      const head = queue?.[0];
      if (head && (!best || head.seq < best.seq)) best = head;
    }
    if (best) this.queues.get(best.fn)!.shift();
    return best;
  }

  /** A waiting job's caller gave up: a plain caller, which may still listen, hears why. */
  private expired(job: QueuedJob): void {
    if (job.accepts.noRoom) return;
    this.plainBytes -= job.data.length;
    respondError(job.msg, ErrorCode.timeout, `${job.fn}: no Gearman worker was free before the deadline${job.deadlineNote}`, this.room.workerId, 0, 'TIMEOUT', true);
  }

  /**
   * Nobody here can run the job any more: a bouncing caller takes it back to
   * wait for a worker anywhere; a plain caller is told (503) and may call again.
   */
  private giveBack(job: QueuedJob): void {
    if (job.accepts.noRoom) {
      respondNoRoom(job.msg);
      return;
    }
    this.plainBytes -= job.data.length;
    respondError(job.msg, ErrorCode.noWorker, `${job.fn}: the Gearman workers that served it left this gateway; call again`, this.room.workerId, 0, 'NO_WORKER');
  }

  /** A job whose Gearman worker disconnected while it ran, not run again: its caller hears why. */
  private lost(job: QueuedJob): void {
    if (!job.accepts.noRoom) this.plainBytes -= job.data.length;
    const why = job.lostWorkers! > 1 ? `its Gearman workers disconnected ${job.lostWorkers} times while running it` : 'its Gearman worker disconnected while running it';
    respondError(job.msg, ErrorCode.internal, `${job.fn}: ${why}; not run again here (it may have run; gateway.idempotentFunctions names the functions that may run twice)`, this.room.workerId, 0, 'INTERNAL');
  }

  /** WORK_*: progress and the end of a job it holds. */
  work(conn: Connection, report: WorkReport): void {
    const { handle } = report;
    const job = this.running.get(handle);
    if (!job || job.worker !== conn) {
      conn.sendError(ErrorName.jobNotFound, 'Job given in work result not found');
      return;
    }
    // a plain caller gets one reply: no streamed events, and data streamed before WORK_COMPLETE is part of its result
    if (!job.accepts.events && (report.kind === 'data' || report.kind === 'warning' || report.kind === 'status')) {
      if (report.kind === 'data') (job.chunks ??= []).push(Buffer.from(report.data));
      return;
    }
    switch (report.kind) {
      case 'data':
      case 'warning':
        job.msg.respond(Buffer.from(report.data), { headers: eventHeaders(report.kind) });
        return;
      case 'status':
        job.msg.respond(statusPayload(report.numerator, report.denominator), { headers: eventHeaders('status') });
        return;
      case 'complete': {
        const result = job.chunks ? Buffer.concat([...job.chunks, report.data]) : Buffer.from(report.data);
        job.msg.respond(result, { headers: resultHeaders(this.room.workerId, 1, 'application/octet-stream') });
        break;
      }
      case 'fail':
        respondError(job.msg, ErrorCode.workFail, `${job.fn}: the Gearman worker reported failure`, this.room.workerId);
        break;
      case 'exception':
        respondError(job.msg, ErrorCode.internal, report.data.toString('utf8') || `${job.fn}: the Gearman worker raised an exception`, this.room.workerId);
        break;
    }
    this.running.delete(handle);
    if (!job.accepts.noRoom) this.plainBytes -= job.data.length;
    this.workers.get(conn)?.jobs.delete(job);
    this.room.settle((fn) => this.free(fn));
  }

  /** The last Gearman worker for `fn` left: its waiting jobs go back to their callers, to wait for a worker anywhere. */
  private sendBackIfNobodyCan(fn: string): void {
    if (this.capable(fn).length > 0) return;
    const queue = this.queues.get(fn) ?? [];
    this.queues.delete(fn);
    for (const job of queue) this.giveBack(job);
  }
}

/**
 * The handle a gateway gave the job (its Dips-Job-Id), when it is one: a Gearman
 * worker then sees the handle its client got with JOB_CREATED, so logs,
 * WORK_STATUS and GET_STATUS of both ends name the same job.
 */
function gearmanHandle(jobId: string | undefined): string | undefined {
  return jobId && jobId.length <= MAX_HANDLE_BYTES && /^H:[\x21-\x7e]+:\d+$/.test(jobId) ? jobId : undefined;
}
