/**
 * What a caller said it understands (the Dips-Accept header), read by every
 * worker before it decides how to answer: a plain NATS request — from a
 * service in any language that knows nothing of DIPS — gets exactly one reply,
 * the result or a standard service error; only callers that asked are bounced
 * (`no-room`) or sent intermediate messages (`events`).
 */
import type { MsgHdrs } from 'nats';
import { Header, headerValue } from './headers.js';

export const ACCEPT_NO_ROOM = 'no-room';
export const ACCEPT_EVENTS = 'events';

/** What DIPS's own requester sends (DipsClient, the Gearman and HTTP gateways). */
export const REQUESTER_ACCEPT = `${ACCEPT_NO_ROOM}, ${ACCEPT_EVENTS}`;

export interface Accepts {
  /** A full worker may answer `Dips-No-Room` and the caller keeps the job. */
  readonly noRoom: boolean;
  /** The caller reads `Dips-Event` messages before the final reply. */
  readonly events: boolean;
}

const PLAIN: Accepts = Object.freeze({ noRoom: false, events: false });
const REQUESTER: Accepts = Object.freeze({ noRoom: true, events: true });

/** Unknown tokens are ignored, so a newer caller still talks to an older worker. */
export function acceptsOf(h: MsgHdrs | undefined): Accepts {
  const value = headerValue(h, Header.accept);
  if (value === '') return PLAIN;
  if (value === REQUESTER_ACCEPT) return REQUESTER; // the hot path: every job from DIPS's own callers
  let noRoom = false;
  let events = false;
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t === ACCEPT_NO_ROOM) noRoom = true;
    else if (t === ACCEPT_EVENTS) events = true;
  }
  return noRoom && events ? REQUESTER : { noRoom, events };
}

/** What a timeout's message adds when the request carried no Dips-Deadline and the default (worker.defaultDeadlineMs) applied. */
export function defaultDeadlineNote(ms: number): string {
  return ` (the request had no ${Header.deadline} header: worker.defaultDeadlineMs, ${ms} ms, applied)`;
}
