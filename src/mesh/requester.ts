/**
 * Requests to DIPS functions over NATS, with the failure handling every caller
 * (native client, gateway) needs and nats.js's request() does not give:
 *
 * - jobs wait here, in order and by priority, while every worker of their
 *   function is full or none serves it yet (see room.ts), bounded by bytes;
 * - one muxed reply subscription, so a request can be cancelled or re-sent;
 * - a request that may have been lost with a NATS node (we reconnected while
 *   it was pending) or with a killed worker is sent again, if the function is
 *   idempotent;
 * - the caller's deadline travels in a header so workers skip abandoned work.
 *
 * The mesh protocol (src/mesh), in one glossary — each word means one thing:
 *
 * - function: what a caller names (`ecard`); its subject is `dips.fn.<token>`
 *   and its queue group the token (subjects.ts).
 * - job: one request to run a function with its input. Each side holds its own
 *   view of it: a caller's Call (here), a worker's Job (what run() receives,
 *   src/services/job.ts; RunningJob is the runtime's), a Gearman gateway's Job
 *   (its table, src/gateway/jobs.ts; StoredJob its record on disk), and a
 *   WatchedJob (events.ts: a job a worker holds, beating while it runs).
 * - room: how many more jobs of a function a worker will take now; offered in
 *   replies and announced on `dips.room.<token>` (room.ts). No room: the job
 *   bounces back to its caller and waits here (accept.ts says who may bounce).
 * - gate: a function's waiting jobs at one caller, and whether new ones may go
 *   straight to the queue group.
 * - direct subject: `dips.fn.<token>.<worker id>`, one worker's own, where a
 *   caller sends a job it knows that worker has room for.
 * - event: what a worker streams before the result (data, warning, status:
 *   JobEvent, events.ts) and the `working` beat that says a job is alive. A
 *   gateway tells its Gearman clients with a JobNotice.
 * - silence: no reply and no beat within the timing.ts limits; a silent job of
 *   an idempotent function is sent again (a resend), straight to a worker heard
 *   lately.
 * - CallError: how a call fails for its caller (call-error.ts), a DipsError with
 *   a retryable flag.
 * - timing: every timing default is named in timing.ts; every use of nats.js
 *   internals is in nats-internals.ts.
 */
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { REQUESTER_ACCEPT } from './accept.js';
import { ErrorCode } from '../shared/errors.js';
import { EVENT_HEADER, WORKING } from './events.js';
import { Header, headerValue } from './headers.js';
import { ReplyInbox } from './inbox.js';
import { BIG_JOB_BYTES, decodeRoom, isPausedNotice, NO_ROOM_HEADER } from './room.js';
import { directSubject, functionSubject, isValidFunctionName, isWorkerId, roomSubject, workerOfDirectSubject } from './subjects.js';
import { sealHeaders } from './sealed-headers.js';
import { TurnBatch } from './turn-batch.js';
import { WaitQueue, type Priority } from './wait-queue.js';
import { GATE_IDLE_MS, UNSERVED_GATE_IDLE_MS, UNSERVED_PROBE_MS, MAX_GATES, BOUNCE_RETRIES, PROBE_MS, BIG_PROBE_MS, TICK_MS, LIVENESS_EVERY_TICKS, DEFAULT_RUN_TIMEOUT_MS, DISTRUST_MS, ACK_TIMEOUT_MS, LIVENESS_TIMEOUT_MS } from './timing.js';
import { WorkerLiveness } from './liveness.js';
import { CallError, cancelledError, workerError } from './call-error.js';

export type { Priority };

export interface RequestOptions {
  /** How long the caller waits, queueing included; null: until it runs (background jobs). */
  timeoutMs: number | null;
  /**
   * With no overall deadline: how long one attempt may run on a worker
   * (default 60 s) — its Dips-Deadline, and enforced here: past it the call
   * fails with a timeout even while the worker keeps saying `working`.
   */
  runTimeoutMs?: number;
  /** The setting that gave runTimeoutMs, named when it ends a call. */
  runTimeoutName?: string;
  headers?: MsgHdrs;
  /** Extra sends allowed after a lost attempt. */
  retries?: number;
  /** Only idempotent work is sent again after a possible loss. */
  idempotent?: boolean;
  /** Place in the wait queue while every worker is full (default normal). */
  priority?: Priority;
  /** Called with each intermediate message (streamed data, warnings, status) before the final reply. */
  onEvent?: (msg: Msg) => void;
  /** Called once, when a worker first says it holds the job. */
  onAssigned?: () => void;
  /** Aborting it withdraws the call: a waiting job never runs; a running one's result is dropped. */
  signal?: AbortSignal;
  /** Traces its sends (src/shared/tracing.ts callTrace); absent: the process's tracing hook decides (none when tracing is off). */
  trace?: CallTrace;
}

