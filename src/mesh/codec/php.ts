/**
 * PHP serialize() / unserialize() for the values legacy callers send.
 *
 * Written by hand on purpose: the npm ports work on JS strings, so they count
 * string lengths in UTF-16 units or re-encode bytes, which corrupts binary blobs
 * (images in a PHP string) and multibyte text. PHP counts bytes, so this codec
 * works on bytes end to end.
 *
 * Mapping: PHP string → JS string when the bytes are valid UTF-8, else a
 * Buffer (bytes unchanged either way); int → number; float → number;
 * bool → boolean; null → null; array with keys 0..n-1 in order → JS array;
 * any other array or an object → plain object. References (r:, R:), enums
 * and Serializable objects (C:) are refused: no caller of ours sends them.
 */

export class PhpSerializeError extends Error {
  override name = 'PhpSerializeError';
}

const MAX_DEPTH = 64;
// ignoreBOM: a string that starts with U+FEFF keeps it (the default decoder drops it, and the key "\uFEFF" would come back as "")
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function phpUnserialize(input: Uint8Array): unknown {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  let pos = 0;

  const fail = (what: string): never => {
    throw new PhpSerializeError(`PHP serialized data: ${what} at byte ${pos}`);
  };
  const expect = (ch: number) => {
    if (buf[pos] !== ch) fail(`expected '${String.fromCharCode(ch)}'`);
    pos++;
  };
  /** Read up to (not including) the terminator byte; return the text and skip the terminator. */
  const readUntil = (terminator: number): string => {
    const end = buf.indexOf(terminator, pos);
    if (end < 0) fail(`missing '${String.fromCharCode(terminator)}'`);
    const text = buf.toString('latin1', pos, end);
    pos = end + 1;
    return text;
  };
  const readInt = (terminator: number): number => {
    const text = readUntil(terminator);
    if (!/^[+-]?\d+$/.test(text)) fail(`bad integer ${JSON.stringify(text)}`);
    return Number(text);
  };
  const readLength = (): number => {
    const n = readInt(0x3a /* : */);
    if (n < 0 || n > buf.length) fail(`impossible length ${n}`);
    return n;
  };
  const readStringBytes = (): Buffer => {
    const len = readLength();
    expect(0x22 /* " */);
    if (pos + len > buf.length) fail(`string of ${len} bytes runs past the end`);
    const bytes = buf.subarray(pos, pos + len);
    pos += len;
    expect(0x22);
    return bytes;
  };

  const readValue = (depth: number): unknown => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    const type = buf[pos];
    if (type === undefined) fail('unexpected end of data');
    pos++;
    switch (type) {
      case 0x4e /* N */:
        expect(0x3b);
        return null;
      case 0x62 /* b */: {
        expect(0x3a);
        const v = readInt(0x3b);
        if (v !== 0 && v !== 1) fail(`bad boolean ${v}`);
        return v === 1;
      }
      case 0x69 /* i */:
        expect(0x3a);
        return readInt(0x3b);
      case 0x64 /* d */: {
        expect(0x3a);
        const text = readUntil(0x3b);
        if (text === 'INF') return Infinity;
        if (text === '-INF') return -Infinity;
        if (text === 'NAN') return NaN;
        const v = Number(text);
        if (text === '' || Number.isNaN(v)) fail(`bad float ${JSON.stringify(text)}`);
        return v;
      }
      case 0x73 /* s */: {
        expect(0x3a);
        const bytes = readStringBytes();
        expect(0x3b);
        return bytesToValue(bytes);
      }
      case 0x61 /* a */: {
        expect(0x3a);
        return readEntries(depth);
      }
      case 0x4f /* O */: {
        expect(0x3a);
        readStringBytes(); // class name: callers send plain data, we keep the properties
        expect(0x3a);
        const props = readEntries(depth);
        return Array.isArray(props) ? Object.assign({}, props) : props;
      }
      default:
        return fail(`unsupported type '${String.fromCharCode(type)}'`);
    }
  };

  const readEntries = (depth: number): unknown[] | Record<string, unknown> => {
    const count = readLength();
    expect(0x7b /* { */);
    const keys: (string | number)[] = [];
    const values: unknown[] = [];
    for (let i = 0; i < count; i++) {
      const key = readValue(depth + 1);
      if (typeof key === 'number' && Number.isInteger(key)) keys.push(key);
      else if (typeof key === 'string') keys.push(key);
      else if (Buffer.isBuffer(key)) keys.push(key.toString('latin1'));
      else fail('array key is neither int nor string');
      values.push(readValue(depth + 1));
    }
    expect(0x7d /* } */);
    // as PHP builds the array: a repeated key keeps its first place and takes the last value ("1" and 1 are one key)
    const entries = new Map<string, unknown>();
    keys.forEach((k, i) => entries.set(String(k), values[i]));
    if ([...entries.keys()].every((k, i) => k === String(i))) return [...entries.values()];
    const obj: Record<string, unknown> = {};
    for (const [k, v] of entries) {
      // defined, not assigned: a "__proto__" key must stay a key, never become the map's prototype
      Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return obj;
  };

  const value = readValue(0);
  if (pos !== buf.length) fail('trailing bytes after the value');
  return value;
}

function bytesToValue(bytes: Buffer): string | Buffer {
  try {
    return utf8.decode(bytes);
  } catch {
    return Buffer.from(bytes); // binary: keep a copy independent of the request buffer
  }
}

/** PHP writes integer-like string keys as int keys; so do we, to round-trip. */
const INT_KEY = /^(0|-?[1-9]\d{0,17})$/;

export function phpSerialize(value: unknown): Buffer {
  const parts: Buffer[] = [];
  const text = (s: string) => parts.push(Buffer.from(s, 'latin1'));
  const str = (bytes: Buffer) => {
    text(`s:${bytes.length}:"`);
    parts.push(bytes);
    text('";');
  };
  const write = (v: unknown, depth: number): void => {
    if (depth > MAX_DEPTH) throw new PhpSerializeError(`value nests deeper than ${MAX_DEPTH}`);
    if (v === null || v === undefined) text('N;');
    else if (typeof v === 'boolean') text(`b:${v ? 1 : 0};`);
    else if (typeof v === 'number') {
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) text(`i:${v};`);
      else if (Number.isNaN(v)) text('d:NAN;');
      else if (!Number.isFinite(v)) text(v > 0 ? 'd:INF;' : 'd:-INF;');
      else text(Object.is(v, -0) ? 'd:-0;' : `d:${v};`); // PHP writes -0 so too: the sign survives
    } else if (typeof v === 'bigint') text(`i:${v};`);
    else if (typeof v === 'string') str(Buffer.from(v, 'utf8'));
    else if (v instanceof Uint8Array) str(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    else if (Array.isArray(v)) {
      text(`a:${v.length}:{`);
      v.forEach((item, i) => {
        text(`i:${i};`);
        write(item, depth + 1);
      });
      text('}');
    } else if (v instanceof Date) str(Buffer.from(v.toISOString()));
    else if (typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>);
      text(`a:${entries.length}:{`);
      for (const [k, item] of entries) {
        // a key past 2^53 would come back as another number: only keys a JS number holds exactly are written as ints
        if (INT_KEY.test(k) && Number.isSafeInteger(Number(k))) text(`i:${k};`);
        else str(Buffer.from(k, 'utf8'));
        write(item, depth + 1);
      }
      text('}');
    } else throw new PhpSerializeError(`cannot serialize a ${typeof v}`);
  };
  write(value, 0);
  return Buffer.concat(parts);
}
