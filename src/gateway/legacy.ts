/**
 * Legacy Gearman workers joining the mesh through a gateway. While a PHP
 * (or any libgearman) worker connected here can do a function, the gateway
 * registers it on NATS like a native worker — one service per worker and
 * function, queue group = function, so discovery counts it — and feeds it jobs
 * the way gearmand does: jobs wait here, sleeping workers get NOOP, an idle
 * worker GRABs one. Its WORK_DATA / WARNING / STATUS stream back to the caller
 * in order; WORK_COMPLETE / FAIL / EXCEPTION end the job. A job whose worker
 * disconnects runs again on another worker here, or is handed back to NATS
 * (busy) so the caller's retry finds a worker elsewhere.
 */
import os from 'node:os';
import { headers as natsHeaders, type NatsConnection, type Service, type ServiceMsg } from 'nats';
import { ErrorCode, headerSafe } from '../shared/errors.js';
import { eventHeaders, HEARTBEAT_MS, statusPayload, WORKING } from '../shared/events.js';
import { Header } from '../shared/headers.js';
import type { Logger } from '../shared/log.js';
import { functionSubject, isValidFunctionName, SERVICE_NAME } from '../shared/subjects.js';
import type { Connection } from './connection.js';
import { ErrorName, PacketType } from './protocol/constants.js';
import type { Packet } from './protocol/parser.js';

interface QueuedJob {
  handle: string;
  fn: string;
  unique: string;
  data: Uint8Array;
  msg: ServiceMsg;
  deadline: number;
  worker?: Connection;
}

interface WorkerState {
  abilities: Map<string, Service>;
  sleeping: boolean;
  jobs: Set<QueuedJob>;
}

/** Jobs that may wait here per legacy worker able to run them; past that, callers are sent elsewhere. */
const QUEUE_PER_WORKER = 2;

export class LegacyBridge {
  private readonly workers = new Map<Connection, WorkerState>();
  private readonly queues = new Map<string, QueuedJob[]>();
  private readonly running = new Map<string, QueuedJob>();
  private counter = 0;
  readonly id = `${os.hostname()}:${process.pid}`;

  constructor(private readonly nc: NatsConnection, private readonly version: string, private readonly log: Logger) {
    // jobs waiting for, or held by, a Gearman worker are alive: tell their callers
    setInterval(() => this.heartbeat(), HEARTBEAT_MS).unref();
  }

  private heartbeat(): void {
    const alive = [...[...this.queues.values()].flat(), ...this.running.values()];
    for (const job of alive) job.msg.respond(new Uint8Array(0), { headers: eventHeaders(WORKING) });
  }

  /** Functions a connection has registered (for the admin `workers` listing). */
  abilities(conn: Connection): string[] {
    return [...(this.workers.get(conn)?.abilities.keys() ?? [])].sort();
  }

  /** Returns false when the packet is not a worker packet. */
  handle(conn: Connection, packet: Packet): boolean {
    const arg = (i: number) => packet.args[i]?.toString('latin1') ?? '';
    switch (packet.type) {
      case PacketType.CAN_DO:
      case PacketType.CAN_DO_TIMEOUT:
        void this.canDo(conn, arg(0));
        return true;
      case PacketType.CANT_DO:
        void this.cantDo(conn, arg(0));
        return true;
      case PacketType.RESET_ABILITIES:
        for (const fn of this.abilities(conn)) void this.cantDo(conn, fn);
        return true;
      case PacketType.PRE_SLEEP:
        this.preSleep(conn);
        return true;
      case PacketType.GRAB_JOB:
      case PacketType.GRAB_JOB_UNIQ:
      case PacketType.GRAB_JOB_ALL:
        this.grab(conn, packet.type);
        return true;
      case PacketType.WORK_DATA:
      case PacketType.WORK_WARNING:
      case PacketType.WORK_STATUS:
      case PacketType.WORK_COMPLETE:
      case PacketType.WORK_FAIL:
      case PacketType.WORK_EXCEPTION:
        this.work(conn, packet);
        return true;
      case PacketType.ALL_YOURS:
        return true; // gearmand ignores it too
      default:
        return false;
    }
  }

