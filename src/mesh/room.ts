/**
 * How workers say they have room, and how callers hear it.
 *
 * Workers take at most as many jobs as they have slots. A job that reaches a
 * worker with every slot taken is bounced at once with a `Dips-No-Room` reply
 * (one round trip, nothing run), and the caller keeps it in its own queue —
 * ordered by priority, first in first out — instead of failing it. When a slot
 * frees on a worker that bounced somebody, the worker publishes one room
 * announcement on `dips.room.<function>`: how many slots are free and the
 * subject that reaches this worker directly. Callers holding jobs for that
 * function send their oldest, highest-priority ones straight there.
 *
 * So a burst waits where it was submitted (the gateway or the client), in
 * order; a worker never holds a queue while another idles; small jobs never
 * sit behind big ones inside a worker; and when nothing is full, nothing
 * extra is sent at all.
 */
import type { MsgHdrs, NatsConnection } from 'nats';
import { sealHeaders } from './sealed-headers.js';
import { directSubject, roomSubject } from './subjects.js';
import { HAND_OFF_GRACE_MS, BIG_OFFER_HOLD_MS } from './timing.js';

export const NO_ROOM_HEADER = 'Dips-No-Room';

const NO_ROOM = sealHeaders([NO_ROOM_HEADER, '1']);

export function noRoomHeaders(): MsgHdrs {
  return NO_ROOM;
}

/**
 * Published on `dips.room.<function>` by a worker an operator paused it on
 * (not on a drain or a reload). A caller that then finds nobody serving the
 * function fails its calls at once, saying so, instead of waiting out their
 * deadline; any room announcement or answer clears it.
 */
export const PAUSED_NOTICE = 'paused';

export function isPausedNotice(data: Uint8Array): boolean {
  return data.length === PAUSED_NOTICE.length && Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1') === PAUSED_NOTICE;
}

export interface RoomAnnouncement {
  /** Slots free on the announcing worker. */
  free: number;
  /** Subject that reaches that worker directly for this function. */
  subject: string;
}

export function encodeRoom(room: RoomAnnouncement): Uint8Array {
  return Buffer.from(`${room.free} ${room.subject}`, 'latin1');
}

export function decodeRoom(data: Uint8Array): RoomAnnouncement | undefined {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
  const space = text.indexOf(' ');
  const free = Number(text.slice(0, space));
  const subject = text.slice(space + 1);
  return space > 0 && Number.isInteger(free) && free > 0 && subject ? { free, subject } : undefined;
}

/** Jobs at least this big cost milliseconds to move: the room rules treat them with care (here and in the requester). */
export const BIG_JOB_BYTES = 64 * 1024;

/** A worker's side: remembers whom it turned away, and says so when room frees. */
export class RoomAnnouncer {
  private readonly owed = new Set<string>();
  private settleTimer?: NodeJS.Timeout;
  /** Slots a final reply offered (Dips-Room) whose hand-off has not arrived, and until when they are held. */
  private offered = 0;
  private offeredUntil = 0;

  constructor(private readonly nc: NatsConnection, readonly workerId: string) {}

  /** A job for `fn` was bounced: announce room for it once a slot frees. */
  owe(fn: string): void {
    this.owed.add(fn);
  }

  /**
   * A slot freed: announce what is still free, a moment later, for every
   * function somebody was turned away from. The moment lets the caller whose
   * job just ended hand its next one to this worker first (see Header.worker);
   * a slot it fills needs no announcement, so a sustained peak costs none.
   */
  settle(freeFor: (fn: string) => number): void {
    if (this.owed.size === 0 || this.settleTimer) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      this.announceOwed(freeFor);
    }, HAND_OFF_GRACE_MS);
  }

  private announceOwed(freeFor: (fn: string) => number): void {
    const held = this.unclaimed;
    for (const fn of this.owed) {
      const free = freeFor(fn) - held;
      if (free <= 0) continue;
      this.owed.delete(fn);
      this.announce(fn, free);
    }
    // room held for a hand-off that may not come: look again when the hold ends
    if (held > 0 && this.owed.size && !this.settleTimer) {
      this.settleTimer = setTimeout(() => {
        this.settleTimer = undefined;
        this.announceOwed(freeFor);
      }, this.offeredUntil - Date.now() + 1);
    }
  }

  /** A final reply offered its caller `room` slots; the job that ended was `jobBytes` long. */
  offer(room: number, jobBytes: number): void {
    this.offered = room;
    this.offeredUntil = jobBytes >= BIG_JOB_BYTES ? Date.now() + BIG_OFFER_HOLD_MS : 0;
  }

  /** A job arrived on this worker's direct subject: one offered slot is taken up. */
  claimed(): void {
    if (this.offered > 0) this.offered--;
  }

  private get unclaimed(): number {
    return Date.now() < this.offeredUntil ? this.offered : 0;
  }

  /** An operator paused `fn` here. */
  paused(fn: string): void {
    if (!this.nc.isClosed()) this.nc.publish(roomSubject(fn), Buffer.from(PAUSED_NOTICE, 'latin1'));
  }

  announce(fn: string, free: number): void {
    if (free <= 0 || this.nc.isClosed()) return;
    this.nc.publish(roomSubject(fn), encodeRoom({ free, subject: directSubject(fn, this.workerId) }));
  }
}
