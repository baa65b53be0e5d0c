/** Answers a worker (native, or a gateway's Gearman worker) sends on a job's reply subject. */
import { headers as natsHeaders, type Msg, type MsgHdrs } from 'nats';
import { headerSafe } from './errors.js';
import { Header } from './headers.js';
import { noRoomHeaders } from './room.js';

/** A job as it arrives: through a service's queue group, or directly after a room announcement. */
export type JobMsg = Pick<Msg, 'data' | 'headers' | 'respond'>;

/** The body of replies that carry only headers (no room, errors, `working`). */
export const EMPTY = new Uint8Array(0);

/** Headers of a job's final reply from worker `workerId`: its slot is free again, and `room` jobs would fit now. */
export function finalHeaders(workerId: string, room = 1): MsgHdrs {
  const h = natsHeaders();
  h.set(Header.worker, workerId);
  if (room !== 1) h.set(Header.room, String(room));
  return h;
}

/** The service API's error reply (Nats-Service-Error headers), made safe for the header block. */
export function respondError(msg: JobMsg, code: number, message: string, workerId: string, room = 1): void {
  const h = finalHeaders(workerId, room);
  h.set(Header.serviceErrorCode, String(code));
  h.set(Header.serviceError, headerSafe(message));
  msg.respond(EMPTY, { headers: h });
}

/** Nothing ran: the caller keeps the job and waits for room (see room.ts). */
export function respondNoRoom(msg: JobMsg): void {
  msg.respond(EMPTY, { headers: noRoomHeaders() });
}