/** How one send of a call ended, for its trace. */
export interface AttemptEnd {
  /** 'ok', or what ended it: a failure's kind, NO_ROOM (bounced), LOST (silent, sent again). */
  outcome: string;
  /** The worker that answered. */
  worker?: string;
  error?: CallError;
}

/**
 * Tracing of one call's sends: `send` starts an attempt (and puts its trace
 * context in the headers), the function it returns ends it. Kept free of
 * OpenTelemetry types: the caller-only client package does not carry the SDK.
 */
export interface CallTrace {
  send(headers: MsgHdrs, attempt: number, subject: string): (end: AttemptEnd) => void;
}

let callTracing: ((fn: string) => CallTrace | undefined) | undefined;

/** Set by src/shared/tracing.ts when tracing starts: calls without a trace of their own ask it for one. */
export function setCallTracing(hook: (fn: string) => CallTrace | undefined): void {
  callTracing = hook;
}

export interface RequesterOptions {
  /** Bytes of payload that may wait or run through this requester at once; past it a call is refused. */
  maxPendingBytes: number;
  /** Config key that sets it, named in the refusal. */
  limitName?: string;
  /** How long a function nobody calls keeps its gate and room subscription (default GATE_IDLE_MS). */
  gateIdleMs?: number;
}

interface Call {
  token: string;
  seq: number;
  fn: string;
  priority: Priority;
  data: Uint8Array;
  headers: MsgHdrs;
  /** Extra sends allowed after a silence. */
  retries: number;
  retriesLeft: number;
  /** Resends made on the connection generation `sentIn`: given back if that connection is lost (they went nowhere). */
  resendsInGeneration: number;
  idempotent: boolean;
  /** Epoch ms the caller stops waiting; undefined: never. */
  deadline?: number;
  runTimeoutMs: number;
  runTimeoutName?: string;
  state: 'waiting' | 'sent';
  /** When it was last sent to a worker (its run time counts from there). */
  sentAt: number;
  /** Connection generation (count of reconnects) when last sent. */
  sentIn: number;
  /** The worker it was last sent to directly (a hand-off, room, a resend); undefined: the queue group. */
  sentTo?: string;
  /** When we last sent it or heard anything about it (events, `working`). */
  lastHeard: number;
  /** Anything heard since the last send (an answer is on its way). */
  acknowledged: boolean;
  assigned: boolean;
  /** Since when the server says nobody serves the function (cleared by any worker's answer). */
  noWorkerSince?: number;
  done: CallDone;
  timer?: NodeJS.Timeout;
  onEvent?: (msg: Msg) => void;
  onAssigned?: () => void;
  trace?: CallTrace;
  /** Sends so far (its trace's attempt numbers). */
  sends: number;
  /** Ends the trace of the send under way. */
  endAttempt?: (end: AttemptEnd) => void;
}

/** How a call ends: an error, or the final reply. */
export type CallDone = (err: CallError | undefined, msg?: Msg) => void;

/** A call under way. */
export interface CallHandle {
  /** Withdraw it: a waiting job never runs, a running one's result is dropped; its caller gets a `cancelled` error. */
  cancel(): void;
}

const NOTHING_TO_CANCEL: CallHandle = { cancel: () => undefined };
const EMPTY_BODY = new Uint8Array(0);
const PING_HEADERS = sealHeaders([Header.ping, '1']);

