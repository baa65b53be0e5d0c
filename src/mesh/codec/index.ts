/**
 * Request and reply bodies: msgpack (native callers), PHP serialize (legacy
 * callers through the gateway) or JSON. The Dips-Encoding header says which;
 * without it the first bytes tell. A body that is none of them is a raw image
 * whose parameters travel in headers.
 */
import { decode as msgpackDecode, encode as msgpackEncode } from '@msgpack/msgpack';
import { phpSerialize, phpUnserialize } from './php.js';

export const ENCODINGS = ['msgpack', 'php', 'json', 'raw'] as const;
export type Encoding = (typeof ENCODINGS)[number];
/** Encodings that carry structured values (raw carries bytes only). */
export type StructuredEncoding = Exclude<Encoding, 'raw'>;

export const CONTENT_TYPES: Record<StructuredEncoding, string> = {
  msgpack: 'application/msgpack',
  php: 'application/vnd.php.serialized',
  json: 'application/json',
};

export function isEncoding(value: string | undefined): value is Encoding {
  return value !== undefined && (ENCODINGS as readonly string[]).includes(value);
}

const PHP_START = /^(?:[abisdO]:|N;)/;

/** Magic numbers of the image formats we decode; checked first, since PNG's 0x89 is also a msgpack fixmap. */
export function looksLikeImage(body: Uint8Array): boolean {
  const b = Buffer.from(body.buffer, body.byteOffset, Math.min(body.length, 16));
  return (
    (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) || // JPEG
    b.toString('latin1', 0, 4) === '\x89PNG' || // PNG
    b.toString('latin1', 0, 4) === 'GIF8' ||
    (b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') ||
    b.toString('latin1', 0, 4) === 'II*\0' ||
    b.toString('latin1', 0, 4) === 'MM\0*' ||
    b.toString('latin1', 4, 8) === 'ftyp' // AVIF, HEIF
  );
}

/** Guess an encoding from the first bytes of a body that came without a header. */
export function sniffEncoding(body: Uint8Array): Encoding {
  if (body.length === 0 || looksLikeImage(body)) return 'raw';
  const first = body[0];
  // msgpack maps and arrays: fixmap 0x80-0x8f, fixarray 0x90-0x9f, array16/32, map16/32.
  if ((first >= 0x80 && first <= 0x9f) || (first >= 0xdc && first <= 0xdf)) return 'msgpack';
  const head = Buffer.from(body.buffer, body.byteOffset, Math.min(body.length, 4)).toString('latin1');
  if (PHP_START.test(head)) return 'php';
  if (first === 0x7b /* { */ || first === 0x5b /* [ */) return 'json';
  return 'raw';
}

export class CodecError extends Error {
  override name = 'CodecError';
}

export function decodeBody(body: Uint8Array, encoding: StructuredEncoding): unknown {
  try {
    switch (encoding) {
      case 'msgpack':
        return msgpackDecode(body);
      case 'php':
        return phpUnserialize(body);
      case 'json':
        return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    }
  } catch (err) {
    throw new CodecError(`cannot decode ${encoding} body: ${(err as Error).message}`, { cause: err });
  }
}

export function encodeBody(value: unknown, encoding: StructuredEncoding): Uint8Array {
  switch (encoding) {
    case 'msgpack':
      return msgpackEncode(value, { ignoreUndefined: true });
    case 'php':
      return phpSerialize(value);
    case 'json':
      return Buffer.from(JSON.stringify(value, jsonBytes));
  }
}

/** JSON has no bytes: send them as base64, which is what JSON callers expect. */
function jsonBytes(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('base64');
  }
  return value;
}

export function encodingForContentType(contentType: string | undefined): StructuredEncoding | undefined {
  for (const [enc, type] of Object.entries(CONTENT_TYPES)) if (type === contentType) return enc as StructuredEncoding;
  return undefined;
}
