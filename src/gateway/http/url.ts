/**
 * The URL API: /<signature>/<operation>/.../<source>
 *
 *   operation  name[:key=value[,key=value…]]   a step (thumbnail, resize, crop, rotate,
 *              blur, watermark… any worker step), applied in order
 *              format:<jpeg|png|webp|avif|gif|tiff|auto>[,quality=80,…]   output
 *              info                            the image's description as JSON
 *              p/<preset>                      a preset's operations from http.presets
 *   source     local:<root>/<path>  |  https://host/path  |  b64:<base64url of a URL>
 *
 * A path with no native source (none of the segments starts local:, http(s): or b64:
 * before a "plain" segment) is imgproxy's grammar: imgproxy.ts maps it onto the same request.
 *
 * Steps call `pipeline` (one sharp pass where possible; the worker names an
 * unknown operation), format alone calls `convert`, info `info`. Parameter values are percent-decoded;
 * numbers and true/false become numbers and booleans.
 */
import { badRequest } from '../../shared/errors.js';
import { isImgproxyPath, parseImgproxyPath } from './imgproxy.js';

export interface ImageRequest {
  /** Steps in order, each with its parameters. */
  steps: Array<Record<string, unknown> & { op: string }>;
  /** Output options (format:…), without the format itself. */
  output: Record<string, unknown>;
  /** The format named, 'auto' (negotiate from Accept) or undefined (the source's own). */
  format?: string;
  info: boolean;
  source: string;
  /** When the URL stops being served (unix seconds; imgproxy's expires option): caches may keep it no longer. */
  expires?: number;
}

const SOURCE_START = /^(local|https?|b64):/;
const FORMATS = new Set(['jpeg', 'png', 'webp', 'avif', 'gif', 'tiff', 'auto']);

/** Parse the part of a URL path after the signature ("/thumbnail:width=200/local:photos/a.jpg"). */
export function parseImagePath(path: string, presets: Readonly<Record<string, string>>): ImageRequest {
  const segments = path.split('/').slice(1);
  if (isImgproxyPath(segments, SOURCE_START)) return parseImgproxyPath(segments, presets);
  const at = segments.findIndex((s) => SOURCE_START.test(s));
  if (at < 0) throw badRequest('url', 'no source: the last part of the path must start with local:, http:, https: or b64:');
  const request: ImageRequest = { steps: [], output: {}, info: false, source: segments.slice(at).join('/') };
  const ops = expandPresets(segments.slice(0, at), presets);
  for (const op of ops) {
    if (op === '') continue;
    const colon = op.indexOf(':');
    const name = colon < 0 ? op : op.slice(0, colon);
    const args = colon < 0 ? [] : op.slice(colon + 1).split(',');
    if (name === 'info') {
      request.info = true;
    } else if (name === 'format' || name === 'f') {
      const [format, ...options] = args;
      const normal = format === 'jpg' ? 'jpeg' : format;
      if (!FORMATS.has(normal)) throw badRequest('url', `format must be one of ${[...FORMATS].join(', ')}, got ${JSON.stringify(format ?? '')}`);
      request.format = normal;
      Object.assign(request.output, parsePairs(name, options, OUTPUT_RESERVED));
    } else if (/^[a-z][a-z0-9_-]{0,31}$/.test(name)) {
      request.steps.push({ ...parsePairs(name, args, STEP_RESERVED), op: name });
    } else {
      throw badRequest('url', `${JSON.stringify(op.slice(0, 64))} is not an operation (name[:key=value,…])`);
    }
  }
  if (request.info && (request.steps.length || request.format)) throw badRequest('url', 'info takes no other operation');
  if (!request.info && !request.steps.length && !request.format) throw badRequest('url', 'name at least one operation (e.g. thumbnail:width=200) or a format');
  return request;
}

/**
 * Is the path (after the signature position) exactly /p/<preset>/<source>? That is all
 * http.publicPresets makes public: a preset followed by further operations is a new
 * operation list, which only a signature may ask for.
 */
export function isBarePresetPath(path: string): boolean {
  const segments = path.split('/');
  return segments.length >= 4 && segments[0] === '' && segments[1] === 'p' && segments[2] !== '' && !SOURCE_START.test(segments[2]) && SOURCE_START.test(segments[3]);
}

function expandPresets(ops: string[], presets: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (let i = 0; i < ops.length; i++) {
    if (ops[i] !== 'p') {
      out.push(ops[i]);
      continue;
    }
    const name = ops[++i];
    // own keys only: "__proto__", "constructor" or "toString" are names not configured, not Object's members
    const preset = name !== undefined && Object.hasOwn(presets, name) ? presets[name] : undefined;
    if (typeof preset !== 'string') throw badRequest('url', `no preset ${JSON.stringify(name ?? '')}; configured: ${Object.keys(presets).join(', ') || 'none'} (http.presets)`);
    out.push(...preset.split('/'));
  }
  return out;
}

/** Keys that would reach an object's prototype rather than be a parameter. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Names the call itself uses: a step's `op`, the pipeline's `steps` beside the output options; a URL may not set them. */
const STEP_RESERVED = new Set(['op']);
const OUTPUT_RESERVED = new Set(['steps', 'format']);

function parsePairs(op: string, pairs: string[], reserved: ReadonlySet<string>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const pair of pairs) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw badRequest('url', `${op}: ${JSON.stringify(pair)} must be key=value`);
    const key = pair.slice(0, eq);
    if (PROTOTYPE_KEYS.has(key) || reserved.has(key)) throw badRequest('url', `${op}: ${JSON.stringify(key)} is not a parameter name`);
    params[key] = typedValue(pair.slice(eq + 1));
  }
  return params;
}

/** A percent-encoded value from a path, typed. */
function typedValue(raw: string): unknown {
  try {
    return typed(decodeURIComponent(raw));
  } catch {
    throw badRequest('url', `${JSON.stringify(raw)} is not valid percent-encoding`);
  }
}

/** "200" → 200, "true" → true, anything else the string itself. */
export function typed(text: string): unknown {
  // a number only when it is one: 400 nines stay text (Infinity would pass range checks written as comparisons)
  if (/^-?\d+(\.\d+)?$/.test(text) && Number.isFinite(Number(text))) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return text;
}

/** The function and parameters one request becomes, `format` being the negotiated one. */
export function toCall(request: ImageRequest, format: string | undefined): { fn: string; params: Record<string, unknown> } {
  const output = format ? { ...request.output, format } : request.output;
  if (request.info) return { fn: 'info', params: {} };
  if (request.steps.length === 0) return { fn: 'convert', params: { ...output, format: format ?? 'jpeg' } };
  return { fn: 'pipeline', params: { steps: request.steps, ...output } };
}