/** One function's waiting jobs, and whether new jobs may go straight to its queue group. */
interface Gate {
  fn: string;
  queue: WaitQueue<Call>;
  /** No worker was found full or missing since the queue last emptied. */
  open: boolean;
  /** No-room answers while open (a burst closes it after BOUNCE_RETRIES). */
  bounces: number;
  roomSub: Subscription;
  lastRoomAt: number;
  lastProbeAt: number;
  /** When a worker said an operator paused the function (cleared by any room or answer). */
  pausedAt?: number;
  /** Its workers known alive, and whether its queue group is trusted after a silence (liveness.ts). */
  liveness: WorkerLiveness;
  /** When a job of this function was last dispatched: a gate idle for GATE_IDLE_MS is dropped with its subscription. */
  usedAt: number;
  /** Whether a worker ever answered or offered room for it (one nobody served goes after UNSERVED_GATE_IDLE_MS). */
  served: boolean;
  /** Calls of this function not yet ended, waiting or sent: a gate with any is never idle. */
  calls: number;
}



export class Requester {
  private readonly inbox: ReplyInbox;
  private readonly pending = new Map<string, Call>();
  private readonly gates = new Map<string, Gate>();
  private generation = 0;
  private nextToken = 0;
  private ticks = 0;
  /** Pings awaiting an answer, by reply token: which worker of which function, and which round. */
  private readonly pings = new Map<string, { gate: Gate; worker: string; at: number }>();
  private pendingBytes = 0;
  /** When full gates were last swept for idle ones (see start()). */
  private sweptAt = 0;
  /** Hand-offs of one turn of the event loop, made together once callers' next jobs have joined the queues. */
  private readonly handOffs = new TurnBatch<{ fn: string; workerId: string; room: number }>((h) => this.handOff(h.fn, h.workerId, h.room));
  private readonly ticker: NodeJS.Timeout;
  /** Requests sent again (lost with a NATS node or a worker): for soak reports and metrics. */
  resent = 0;

  constructor(private readonly nc: NatsConnection, private readonly options: RequesterOptions) {
    this.inbox = new ReplyInbox(nc, (token, msg) => this.onReply(token, msg), (token, msg) => this.onPong(token, msg));
    void this.watchReconnects();
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.ticker.unref();
  }

  get outstanding(): number {
    return this.pending.size;
  }

  /** Functions with a gate (and so a room subscription): bounded by how many were called within the idle time. */
  get gateCount(): number {
    return this.gates.size;
  }

  /** Jobs waiting for room, by function and priority. */
  waiting(): Map<string, Record<Priority, number>> {
    const out = new Map<string, Record<Priority, number>>();
    for (const [fn, gate] of this.gates) {
      const q = gate.queue;
      if (q.length) out.set(fn, { high: q.lengthOf('high'), normal: q.lengthOf('normal'), low: q.lengthOf('low') });
    }
    return out;
  }

  get bytesPending(): number {
    return this.pendingBytes;
  }

