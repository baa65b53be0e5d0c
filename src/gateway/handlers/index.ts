/**
 * One table from Gearman packet type to its handler, as aedes dispatches MQTT
 * packets: the client packets (handlers/client.ts) and the worker packets
 * (handlers/worker.ts). A type in neither is answered with ERROR by the server.
 */
import type { Connection } from '../connection.js';
import type { LegacyBridge } from '../legacy.js';
import type { Packet } from '../protocol/parser.js';
import { clientHandlers, type ClientHandlerContext } from './client.js';
import { workerHandlers } from './worker.js';

export type PacketHandler = (conn: Connection, packet: Packet) => void;
export type PacketHandlers = Partial<Record<number, PacketHandler>>;

export function packetTable(client: ClientHandlerContext, bridge: LegacyBridge): ReadonlyMap<number, PacketHandler> {
  const table = new Map<number, PacketHandler>();
  for (const part of [clientHandlers(client), workerHandlers(bridge)]) {
    for (const [type, handler] of Object.entries(part)) {
      // a type claimed twice would be a silent shadowing: refuse it where it is made
      if (table.has(Number(type))) throw new Error(`packet type ${type} has two handlers`);
      table.set(Number(type), handler!);
    }
  }
  return table;
}