  /** A worker connection closed: its functions leave the mesh, its jobs run again elsewhere. */
  async disconnected(conn: Connection): Promise<void> {
    const state = this.workers.get(conn);
    if (!state) return;
    this.workers.delete(conn);
    for (const job of state.jobs) {
      this.running.delete(job.handle);
      job.worker = undefined;
      this.log.warn({ handle: job.handle, fn: job.fn, conn: conn.id }, 'Gearman worker disconnected mid-job; running it again');
      this.requeue(job, true);
    }
    await Promise.all([...state.abilities.values()].map((service) => service.stop()));
    for (const fn of state.abilities.keys()) this.flushIfNobodyCan(fn);
  }

  private state(conn: Connection): WorkerState {
    let state = this.workers.get(conn);
    if (!state) {
      state = { abilities: new Map(), sleeping: false, jobs: new Set() };
      this.workers.set(conn, state);
    }
    return state;
  }

  private async canDo(conn: Connection, fn: string): Promise<void> {
    if (!isValidFunctionName(fn)) {
      conn.sendError(ErrorName.invalidArgument, `Function names are letters, digits, '_' and '-' (1-64), got ${JSON.stringify(fn)}`);
      return;
    }
    const state = this.state(conn);
    if (state.abilities.has(fn)) return;
    const service = await this.nc.services.add({
      name: SERVICE_NAME,
      version: this.version,
      description: `Gearman worker ${conn.clientId} via gateway ${this.id}`,
      queue: fn,
      metadata: { function: fn, host: conn.remote, pid: `gearman-${conn.id}`, kind: 'gearman-worker', gateway: this.id },
    });
    if (conn.isClosed || this.workers.get(conn) !== state) {
      await service.stop(); // gone while we registered
      return;
    }
    state.abilities.set(fn, service);
    service.addEndpoint(fn, { subject: functionSubject(fn), queue: fn, handler: (err, msg) => !err && this.enqueue(fn, msg) });
  }

  private async cantDo(conn: Connection, fn: string): Promise<void> {
    const state = this.workers.get(conn);
    const service = state?.abilities.get(fn);
    if (!state || !service) return;
    state.abilities.delete(fn);
    await service.stop();
    this.flushIfNobodyCan(fn);
  }

  private capable(fn: string): Connection[] {
    return [...this.workers].filter(([, s]) => s.abilities.has(fn)).map(([c]) => c);
  }

  private enqueue(fn: string, msg: ServiceMsg): void {
    const queue = this.queues.get(fn) ?? [];
    const capable = this.capable(fn);
    if (capable.length === 0 || queue.length >= QUEUE_PER_WORKER * capable.length) {
      msg.respondError(ErrorCode.busy, `${fn}: busy: every Gearman worker for it on gateway ${this.id} is occupied`);
      return;
    }
    const job: QueuedJob = {
      handle: `H:${this.id}:L${++this.counter}`,
      fn,
      unique: msg.headers?.get(Header.unique) || msg.headers?.get(Header.jobId) || '',
      data: msg.data,
      msg,
      deadline: Number(msg.headers?.get(Header.deadline)) || Date.now() + 60_000,
    };
    queue.push(job);
    this.queues.set(fn, queue);
    this.wake(fn);
  }

  private requeue(job: QueuedJob, front: boolean): void {
    if (this.capable(job.fn).length === 0) {
      job.msg.respondError(ErrorCode.busy, `${job.fn}: the Gearman worker running it went away; try another`);
      return;
    }
    const queue = this.queues.get(job.fn) ?? [];
    if (front) queue.unshift(job);
    else queue.push(job);
    this.queues.set(job.fn, queue);
    this.wake(job.fn);
  }

