/**
 * Client-side packets: submitting jobs, asking their status, echo and options;
 * and the other way, a job's events turned into the packets its clients wait for.
 */
import { errorMessage } from '../../shared/errors.js';
import { PacketType, MAX_UNIQUE_SIZE, ErrorName, PACKET_NAMES } from '../protocol/constants.js';
import { endSpan, SpanKind, startSpan, tracingOn, type Span } from '../../shared/tracing.js';
import { functionNameProblem } from '../../mesh/subjects.js';
import type { Packet } from '../protocol/parser.js';
import type { PacketHandlers } from './index.js';
import type { Connection } from '../connection.js';
import { JobLimitError, type Job, type JobNotice, type JobListener, type Jobs, type Priority } from '../jobs.js';

const SUBMIT: Partial<Record<number, { priority: Priority; background: boolean }>> = {
  [PacketType.SUBMIT_JOB]: { priority: 'normal', background: false },
  [PacketType.SUBMIT_JOB_BG]: { priority: 'normal', background: true },
  [PacketType.SUBMIT_JOB_HIGH]: { priority: 'high', background: false },
  [PacketType.SUBMIT_JOB_HIGH_BG]: { priority: 'high', background: true },
  [PacketType.SUBMIT_JOB_LOW]: { priority: 'low', background: false },
  [PacketType.SUBMIT_JOB_LOW_BG]: { priority: 'low', background: true },
  // gearmand runs epoch jobs in the background at their time
  [PacketType.SUBMIT_JOB_EPOCH]: { priority: 'normal', background: true },
};

export interface ClientHandlerContext {
  jobs: Jobs;
  /** True once the gateway drains (SIGTERM): new submissions are refused, the ones taken finish. */
  draining: () => boolean;
}

/** A client connection as a job listener: job events become WORK_* packets. */
class ClientListener implements JobListener {
  constructor(private readonly conn: Connection) {}

  get id(): number {
    return this.conn.id;
  }

  jobNotice(job: Job, event: JobNotice): void {
    const conn = this.conn;
    switch (event.kind) {
      case 'assigned':
        return; // Gearman has no packet for it; GET_STATUS shows it
      case 'status':
        conn.send(PacketType.WORK_STATUS, [job.handle, String(event.numerator), String(event.denominator)]);
        return;
      case 'data':
        conn.send(PacketType.WORK_DATA, [job.handle, event.data]);
        return;
      case 'warning':
        conn.send(PacketType.WORK_WARNING, [job.handle, event.data]);
        return;
      case 'done':
        conn.send(PacketType.WORK_COMPLETE, [job.handle, event.data]);
        break;
      case 'failed':
        if (conn.exceptions && event.message !== undefined) conn.send(PacketType.WORK_EXCEPTION, [job.handle, event.message]);
        conn.send(PacketType.WORK_FAIL, [job.handle]);
        break;
    }
    conn.outstanding--;
    conn.release(job.data.length);
  }
}

const listeners = new WeakMap<Connection, ClientListener>();

/** The job listener standing for a connection (made on first use). */
export function listenerOf(conn: Connection): JobListener {
  let listener = listeners.get(conn);
  if (!listener) {
    listener = new ClientListener(conn);
    listeners.set(conn, listener);
  }
  return listener;
}

/** The client packets, by type (handlers/index.ts joins them with the worker packets into one table). */
export function clientHandlers(ctx: ClientHandlerContext): PacketHandlers {
  const handlers: PacketHandlers = {
    [PacketType.GET_STATUS]: (conn, packet) => {
      const handle = packet.args[0].toString('latin1');
      conn.send(PacketType.STATUS_RES, [handle, ...statusFields(ctx.jobs.get(handle))]);
    },
    [PacketType.GET_STATUS_UNIQUE]: (conn, packet) => {
      const unique = packet.args[0].toString('latin1');
      const job = ctx.jobs.getByUnique(unique);
      conn.send(PacketType.STATUS_RES_UNIQUE, [unique, ...statusFields(job), String(job?.listeners.length ?? 0)]);
    },
    [PacketType.ECHO_REQ]: (conn, packet) => conn.send(PacketType.ECHO_RES, [packet.args[0]]),
    [PacketType.OPTION_REQ]: (conn, packet) => {
      const option = packet.args[0].toString('latin1');
      if (option === 'exceptions') {
        conn.exceptions = true;
        conn.send(PacketType.OPTION_RES, [option]);
      } else conn.sendError(ErrorName.unknownOption, `Server does not recognize given option ${JSON.stringify(option)}`);
    },
    [PacketType.SET_CLIENT_ID]: (conn, packet) => {
      // libgearman allows only printable bytes in an id; anything else would forge rows of `workers`
      conn.clientId = packet.args[0].toString('latin1').slice(0, 64).replace(/[^\x21-\x7e]/g, '_') || '-';
    },
  };
  for (const [type, submit] of Object.entries(SUBMIT)) handlers[Number(type)] = (conn, packet) => submitJob(ctx, conn, packet, submit!.priority, submit!.background);
  return handlers;
}

