/** Building packets: header and arguments joined by NUL, data last and untouched. */
import { HEADER_SIZE, REQ_MAGIC, RES_MAGIC } from './constants.js';

export type Arg = string | Uint8Array;

/** Below this, a packet is one buffer: one socket write costs more than copying a few KB. */
const COPY_BELOW_BYTES = 16 * 1024;

/** Encode one packet. Returns a list of buffers so large data is never copied. */
function encodePacket(magic: Buffer, type: number, args: readonly Arg[]): Buffer[] {
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
  const head = header(magic, type, size);
  if (size < COPY_BELOW_BYTES) return [Buffer.concat([head, ...parts], HEADER_SIZE + size)];
  return [head, ...parts];
}

/** A packet header alone, declaring `size` bytes of arguments (tests use it to declare sizes never sent). */
export function header(magic: Buffer, type: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE);
  magic.copy(out, 0);
  out.writeUInt32BE(type, 4);
  out.writeUInt32BE(size, 8);
  return out;
}

/** A response (server to client or worker). */
export function encodeResponse(type: number, args: readonly Arg[]): Buffer[] {
  return encodePacket(RES_MAGIC, type, args);
}

/** A request (client or worker to server), as one buffer: the tests' and the bench's clients send these. */
export function encodeRequest(type: number, args: readonly Arg[]): Buffer {
  return Buffer.concat(encodePacket(REQ_MAGIC, type, args));
}

const NUL = Buffer.from([0]);