  /** gearmand wakes every sleeping worker that can take the job; the first GRAB wins. */
  private wake(fn: string): void {
    for (const conn of this.capable(fn)) {
      const state = this.workers.get(conn)!;
      if (!state.sleeping) continue;
      state.sleeping = false;
      conn.send(PacketType.NOOP, []);
    }
  }

  private preSleep(conn: Connection): void {
    const state = this.state(conn);
    state.sleeping = true;
    if ([...state.abilities.keys()].some((fn) => (this.queues.get(fn)?.length ?? 0) > 0)) {
      state.sleeping = false;
      conn.send(PacketType.NOOP, []);
    }
  }

  private grab(conn: Connection, type: number): void {
    const state = this.state(conn);
    state.sleeping = false;
    const job = this.takeOldest(state);
    if (!job) {
      conn.send(PacketType.NO_JOB, []);
      return;
    }
    job.worker = conn;
    state.jobs.add(job);
    this.running.set(job.handle, job);
    if (type === PacketType.GRAB_JOB) conn.send(PacketType.JOB_ASSIGN, [job.handle, job.fn, job.data]);
    else conn.send(PacketType.JOB_ASSIGN_UNIQ, [job.handle, job.fn, job.unique, job.data]);
  }

  /** The oldest live job among the worker's functions; jobs whose caller gave up are dropped on the way. */
  private takeOldest(state: WorkerState): QueuedJob | undefined {
    let best: { fn: string; job: QueuedJob } | undefined;
    for (const fn of state.abilities.keys()) {
      const queue = this.queues.get(fn);
      while (queue?.length && queue[0].deadline <= Date.now()) queue.shift();
      const head = queue?.[0];
      if (head && (!best || Number(head.handle.split(':L')[1]) < Number(best.job.handle.split(':L')[1]))) best = { fn, job: head };
    }
    if (best) this.queues.get(best.fn)!.shift();
    return best?.job;
  }

  private work(conn: Connection, packet: Packet): void {
    const handle = packet.args[0]?.toString('latin1') ?? '';
    const job = this.running.get(handle);
    if (!job || job.worker !== conn) {
      conn.sendError(ErrorName.jobNotFound, 'Job given in work result not found');
      return;
    }
    const data = packet.args[packet.type === PacketType.WORK_STATUS ? 2 : 1] ?? Buffer.alloc(0);
    switch (packet.type) {
      case PacketType.WORK_DATA:
        job.msg.respond(Buffer.from(data), { headers: eventHeaders('data') });
        return;
      case PacketType.WORK_WARNING:
        job.msg.respond(Buffer.from(data), { headers: eventHeaders('warning') });
        return;
      case PacketType.WORK_STATUS:
        job.msg.respond(statusPayload(Number(packet.args[1]?.toString('latin1')) || 0, Number(data.toString('latin1')) || 0), { headers: eventHeaders('status') });
        return;
      case PacketType.WORK_COMPLETE: {
        const h = natsHeaders();
        h.set(Header.contentType, 'application/octet-stream');
        job.msg.respond(Buffer.from(data), { headers: h });
        break;
      }
      case PacketType.WORK_FAIL:
        job.msg.respondError(ErrorCode.workFail, `${job.fn}: the Gearman worker reported failure`);
        break;
      case PacketType.WORK_EXCEPTION:
        job.msg.respondError(ErrorCode.internal, headerSafe(data.toString('utf8')) || `${job.fn}: the Gearman worker raised an exception`);
        break;
    }
    this.running.delete(handle);
    this.workers.get(conn)?.jobs.delete(job);
  }

  private flushIfNobodyCan(fn: string): void {
    if (this.capable(fn).length > 0) return;
    const queue = this.queues.get(fn) ?? [];
    this.queues.delete(fn);
    for (const job of queue) job.msg.respondError(ErrorCode.busy, `${fn}: no Gearman worker for it is left on gateway ${this.id}; try another`);
  }
}