/** known, running, numerator, denominator — as gearmand answers GET_STATUS. */
function statusFields(job: Job | undefined): string[] {
  return [job ? '1' : '0', job?.state === 'running' ? '1' : '0', String(job?.numerator ?? 0), String(job?.denominator ?? 0)];
}

function submitJob(ctx: ClientHandlerContext, conn: Connection, packet: Packet, priority: Priority, background: boolean): void {
  const isEpoch = packet.type === PacketType.SUBMIT_JOB_EPOCH;
  const [fnArg, uniqueArg] = packet.args;
  const epochArg = isEpoch ? packet.args[2] : undefined;
  const data = packet.args[isEpoch ? 3 : 2];
  if (data === undefined) {
    conn.sendError(ErrorName.invalidArgument, 'Submission is missing arguments (function, unique id, data)');
    return;
  }
  if (uniqueArg.length > MAX_UNIQUE_SIZE) {
    conn.sendError(ErrorName.argumentTooLarge, `Unique value too large (${uniqueArg.length} bytes; at most ${MAX_UNIQUE_SIZE})`);
    return;
  }
  const nameProblem = functionNameProblem(fnArg);
  if (nameProblem) {
    conn.sendError(ErrorName.invalidArgument, nameProblem);
    return;
  }
  if (ctx.draining()) {
    conn.sendError(ErrorName.shuttingDown, 'This gateway is shutting down and takes no new jobs; submit to another');
    return;
  }
  let runAt: number | undefined;
  if (epochArg) {
    runAt = Number(epochArg.toString('latin1'));
    if (!Number.isSafeInteger(runAt) || runAt < 0) {
      conn.sendError(ErrorName.invalidArgument, `Bad epoch time ${JSON.stringify(epochArg.toString('latin1'))}`);
      return;
    }
  }
  // JOB_CREATED keeps its place among this connection's replies while a background job is written to disk
  const reply = background ? conn.reserve() : undefined;
  if (!background) conn.outstanding++;
  // The packet's buffer may be a slice of a larger socket chunk: copy the payload once so it is not pinned.
  const fn = fnArg.toString('utf8');
  // the job's span ends with it (jobs.ts); undefined while tracing is off
  const span = tracingOn() ? startSpan(`gearman ${PACKET_NAMES[packet.type]} ${fn}`, SpanKind.SERVER, { 'dips.function': fn, 'dips.bytes_in': data.length, 'dips.priority': priority, 'dips.background': background }) : undefined;
  const spec = { fn, unique: uniqueArg.toString('latin1'), data: Buffer.from(data), priority, background, runAt, span };
  let submitted: Job | Promise<Job>;
  try {
    submitted = ctx.jobs.submit(spec, background ? null : listenerOf(conn));
  } catch (err) {
    refuseJob(conn, reply, background, err, span);
    return;
  }
  // foreground jobs (most of them) are accepted at once: no promise, no closure
  if (submitted instanceof Promise) submitted.then((job) => acceptJob(conn, reply, job), (err: unknown) => refuseJob(conn, reply, background, err, span));
  else acceptJob(conn, reply, submitted);
}

type Reply = ReturnType<Connection['reserve']> | undefined;

function acceptJob(conn: Connection, reply: Reply, job: Job): void {
  if (reply) reply(PacketType.JOB_CREATED, [job.handle]);
  else {
    conn.hold(job.data.length); // released with its last packet (ClientListener)
    conn.sendJobCreated(job.handle);
  }
}

function refuseJob(conn: Connection, reply: Reply, background: boolean, err: unknown, span?: Span): void {
  if (!background) conn.outstanding--;
  const message = err instanceof JobLimitError ? err.message : `Cannot accept the job: ${errorMessage(err)}`;
  endSpan(span, 'QUEUE_ERROR', new Error(message));
  if (reply) reply(PacketType.ERROR, [ErrorName.queueError, message]);
  else conn.sendError(ErrorName.queueError, message);
}