  /** Call a function; resolves with the final reply message, rejects with CallError. */
  call(fn: string, data: Uint8Array, options: RequestOptions): Promise<Msg> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(cancelledError(fn));
    return new Promise<Msg>((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      let ended = false;
      const call = this.start(fn, data, options, (err, msg) => {
        ended = true;
        if (onAbort) signal!.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(msg!);
      });
      if (signal && !ended) {
        onAbort = () => call.cancel();
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /**
   * The same as call() with a callback, for a caller that makes a call per
   * job at thousands a second (the gateway): no promise, no AbortSignal.
   * `done` runs exactly once; `cancel()` withdraws the call as an aborted signal would.
   */
  start(fn: string, data: Uint8Array, options: Omit<RequestOptions, 'signal'>, done: CallDone): CallHandle {
    // whatever path a name came by (a stored job, a URL, a program): one that cannot be a subject token never reaches NATS
    if (!isValidFunctionName(fn)) {
      done(new CallError(ErrorCode.badRequest, `not a function name (1 to 512 bytes of UTF-8 text without NUL): ${JSON.stringify(fn.slice(0, 100))}`, { kind: 'BAD_REQUEST' }));
      return NOTHING_TO_CANCEL;
    }
    if (!this.gates.has(fn) && this.gates.size >= MAX_GATES) {
      // at most one sweep per tick: a flood of names must not cost a sweep each
      const now = Date.now();
      if (now - this.sweptAt >= TICK_MS) {
        this.sweptAt = now;
        this.dropIdleGates(now);
      }
      if (this.gates.size >= MAX_GATES) {
        done(new CallError(ErrorCode.busy, `${fn}: jobs wait here for ${this.gates.size} functions already, the most one caller keeps (a flood of function names?)`, { kind: 'BUSY' }));
        return NOTHING_TO_CANCEL;
      }
    }
    if (this.pendingBytes + data.length > this.options.maxPendingBytes) {
      done(
        new CallError(
          ErrorCode.busy,
          `${fn}: queue full: ${this.pendingBytes} bytes of jobs already waiting or running here, limit ${this.options.maxPendingBytes} (${this.options.limitName ?? 'maxPendingBytes'})`,
          { kind: 'BUSY' },
        ),
      );
      return NOTHING_TO_CANCEL;
    }
    const seq = this.nextToken++;
    const token = String(seq);
    const now = Date.now();
    const p: Call = {
      token,
      seq,
      fn,
      priority: options.priority ?? 'normal',
      data,
      headers: options.headers ?? natsHeaders(),
      retries: options.retries ?? 2,
      retriesLeft: options.retries ?? 2,
      idempotent: options.idempotent ?? true,
      deadline: options.timeoutMs === null ? undefined : now + options.timeoutMs,
      runTimeoutMs: options.runTimeoutMs ?? DEFAULT_RUN_TIMEOUT_MS,
      runTimeoutName: options.runTimeoutName,
      state: 'waiting',
      sentAt: now,
      sentIn: this.generation,
      resendsInGeneration: 0,
      lastHeard: now,
      acknowledged: false,
      assigned: false,
      done,
      timer: options.timeoutMs === null ? undefined : setTimeout(() => this.fail(token, this.timeoutError(p, options.timeoutMs!)), options.timeoutMs),
      onEvent: options.onEvent,
      onAssigned: options.onAssigned,
      trace: options.trace ?? callTracing?.(fn),
      sends: 0,
      endAttempt: undefined,
    };
    // DIPS's callers keep bounced jobs and read events: workers may answer with either
    p.headers.set(Header.accept, REQUESTER_ACCEPT);
    // a worker that bounces jobs keeps a freed slot for a higher priority on its way back (the Gearman bridge does)
    if (p.priority !== 'normal') p.headers.set(Header.priority, p.priority);
    this.pending.set(token, p);
    this.pendingBytes += data.length;
    this.dispatch(p);
    return { cancel: () => this.fail(token, cancelledError(fn)) };
  }

  /** Fail every outstanding call (the caller is shutting down). */
  close(reason = 'client closed'): void {
    for (const token of [...this.pending.keys()]) this.fail(token, new CallError(ErrorCode.unavailable, reason, { kind: 'UNAVAILABLE' }));
    clearInterval(this.ticker);
    for (const gate of this.gates.values()) if (!gate.roomSub.isClosed()) gate.roomSub.unsubscribe();
    this.inbox.close();
  }

  private timeoutError(p: Call, timeoutMs: number): CallError {
    if (p.noWorkerSince !== undefined) return new CallError(ErrorCode.noWorker, `no worker for ${p.fn}: none served it within ${timeoutMs} ms`, { kind: 'NO_WORKER' });
    // it waited here and never ran: another try (later, or with more time) may find room
    if (p.state === 'waiting') return new CallError(ErrorCode.timeout, `${p.fn}: no worker had room within ${timeoutMs} ms`, { kind: 'TIMEOUT', retryable: true });
    // sent: it may have run (and may run out of time again)
    return new CallError(ErrorCode.timeout, `${p.fn}: no reply within ${timeoutMs} ms`, { kind: 'TIMEOUT', retryable: false });
  }

  private gate(fn: string): Gate {
    let gate = this.gates.get(fn);
    if (!gate) {
      gate = {
        fn,
        queue: new WaitQueue<Call>(),
        open: true,
        bounces: 0,
        roomSub: this.nc.subscribe(roomSubject(fn), { callback: (err, msg) => !err && this.onRoom(fn, msg.data) }),
        lastRoomAt: 0,
        lastProbeAt: 0,
        liveness: new WorkerLiveness(),
        usedAt: Date.now(),
        served: false,
        calls: 0,
      };
      this.gates.set(fn, gate);
    }
    return gate;
  }

  /** Gates nothing waits in, idle past GATE_IDLE_MS (or UNSERVED_GATE_IDLE_MS, for a name no worker ever served), go with their subscriptions. */
  private dropIdleGates(now: number): void {
    const idleMs = this.options.gateIdleMs ?? GATE_IDLE_MS;
    for (const [fn, gate] of this.gates) {
      if (gate.calls === 0 && now - gate.usedAt > (gate.served ? idleMs : Math.min(idleMs, UNSERVED_GATE_IDLE_MS))) {
        gate.roomSub.unsubscribe();
        this.gates.delete(fn);
      }
    }
  }

  /** Send now when the function's workers may have room and nobody waits before it; else wait in line. */
  private dispatch(p: Call): void {
    const gate = this.gate(p.fn);
    gate.usedAt = Date.now();
    gate.calls++;
    if (gate.open && gate.queue.length === 0) this.sendToGroup(gate, p);
    else this.wait(gate, p);
  }

  private wait(gate: Gate, p: Call): void {
    p.state = 'waiting';
    gate.queue.insert(p);
  }

  /** A worker has `free` slots: its share of the waiting jobs goes straight to it. */
  private onRoom(fn: string, data: Uint8Array): void {
    const gate = this.gates.get(fn);
    if (!gate) return;
    if (isPausedNotice(data)) {
      gate.pausedAt = Date.now();
      return;
    }
    const room = decodeRoom(data);
    // a room announcement names where waiting jobs go: only a worker's direct subject of this very function
    const workerId = room && workerOfDirectSubject(fn, room.subject);
    if (!room || !workerId) return;
    gate.pausedAt = undefined;
    gate.served = true;
    this.release(gate, room.subject, room.free);
  }

  /** Send up to `count` waiting jobs, oldest and highest priority first, to `subject`; an emptied queue opens the gate. */
  private release(gate: Gate, subject: string, count: number, workerId?: string): void {
    // room heard of, by announcement or hand-off: no probe is needed (a probe of a full queue group sends a whole job for nothing)
    gate.lastRoomAt = Date.now();
    let sent = 0;
    let big = false;
    for (; sent < count; sent++) {
      const p = gate.queue.shift();
      if (!p) break;
      big ||= p.data.length >= BIG_JOB_BYTES;
      this.send(p, subject, false, workerId);
    }
    // the queue emptied: new jobs may go straight to the queue group again — unless that
    // used up the room we heard of and the jobs are big (the next one would likely bounce)
    if (gate.queue.length === 0 && (sent < count || !big)) this.reopen(gate);
  }

  private reopen(gate: Gate): void {
    gate.open = true;
    gate.bounces = 0;
  }

  private send(p: Call, subject: string, again = false, workerId?: string): void {
    if (again) this.resent++;
    p.state = 'sent';
    p.sentTo = workerId;
    if (p.sentIn !== this.generation) p.resendsInGeneration = 0;
    if (again) p.resendsInGeneration++;
    p.sentIn = this.generation;
    p.lastHeard = p.sentAt = Date.now();
    p.acknowledged = false;
    p.headers.set(Header.deadline, String(p.deadline ?? Date.now() + p.runTimeoutMs));
    if (p.trace) {
      // an attempt still open was never answered: lost with a worker or a NATS node
      p.endAttempt?.({ outcome: 'LOST' });
      p.endAttempt = p.trace.send(p.headers, ++p.sends, subject);
    }
    try {
      this.nc.publish(subject, p.data, { reply: this.inbox.replyTo(p.token), headers: p.headers });
    } catch (err) {
      this.fail(p.token, new CallError(ErrorCode.internal, `${p.fn}: cannot send the request: ${(err as Error).message}`, { cause: err }));
    }
  }

  /**
   * Every TICK_MS: functions whose jobs wait without hearing of room get their
   * oldest job sent to the queue group (lost announcements, workers that came
   * up before we listened); and now and then, a sent request nobody
   * acknowledged, or whose worker went silent, was lost (with a NATS node, or
   * with a killed worker) — it is sent again while retries last.
   */
  private tick(): void {
    const now = Date.now();
    if (++this.ticks % LIVENESS_EVERY_TICKS === 0) this.checkLiveness(now);
    for (const gate of this.gates.values()) {
      const head = gate.queue.peek();
      if (!head || now - Math.max(gate.lastRoomAt, gate.lastProbeAt) < (!gate.served ? UNSERVED_PROBE_MS : head.data.length >= BIG_JOB_BYTES ? BIG_PROBE_MS : PROBE_MS)) continue;
      gate.lastProbeAt = now;
      const p = gate.queue.shift();
      if (p) this.sendToGroup(gate, p);
    }
  }

  private checkLiveness(now: number): void {
    this.dropIdleGates(now);
    for (const gate of this.gates.values()) gate.liveness.forgetSilent(now);
    for (const p of this.pending.values()) {
      if (p.state !== 'sent') continue;
      if (p.deadline === undefined && now - p.sentAt >= p.runTimeoutMs) {
        // no caller's deadline ends it (a background job): a worker that only says `working`, or went silent, must not hold it for good
        const setting = p.runTimeoutName ? ` (${p.runTimeoutName})` : '';
        this.fail(p.token, new CallError(ErrorCode.timeout, `${p.fn}: no result within ${p.runTimeoutMs} ms of running${setting}`));
        continue;
      }
      const silence = now - p.lastHeard;
      if (silence < (p.acknowledged ? LIVENESS_TIMEOUT_MS : ACK_TIMEOUT_MS)) continue;
      const gate = this.gate(p.fn);
      // a worker we sent it to straight went silent: none of its jobs go there until it answers again
      if (p.sentTo !== undefined) gate.liveness.lost(p.sentTo);
      if (p.idempotent && p.retriesLeft > 0) {
        p.retriesLeft--;
        gate.liveness.distrust(now);
        this.sendToGroup(gate, p, true);
      } else p.lastHeard = now; // nothing more to do: the overall timeout decides
    }
  }

  /**
   * Send to the function's queue group — or, while it is distrusted after a
   * silence, straight to a worker that answered within ALIVE_MS, if any.
   */
  private sendToGroup(gate: Gate, p: Call, again = false): void {
    const now = Date.now();
    if (gate.liveness.distrusted(now)) {
      const alive = gate.liveness.aliveWorker(now);
      if (alive) {
        this.send(p, directSubject(p.fn, alive), again, alive);
        return;
      }
      const round = gate.liveness.pingRound(now);
      if (round.length) this.ping(gate, round, now);
      if (gate.liveness.awaitingPongs(now)) {
        // the first worker to answer the ping takes it
        if (again) this.resent++;
        gate.open = false;
        this.wait(gate, p);
        return;
      }
    }
    this.send(p, functionSubject(p.fn), again);
  }

  /** Ask each of these workers of the gate's function whether it is there (Dips-Ping on its direct subject). */
  private ping(gate: Gate, workers: string[], now: number): void {
    for (const worker of workers) {
      const token = this.inbox.pingToken();
      this.pings.set(token, { gate, worker, at: now });
      try {
        this.nc.publish(directSubject(gate.fn, worker), EMPTY_BODY, { reply: this.inbox.replyTo(token), headers: PING_HEADERS });
      } catch {
        // the connection is closed: the reconnect sends everything again
      }
    }
    // unanswered pings are forgotten once they cannot matter
    setTimeout(() => {
      for (const [token, ping] of this.pings) if (ping.at === now && ping.gate === gate) this.pings.delete(token);
    }, DISTRUST_MS).unref();
  }

  /** A worker answered a ping: it is alive, and takes the oldest waiting job of its function. */
  private onPong(token: string, msg: Msg): void {
    const ping = this.pings.get(token);
    if (!ping) return;
    this.pings.delete(token);
    // the server's "no responders": that worker is gone
    if (msg.headers?.code === 503) {
      ping.gate.liveness.lost(ping.worker);
      return;
    }
    ping.gate.liveness.heardFrom(ping.worker, Date.now());
    if (ping.gate.queue.length) this.release(ping.gate, directSubject(ping.gate.fn, ping.worker), 1, ping.worker);
  }

  private onReply(token: string, msg: Msg): void {
    const p = this.pending.get(token);
    if (!p || p.state !== 'sent') return; // a late duplicate, or a reply to a call that ended
    const h = msg.headers;
    p.lastHeard = Date.now();
    if (h && h.code === 503 && msg.data.length === 0 && !headerValue(h, Header.serviceError)) {
      // the server says nobody serves the function (yet, or right now: workers of a
      // NATS node that just died are moving to the other one): wait for one —
      // unless an operator paused it: then say so now rather than at the deadline
      if (this.gates.get(p.fn)?.pausedAt !== undefined && p.deadline !== undefined) {
        this.fail(token, new CallError(ErrorCode.noWorker, `${p.fn} is paused: no worker takes it until \`dipsctl resume --function ${p.fn}\``, { kind: 'NO_WORKER' }));
        return;
      }
      p.noWorkerSince ??= Date.now();
      this.bounced(p);
      return;
    }
    p.noWorkerSince = undefined;
    if (headerValue(h, NO_ROOM_HEADER)) {
      this.bounced(p);
      return;
    }
    // a worker took it: only bounces in a row close the gate
    const gate = this.gates.get(p.fn);
    if (gate?.open) gate.bounces = 0;
    if (gate) {
      gate.pausedAt = undefined;
      gate.served = true;
    }
    p.acknowledged = true;
    if (!p.assigned) {
      p.assigned = true;
      p.onAssigned?.();
    }
    const event = headerValue(h, EVENT_HEADER);
    if (event) {
      if (event !== WORKING) p.onEvent?.(msg);
      return;
    }
    // the worker that answered has a free slot now: the next job waiting for this function goes
    // straight to it — after this caller's own next job, sent as it hears this answer, has joined the queue
    const worker = headerValue(h, Header.worker);
    if (isWorkerId(worker)) {
      gate?.liveness.heardFrom(worker, p.lastHeard);
      this.handOffs.add({ fn: p.fn, workerId: worker, room: Number(headerValue(h, Header.room) || 1) });
    }
    const serviceError = headerValue(h, Header.serviceError);
    const err = serviceError ? workerError(h, serviceError) : undefined;
    if (p.endAttempt) {
      p.endAttempt({ outcome: err?.kind ?? 'ok', worker, error: err });
      p.endAttempt = undefined;
    }
    if (err) {
      this.fail(token, err);
      return;
    }
    this.finish(p);
    p.done(undefined, msg);
  }

  private handOff(fn: string, workerId: string, room: number): void {
    const gate = this.gates.get(fn);
    if (!gate || gate.queue.length === 0) return;
    this.release(gate, directSubject(fn, workerId), room, workerId);
  }

  /** Nothing ran: try another member of the queue group a few times, then wait in line for room. */
  private bounced(p: Call): void {
    if (p.endAttempt) {
      p.endAttempt({ outcome: p.noWorkerSince === undefined ? 'NO_ROOM' : 'NO_WORKER' });
      p.endAttempt = undefined;
    }
    const gate = this.gate(p.fn);
    if (gate.open && ++gate.bounces <= BOUNCE_RETRIES && p.noWorkerSince === undefined && p.data.length < BIG_JOB_BYTES) {
      this.sendToGroup(gate, p);
      return;
    }
    gate.open = false;
    this.wait(gate, p);
  }

  private finish(p: Call): void {
    clearTimeout(p.timer);
    this.pending.delete(p.token);
    this.pendingBytes -= p.data.length;
    const gate = this.gates.get(p.fn);
    if (!gate) return;
    gate.calls--;
    if (p.state === 'waiting') gate.queue.remove(p);
  }

  private fail(token: string, err: CallError): void {
    const p = this.pending.get(token);
    if (!p) return;
    if (p.endAttempt) {
      p.endAttempt({ outcome: err.kind, error: err });
      p.endAttempt = undefined;
    }
    this.finish(p);
    p.done(err);
  }

  /** After a reconnect, anything sent on the old connection may be lost: send it again. */
  private async watchReconnects(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type !== 'reconnect') continue;
      const lostIn = this.generation++;
      // the node we moved to may still count the old node's workers (over its route) until its pings give up
      const now = Date.now();
      for (const gate of this.gates.values()) gate.liveness.distrust(now);
      for (const p of [...this.pending.values()]) {
        if (p.state !== 'sent' || p.sentIn > lostIn) continue;
        // resends made on the lost connection went nowhere: they do not count against the job
        if (p.idempotent && p.sentIn === lostIn) p.retriesLeft = Math.min(p.retries, p.retriesLeft + p.resendsInGeneration);
        if (p.idempotent && p.retriesLeft > 0) {
          p.retriesLeft--;
          this.sendToGroup(this.gate(p.fn), p, true);
        } else if (!p.idempotent) {
          this.fail(p.token, new CallError(ErrorCode.internal, `${p.fn}: the request may have been lost with a NATS node; not retried because ${p.fn} is not idempotent`));
        }
      }
    }
  }
}
