/**
 * Every use of nats.js internals, in one place: what to check when nats.js
 * changes. The mesh reaches past the public API only where the hot path pays
 * for it (header blocks built once, header reads without copies) or where
 * nats.js keeps a setting to itself (a connection's inbox prefix).
 */
import { MsgHdrsImpl, type Match, type MsgHdrs, type NatsConnection } from 'nats';

/** A header block whose encoding is kept once made, and which refuses changes once sealed (sealed-headers.ts). */
export class SealedHeaders extends MsgHdrsImpl {
  private encoded?: Uint8Array;
  private sealed = false;

  seal(): this {
    this.sealed = true;
    return this;
  }

  override encode(): Uint8Array {
    return (this.encoded ??= super.encode());
  }

  override append(k: string, v: string, match?: Match): void {
    this.refuseIfSealed();
    super.append(k, v, match);
  }

  override delete(k: string, match?: Match): void {
    this.refuseIfSealed();
    super.delete(k, match);
  }

  private refuseIfSealed(): void {
    // its encoding is already cached: a change would never be sent
    if (this.sealed) throw new TypeError('sealed NATS headers cannot change; build a new block');
  }
}

/** A header's first value read straight from a decoded block's map (MsgHdrs.get() copies and filters the key list on every call); undefined: not a block nats.js made. */
export function rawHeaderValue(h: MsgHdrs, name: string): string | undefined {
  return h instanceof MsgHdrsImpl ? (h.headers.get(name)?.[0] ?? '') : undefined;
}

/** The bytes a header block takes on the wire. */
export function encodedHeaderBytes(h: MsgHdrs): number {
  return (h as MsgHdrsImpl).encode().byteLength;
}

/** The inbox prefix a connection was opened with (nats.js keeps its options to itself). */
export function connectionInboxPrefix(nc: NatsConnection): string | undefined {
  return (nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
}
