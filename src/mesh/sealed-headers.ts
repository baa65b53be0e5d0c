/**
 * Header blocks that never change, built and encoded once. nats.js builds,
 * validates and UTF-8-encodes a header block on every publish (each set()
 * copies the key list twice and runs a regex); a worker answers thousands of
 * jobs a second with a handful of distinct blocks — its id with the room it
 * offers and the content type, "no room", "working" — so each is built once
 * and kept by its user, its first encoding kept, and any later change refused.
 */
import type { MsgHdrs } from 'nats';
import { SealedHeaders } from './nats-internals.js';

/** A sealed block with these headers, in this order; callers keep the blocks they reuse. */
export function sealHeaders(...entries: Array<readonly [name: string, value: string]>): MsgHdrs {
  const block = new SealedHeaders();
  for (const [name, value] of entries) block.set(name, value);
  return block.seal();
}
