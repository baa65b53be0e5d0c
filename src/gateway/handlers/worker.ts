/**
 * Worker-side packets, both ways: a Gearman worker's abilities, sleep, grabs
 * and results become calls on the bridge (legacy.ts), and what the bridge
 * tells a worker (wake up, no job, this job) becomes packets here. The bridge
 * decides; this file alone speaks Gearman to workers.
 */
import { ErrorName, PacketType } from '../protocol/constants.js';
import { functionNameProblem } from '../../mesh/subjects.js';
import type { Connection } from '../connection.js';
import type { LegacyBridge, WorkReport, WorkerWire } from '../legacy.js';
import type { PacketHandlers } from './index.js';

/** The worker packets, by type. */
export function workerHandlers(bridge: LegacyBridge): PacketHandlers {
  const fn = (args: Buffer[]) => args[0]?.toString('utf8') ?? '';
  const canDo = (conn: Connection, packet: { args: Buffer[] }) => {
    const problem = functionNameProblem(packet.args[0] ?? Buffer.alloc(0));
    if (problem) conn.sendError(ErrorName.invalidArgument, problem);
    else void bridge.canDo(conn, fn(packet.args));
  };
  const grab = (withUnique: boolean) => (conn: Connection) => bridge.grab(conn, withUnique);
  const report = (kind: WorkReport['kind']) => (conn: Connection, packet: { args: Buffer[] }) => bridge.work(conn, workReport(kind, packet.args));
  return {
    [PacketType.CAN_DO]: canDo,
    [PacketType.CAN_DO_TIMEOUT]: canDo,
    [PacketType.CANT_DO]: (conn, packet) => void bridge.cantDo(conn, fn(packet.args)),
    [PacketType.RESET_ABILITIES]: (conn) => {
      for (const ability of bridge.abilities(conn)) void bridge.cantDo(conn, ability);
    },
    [PacketType.PRE_SLEEP]: (conn) => bridge.preSleep(conn),
    [PacketType.GRAB_JOB]: grab(false),
    [PacketType.GRAB_JOB_UNIQ]: grab(true),
    [PacketType.GRAB_JOB_ALL]: grab(true),
    [PacketType.WORK_DATA]: report('data'),
    [PacketType.WORK_WARNING]: report('warning'),
    [PacketType.WORK_STATUS]: report('status'),
    [PacketType.WORK_COMPLETE]: report('complete'),
    [PacketType.WORK_FAIL]: report('fail'),
    [PacketType.WORK_EXCEPTION]: report('exception'),
  };
}

/** A WORK_* packet's arguments as the bridge's report: handle, then data (WORK_STATUS: numerator, denominator). */
function workReport(kind: WorkReport['kind'], args: Buffer[]): WorkReport {
  const handle = args[0]?.toString('latin1') ?? '';
  if (kind === 'status') return { kind, handle, numerator: Number(args[1]?.toString('latin1')) || 0, denominator: Number(args[2]?.toString('latin1')) || 0 };
  return { kind, handle, data: args[1] ?? Buffer.alloc(0) };
}

/** What the bridge says to Gearman workers, as packets. */
export const workerWire: WorkerWire = {
  wake: (conn) => conn.send(PacketType.NOOP, []),
  noJob: (conn) => conn.send(PacketType.NO_JOB, []),
  assign: (conn, job, withUnique) =>
    withUnique ? conn.send(PacketType.JOB_ASSIGN_UNIQ, [job.handle, job.fn, job.unique, job.data]) : conn.send(PacketType.JOB_ASSIGN, [job.handle, job.fn, job.data]),
};
