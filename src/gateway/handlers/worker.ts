/** Worker-side packets: a legacy Gearman worker's abilities, sleep, grabs and results, handed to the bridge. */
import { PacketType } from '../protocol/constants.js';
import type { Packet } from '../protocol/parser.js';
import type { Connection } from '../connection.js';
import type { LegacyBridge } from '../legacy.js';

/** Returns false when the packet is not a worker packet. */
export function handleWorkerPacket(bridge: LegacyBridge, conn: Connection, packet: Packet): boolean {
  const fn = () => packet.args[0]?.toString('utf8') ?? '';
  switch (packet.type) {
    case PacketType.CAN_DO:
    case PacketType.CAN_DO_TIMEOUT:
      void bridge.canDo(conn, fn());
      return true;
    case PacketType.CANT_DO:
      void bridge.cantDo(conn, fn());
      return true;
    case PacketType.RESET_ABILITIES:
      for (const ability of bridge.abilities(conn)) void bridge.cantDo(conn, ability);
      return true;
    case PacketType.PRE_SLEEP:
      bridge.preSleep(conn);
      return true;
    case PacketType.GRAB_JOB:
    case PacketType.GRAB_JOB_UNIQ:
    case PacketType.GRAB_JOB_ALL:
      bridge.grab(conn, packet.type);
      return true;
    case PacketType.WORK_DATA:
    case PacketType.WORK_WARNING:
    case PacketType.WORK_STATUS:
    case PacketType.WORK_COMPLETE:
    case PacketType.WORK_FAIL:
    case PacketType.WORK_EXCEPTION:
      bridge.work(conn, packet);
      return true;
    default:
      return false;
  }
}
