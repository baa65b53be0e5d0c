/**
 * A pure Gearman framing parser: bytes in, packets and text commands out, no
 * I/O. Hand-written because no maintained npm library speaks gearmand's
 * server side; the protocol is small and ours to own.
 *
 * - Whole packets inside one chunk are sliced without copying; only a packet
 *   split across chunks is assembled in a buffer of exactly its size.
 * - A declared size above `maxPacketBytes` is rejected from the header alone,
 *   before any of the body is buffered.
 * - A line that does not start with NUL is a text (admin) command; lines are
 *   capped too.
 */
import { HEADER_SIZE, REQUEST_ARGS } from './constants.js';

export interface Packet {
  kind: 'packet';
  magic: 'REQ' | 'RES';
  type: number;
  args: Buffer[];
  size: number;
}
export interface TextCommand {
  kind: 'text';
  line: string;
}
export interface ProtocolViolation {
  kind: 'violation';
  /** gearmand error name to send in an ERROR packet. */
  code: string;
  message: string;
  /** After a framing error the byte stream cannot be trusted: close. */
  fatal: boolean;
}
export type ParsedItem = Packet | TextCommand | ProtocolViolation;

const MAX_TEXT_LINE = 8192;

export class GearmanParser {
  /** Bytes kept between chunks: a partial header, text line, or packet body. */
  private pending: Buffer | null = null;
  private body: Buffer | null = null;
  private bodyFilled = 0;
  private header: { magic: 'REQ' | 'RES'; type: number; size: number } | null = null;
  private broken = false;

  constructor(private readonly maxPacketBytes: number) {}

  /** Bytes held waiting for the rest of a packet (for memory accounting). */
  get buffered(): number {
    return (this.pending?.length ?? 0) + this.bodyFilled;
  }

  /** Feed a chunk; returns everything it completes, in order. */
  push(chunk: Buffer): ParsedItem[] {
    const out: ParsedItem[] = [];
    if (this.broken) return out;
    let data = chunk;
    let offset = 0;

    if (this.body && this.header) {
      const need = this.header.size - this.bodyFilled;
      const take = Math.min(need, data.length);
      data.copy(this.body, this.bodyFilled, 0, take);
      this.bodyFilled += take;
      offset = take;
      if (this.bodyFilled < this.header.size) return out;
      out.push(this.packetFrom(this.header, this.body));
      this.body = null;
      this.header = null;
      this.bodyFilled = 0;
    } else if (this.pending) {
      data = Buffer.concat([this.pending, data]);
      this.pending = null;
    }

    while (offset < data.length && !this.broken) {
      if (data[offset] !== 0) {
        const newline = data.indexOf(0x0a, offset);
        if (newline < 0) {
          if (data.length - offset > MAX_TEXT_LINE) return this.fail(out, 'INVALID_COMMAND', `text command longer than ${MAX_TEXT_LINE} bytes`);
          this.pending = Buffer.from(data.subarray(offset));
          return out;
        }
        // the same limit whether the line came in one chunk or several
        if (newline - offset > MAX_TEXT_LINE) return this.fail(out, 'INVALID_COMMAND', `text command longer than ${MAX_TEXT_LINE} bytes`);
        const line = data.toString('latin1', offset, newline).replace(/\r$/, '');
        offset = newline + 1;
        if (line.trim() !== '') out.push({ kind: 'text', line });
        continue;
      }
      if (data.length - offset < HEADER_SIZE) {
        this.pending = Buffer.from(data.subarray(offset));
        return out;
      }
      const magicText = data.toString('latin1', offset + 1, offset + 4);
      if (magicText !== 'REQ' && magicText !== 'RES') {
        return this.fail(out, 'INVALID_MAGIC', `bad magic ${JSON.stringify(data.toString('latin1', offset, offset + 4))}`);
      }
      const type = data.readUInt32BE(offset + 4);
      const size = data.readUInt32BE(offset + 8);
      if (size > this.maxPacketBytes) {
        return this.fail(out, 'ARGUMENT_TOO_LARGE', `packet of ${size} bytes exceeds the limit of ${this.maxPacketBytes}`);
      }
      const header = { magic: magicText as 'REQ' | 'RES', type, size };
      const bodyStart = offset + HEADER_SIZE;
      if (data.length - bodyStart >= size) {
        out.push(this.packetFrom(header, data.subarray(bodyStart, bodyStart + size)));
        offset = bodyStart + size;
        continue;
      }
      // Split packet: allocate exactly its size once and fill it as chunks come.
      this.header = header;
      this.body = Buffer.allocUnsafe(size);
      this.bodyFilled = data.copy(this.body, 0, bodyStart);
      return out;
    }
    return out;
  }

  private fail(out: ParsedItem[], code: string, message: string): ParsedItem[] {
    this.broken = true;
    this.pending = null;
    this.body = null;
    out.push({ kind: 'violation', code, message, fatal: true });
    return out;
  }

  private packetFrom(header: { magic: 'REQ' | 'RES'; type: number; size: number }, body: Buffer): Packet {
    const argc = REQUEST_ARGS[header.type] ?? 1;
    return { kind: 'packet', magic: header.magic, type: header.type, args: splitArgs(body, argc), size: header.size };
  }
}

/** Split a body into `argc` arguments at NUL bytes; the last takes the rest. */
export function splitArgs(body: Buffer, argc: number): Buffer[] {
  if (argc === 0) return [];
  const args: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < argc - 1; i++) {
    const nul = body.indexOf(0, start);
    if (nul < 0) break;
    args.push(body.subarray(start, nul));
    start = nul + 1;
  }
  args.push(body.subarray(start));
  return args;
}
