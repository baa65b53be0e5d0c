/** Answers a worker (native, or a gateway's Gearman worker) sends on a job's reply subject. */
import { headers as natsHeaders, type Msg, type MsgHdrs } from 'nats';
import type { Logger } from '../shared/log.js';
import { isInboxSubject } from './subjects.js';
import { headerSafe, kindOfCode, type ErrorKind } from '../shared/errors.js';
import { Header } from './headers.js';
import { noRoomHeaders } from './room.js';
import { sealHeaders } from './sealed-headers.js';

/** A job as it arrives: through a service's queue group, or directly after a room announcement. */
export type JobMsg = Pick<Msg, 'data' | 'headers' | 'respond'>;

/** The body of replies that carry only headers (no room, errors, `working`). */
export const EMPTY = new Uint8Array(0);

/** Headers of a job's final reply from worker `workerId`: its slot is free again, and `room` jobs would fit now. */
function finalHeaders(workerId: string, room = 1): MsgHdrs {
  const h = natsHeaders();
  h.set(Header.worker, workerId);
  if (room !== 1) h.set(Header.room, String(room));
  return h;
}

/** Sealed result blocks: worker id → content type (and encoding) → room. */
const resultBlocks = new Map<string, Map<string, MsgHdrs[]>>();
const MAX_KEPT_WORKERS = 16;
const MAX_KEPT_ROOM = 1024;
const MAX_KEPT_TYPES = 64;

/**
 * A result's headers: the final reply's, its content type and, for a
 * structured body, its encoding. Sealed (see sealed-headers.ts) and kept by
 * worker, content type and room: a worker's results share a handful of blocks,
 * found here without building a key.
 */
export function resultHeaders(workerId: string, room: number, contentType: string, encoding?: string): MsgHdrs {
  let byType = resultBlocks.get(workerId);
  if (!byType) {
    if (resultBlocks.size >= MAX_KEPT_WORKERS) resultBlocks.clear(); // a process has one or two worker ids
    resultBlocks.set(workerId, (byType = new Map()));
  }
  const type = encoding ? `${contentType}\n${encoding}` : contentType;
  let byRoom = byType.get(type);
  if (!byRoom && byType.size < MAX_KEPT_TYPES) byType.set(type, (byRoom = []));
  // room counts free slots and a short wait budget (a few dozen at most), functions have a few content types: anything odd is built, not kept
  if (!byRoom || !Number.isInteger(room) || room < 0 || room > MAX_KEPT_ROOM) return buildResultHeaders(workerId, room, contentType, encoding);
  return (byRoom[room] ??= buildResultHeaders(workerId, room, contentType, encoding));
}

function buildResultHeaders(workerId: string, room: number, contentType: string, encoding?: string): MsgHdrs {
  const entries: Array<[string, string]> = [[Header.worker, workerId]];
  if (room !== 1) entries.push([Header.room, String(room)]);
  entries.push([Header.contentType, contentType]);
  if (encoding) entries.push([Header.encoding, encoding]);
  return sealHeaders(...entries);
}

/**
 * The service API's error reply (Nats-Service-Error headers), made safe for the
 * header block, with Dips-Error-Kind: `kind` where the code does not say which
 * (503), and `retryable` where the kind's default does not hold (a timeout
 * before the job ran).
 */
export function respondError(msg: JobMsg, code: number, message: string, workerId: string, room = 1, kind: ErrorKind = kindOfCode(code), retryable?: boolean): void {
  const h = finalHeaders(workerId, room);
  h.set(Header.serviceErrorCode, String(code));
  h.set(Header.serviceError, headerSafe(message));
  h.set(Header.errorKind, kind);
  if (retryable !== undefined) h.set(Header.errorRetryable, String(retryable));
  msg.respond(EMPTY, { headers: h });
}

/** Nothing ran: the caller keeps the job and waits for room (see room.ts). */
export function respondNoRoom(msg: JobMsg): void {
  msg.respond(EMPTY, { headers: noRoomHeaders() });
}

/** At most one warning per this long about requests whose reply subject is refused: a hostile caller cannot flood the log. */
const REFUSED_LOG_EVERY_MS = 60_000;
let refusedSince = 0;
let refusedCount = 0;

/**
 * Whether a request may be answered (and so run): its reply subject must be a
 * caller's inbox (isInboxSubject). Anything else is dropped unanswered: a
 * responder that published to `dips.control.stop` or `dips.room.<fn>` would act
 * for a caller who may not publish there.
 */
export function repliesToInbox(msg: Pick<Msg, 'reply' | 'subject'>, log?: Logger): boolean {
  if (isInboxSubject(msg.reply)) return true;
  refusedCount++;
  const now = Date.now();
  if (log && now - refusedSince >= REFUSED_LOG_EVERY_MS) {
    log.warn({ subject: msg.subject, reply: msg.reply?.slice(0, 200) ?? null, refused: refusedCount }, 'request refused: its reply subject is not an inbox (_INBOX.>), so it is not run');
    refusedSince = now;
    refusedCount = 0;
  }
  return false;
}
