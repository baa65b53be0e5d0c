/**
 * Header blocks that never change, built and encoded once. nats.js builds,
 * validates and UTF-8-encodes a header block on every publish (each set()
 * copies the key list twice and runs a regex); a worker answers thousands of
 * jobs a second with a handful of distinct blocks — its id with the room it
 * offers and the content type, "no room", "working" — so each is built once
 * and kept by its user, its first encoding kept, and any later change refused.
 */
import { MsgHdrsImpl, type Match, type MsgHdrs } from 'nats';

class SealedHeaders extends MsgHdrsImpl {
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

/** A sealed block with these headers, in this order; callers keep the blocks they reuse. */
export function sealHeaders(...entries: Array<readonly [name: string, value: string]>): MsgHdrs {
  const block = new SealedHeaders();
  for (const [name, value] of entries) block.set(name, value);
  return block.seal();
}
