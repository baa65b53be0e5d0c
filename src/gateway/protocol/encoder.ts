/** Building response packets: header and arguments joined by NUL, data last and untouched. */
import { HEADER_SIZE, RES_MAGIC } from './constants.js';

export type Arg = string | Uint8Array;

/** Below this, a response is one buffer: one socket write costs more than copying a few KB. */
const COPY_BELOW_BYTES = 16 * 1024;

/** Encode one response. Returns a list of buffers so large data is never copied. */
export function encodeResponse(type: number, args: readonly Arg[]): Buffer[] {
  const parts: Buffer[] = [];
  let size = 0;
  args.forEach((arg, i) => {
    const buf = typeof arg === 'string' ? Buffer.from(arg, 'latin1') : Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength);
    parts.push(buf);
    size += buf.length;
    if (i < args.length - 1) {
      parts.push(NUL);
      size += 1;
    }
  });
  const header = Buffer.allocUnsafe(HEADER_SIZE);
  RES_MAGIC.copy(header, 0);
  header.writeUInt32BE(type, 4);
  header.writeUInt32BE(size, 8);
  if (size < COPY_BELOW_BYTES) return [Buffer.concat([header, ...parts], HEADER_SIZE + size)];
  return [header, ...parts];
}

const NUL = Buffer.from([0]);
