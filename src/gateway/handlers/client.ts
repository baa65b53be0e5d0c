/** Client-side packets: submitting jobs, asking their status, echo and options. */
import { PacketType, MAX_UNIQUE_SIZE, ErrorName } from '../protocol/constants.js';
import type { Packet } from '../protocol/parser.js';
import type { Connection } from '../connection.js';
import { JobLimitError, type Jobs, type Priority } from '../jobs.js';

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
  maxJobsPerConnection: number;
}

/** Returns false when the packet is not a client packet. */
export function handleClientPacket(ctx: ClientHandlerContext, conn: Connection, packet: Packet): boolean {
  const submit = SUBMIT[packet.type];
  if (submit) {
    submitJob(ctx, conn, packet, submit.priority, submit.background);
    return true;
  }
  switch (packet.type) {
    case PacketType.GET_STATUS: {
      const handle = packet.args[0].toString('latin1');
      const job = ctx.jobs.get(handle);
      conn.send(PacketType.STATUS_RES, [handle, job ? '1' : '0', job?.state === 'running' ? '1' : '0', String(job?.numerator ?? 0), String(job?.denominator ?? 0)]);
      return true;
    }
    case PacketType.GET_STATUS_UNIQUE: {
      const unique = packet.args[0].toString('latin1');
      const job = ctx.jobs.getByUnique(unique);
      conn.send(PacketType.STATUS_RES_UNIQUE, [
        unique, job ? '1' : '0', job?.state === 'running' ? '1' : '0', String(job?.numerator ?? 0), String(job?.denominator ?? 0), String(job?.listeners.size ?? 0),
      ]);
      return true;
    }
    case PacketType.ECHO_REQ:
      conn.send(PacketType.ECHO_RES, [packet.args[0]]);
      return true;
    case PacketType.OPTION_REQ: {
      const option = packet.args[0].toString('latin1');
      if (option === 'exceptions') {
        conn.exceptions = true;
        conn.send(PacketType.OPTION_RES, [option]);
      } else conn.sendError(ErrorName.unknownOption, `Server does not recognize the option ${option}`);
      return true;
    }
    case PacketType.SET_CLIENT_ID:
      conn.clientId = packet.args[0].toString('latin1').slice(0, 64) || '-';
      return true;
    default:
      return false;
  }
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
    conn.sendError(ErrorName.argumentTooLarge, 'Unique value too large');
    return;
  }
  if (!background && conn.outstanding >= ctx.maxJobsPerConnection) {
    conn.sendError(ErrorName.queueError, `Too many jobs on this connection (${ctx.maxJobsPerConnection} outstanding)`);
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
  try {
    // The packet's buffer may be a slice of a larger socket chunk: copy the payload once so it is not pinned.
    const job = ctx.jobs.submit(
      { fn: fnArg.toString('latin1'), unique: uniqueArg.toString('latin1'), data: Buffer.from(data), priority, background, runAt },
      background ? null : conn,
    );
    if (background) conn.send(PacketType.JOB_CREATED, [job.handle]);
    else {
      conn.outstanding++;
      conn.sendJobCreated(job.handle);
    }
  } catch (err) {
    if (!(err instanceof JobLimitError)) throw err;
    conn.sendError(ErrorName.queueError, err.message);
  }
}
