/**
 * imgproxy's URL grammar, mapped onto the same request the native grammar makes
 * (url.ts's ImageRequest: resize/blur/sharpen steps of one `pipeline` call, output
 * options, a source spec the Sources rules check):
 *
 *   /<signature>/<option>:<arg>:<arg>/…/plain/<percent-encoded URL>[@<ext>]
 *   /<signature>/<option>:<arg>:<arg>/…/<base64url URL, may be split by />[.<ext>]
 *
 * As in imgproxy, options set a state (a later option overrides an earlier one, presets
 * included) and the state becomes the steps; it is not an ordered list of operations.
 * Every option of imgproxy's that DIPS cannot do the same way is refused with a 400 naming it:
 * OPTIONS is both the list of what is accepted and its validator, UNSUPPORTED says why the rest is not.
 */
import { badRequest } from '../../shared/errors.js';
import type { ImageRequest } from './url.js';

type ResizingType = 'fit' | 'fill' | 'fill-down' | 'force' | 'auto';

interface State {
  type: ResizingType;
  width: number;
  height: number;
  enlarge: boolean;
  extend: boolean;
  extendGravity: string;
  gravity: string;
  dpr: number;
  quality: number;
  format?: string;
  blur: number;
  sharpen: number;
  expires?: number;
}

const initialState = (): State => ({ type: 'fit', width: 0, height: 0, enlarge: false, extend: false, extendGravity: 'centre', gravity: 'centre', dpr: 1, quality: 0, blur: 0, sharpen: 0 });

const fail = (message: string) => badRequest('url', `imgproxy grammar: ${message}`);

/** imgproxy's gravity types → the gravity names of DIPS's resize step (sm: libvips' attention, as imgproxy's smart crop). */
const GRAVITIES: Readonly<Record<string, string>> = {
  no: 'north', so: 'south', ea: 'east', we: 'west', noea: 'northeast', nowe: 'northwest', soea: 'southeast', sowe: 'southwest', ce: 'centre', sm: 'attention',
};
/** imgproxy's format names → DIPS's output formats. */
const FORMATS: Readonly<Record<string, string>> = { jpg: 'jpeg', jpeg: 'jpeg', png: 'png', webp: 'webp', avif: 'avif', gif: 'gif', tiff: 'tiff', tif: 'tiff' };
const RESIZING_TYPES: readonly ResizingType[] = ['fit', 'fill', 'fill-down', 'force', 'auto'];
/** strconv.ParseBool's spellings, as imgproxy reads booleans (a value outside them is refused here, not read as false). */
const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

function bool(option: string, value: string): boolean {
  if (TRUE.has(value)) return true;
  if (FALSE.has(value)) return false;
  throw fail(`${option}: ${JSON.stringify(value)} is not a boolean (1, t, true, 0, f, false)`);
}

function nonNegativeInt(option: string, value: string, max = 100_000): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) > max) throw fail(`${option}: ${JSON.stringify(value)} must be an integer from 0 to ${max}`);
  return Number(value);
}

function positiveNumber(option: string, value: string, allowZero: boolean, max: number): number {
  const n = /^\d{1,6}(\.\d{1,6})?$/.test(value) ? Number(value) : NaN;
  if (!(n <= max) || (!allowZero && n === 0)) throw fail(`${option}: ${JSON.stringify(value)} must be a number ${allowZero ? 'from 0' : 'above 0'} up to ${max}`);
  return n;
}

function maxArgs(option: string, args: string[], n: number): void {
  if (args.length > n) throw fail(`${option} takes at most ${n} arguments, got ${args.length} (${JSON.stringify(args.join(':').slice(0, 64))})`);
}

/** A gravity with no offsets, or offsets of 0: DIPS's steps place by gravity only. */
function gravity(option: string, args: string[], allowSmart: boolean): string {
  maxArgs(option, args, 3);
  const [type, x = '', y = ''] = args;
  if (type === 'fp') throw fail(`${option}: focus-point gravity (fp) is not supported: DIPS's resize places a crop by the nine gravities or attention/entropy only`);
  if (type === 'obj' || type === 'objw') throw fail(`${option}: object-oriented gravity (${type}) is not supported: it is imgproxy Pro's object detection`);
  if (type === 'sm' && !allowSmart) throw fail(`${option}: sm is not a gravity here (imgproxy allows it only for cropping)`);
  if (!Object.hasOwn(GRAVITIES, type ?? '')) throw fail(`${option}: ${JSON.stringify(type ?? '')} is not a gravity (${Object.keys(GRAVITIES).filter((g) => allowSmart || g !== 'sm').join(', ')})`);
  if (type === 'sm' && args.length > 1) throw fail(`${option}: sm takes no offsets`);
  for (const offset of [x, y]) {
    if (offset !== '' && !/^0+(\.0+)?$/.test(offset)) throw fail(`${option}: gravity offsets (${JSON.stringify(offset)}) are not supported: DIPS places by gravity only (offsets of 0 are accepted)`);
  }
  return GRAVITIES[type];
}

function format(option: string, value: string): string {
  if (Object.hasOwn(FORMATS, value)) return FORMATS[value];
  throw fail(`${option}: ${JSON.stringify(value)} is not supported: DIPS writes ${Object.keys(FORMATS).join(', ')}${value === 'best' ? ' (best is imgproxy Pro)' : ''}`);
}

function applySize(state: State, args: string[], option: string): void {
  maxArgs(option, args, 7);
  const [width, height, enlarge, ...extend] = args;
  if (width) state.width = nonNegativeInt(`${option} width`, width);
  if (height) state.height = nonNegativeInt(`${option} height`, height);
  if (enlarge) state.enlarge = bool(`${option} enlarge`, enlarge);
  if (extend.length && extend[0]) applyExtend(state, extend, option);
}

function applyExtend(state: State, args: string[], option: string): void {
  maxArgs(option, args, 4);
  state.extend = bool(`${option} extend`, args[0]);
  if (args.length > 1) state.extendGravity = gravity(`${option} extend gravity`, args.slice(1), false);
}

interface Option {
  names: readonly string[];
  apply(state: State, args: string[], name: string, presets: Readonly<Record<string, string>>, used: string[]): void;
}

/** The options DIPS does, by their long and short names. */
const OPTIONS: readonly Option[] = [
  {
    names: ['resize', 'rs'],
    apply(state, args, name) {
      maxArgs(name, args, 8);
      if (args[0]) state.type = resizingType(name, args[0]);
      if (args.length > 1) applySize(state, args.slice(1), name);
    },
  },
  { names: ['size', 's'], apply: (state, args, name) => applySize(state, args, name) },
  { names: ['resizing_type', 'rt'], apply: (state, args, name) => (maxArgs(name, args, 1), (state.type = resizingType(name, args[0]))) },
  { names: ['width', 'w'], apply: (state, args, name) => (maxArgs(name, args, 1), (state.width = nonNegativeInt(name, args[0]))) },
  { names: ['height', 'h'], apply: (state, args, name) => (maxArgs(name, args, 1), (state.height = nonNegativeInt(name, args[0]))) },
  { names: ['enlarge', 'el'], apply: (state, args, name) => (maxArgs(name, args, 1), (state.enlarge = bool(name, args[0]))) },
  { names: ['extend', 'ex'], apply: (state, args, name) => applyExtend(state, args, name) },
  { names: ['gravity', 'g'], apply: (state, args, name) => (state.gravity = gravity(name, args, true)) },
  { names: ['dpr'], apply: (state, args, name) => (maxArgs(name, args, 1), (state.dpr = positiveNumber(name, args[0], false, 8))) },
  { names: ['quality', 'q'], apply: (state, args, name) => (maxArgs(name, args, 1), (state.quality = nonNegativeInt(name, args[0], 100))) },
  { names: ['format', 'f', 'ext'], apply: (state, args, name) => (maxArgs(name, args, 1), (state.format = format(name, args[0]))) },
  { names: ['blur', 'bl'], apply: (state, args, name) => (maxArgs(name, args, 1), (state.blur = positiveNumber(name, args[0], true, 1000))) },
  { names: ['sharpen', 'sh'], apply: (state, args, name) => (maxArgs(name, args, 1), (state.sharpen = positiveNumber(name, args[0], true, 10))) },
  {
    names: ['expires', 'exp'],
    apply(state, args, name) {
      maxArgs(name, args, 1);
      if (!/^-?\d{1,15}$/.test(args[0])) throw fail(`${name}: ${JSON.stringify(args[0])} is not a unix timestamp`);
      const at = Number(args[0]);
      // as imgproxy: 0 or a negative time means no expiry
      if (at <= 0) return void (state.expires = undefined);
      if (at * 1000 < Date.now()) throw fail(`${name}: the URL expired at ${new Date(at * 1000).toISOString()}`);
      state.expires = at;
    },
  },
  // no effect on the image, by imgproxy's definition: it only makes another URL (and cache key)
  { names: ['cachebuster', 'cb'], apply: (_state, args, name) => maxArgs(name, args, 1) },
  // DIPS always strips metadata and auto-rotates: asking for that is fine, asking otherwise is refused
  { names: ['strip_metadata', 'sm'], apply: (_s, args, name) => always(name, args, 'DIPS always strips metadata') },
  { names: ['auto_rotate', 'ar'], apply: (_s, args, name) => always(name, args, 'DIPS always rotates by EXIF orientation') },
  {
    names: ['preset', 'pr'],
    apply(state, args, name, presets, used) {
      for (const preset of args) {
        // own keys only: "__proto__" or "constructor" are names not configured, not Object's members
        const value = Object.hasOwn(presets, preset) ? presets[preset] : undefined;
        if (typeof value !== 'string') throw fail(`${name}: no preset ${JSON.stringify(preset)}; configured: ${Object.keys(presets).join(', ') || 'none'} (http.presets)`);
        if (used.includes(preset)) throw fail(`${name}: preset ${JSON.stringify(preset)} uses itself (${[...used, preset].join(' → ')})`);
        try {
          applyOptions(state, value.split('/'), presets, [...used, preset], true);
        } catch (err) {
          const why = err instanceof Error ? err.message.replace(/^url: imgproxy grammar: /, '') : String(err);
          throw fail(`preset ${JSON.stringify(preset)} (${JSON.stringify(value.slice(0, 80))}) is not in imgproxy's grammar: ${why}`);
        }
      }
    },
  },
];
const BY_NAME: ReadonlyMap<string, Option> = new Map(OPTIONS.flatMap((o) => o.names.map((n) => [n, o] as const)));

function always(name: string, args: string[], what: string): void {
  maxArgs(name, args, 1);
  if (!bool(name, args[0])) throw fail(`${name}:${args[0]} is not supported: ${what}`);
}

function resizingType(option: string, value: string): ResizingType {
  if (!(RESIZING_TYPES as readonly string[]).includes(value)) throw fail(`${option}: ${JSON.stringify(value)} is not a resizing type (${RESIZING_TYPES.join(', ')})`);
  return value as ResizingType;
}

/**
 * imgproxy's other options (open source and Pro), each with why DIPS refuses it. docs/http.md
 * has the same table; an option in neither list is unknown and refused as such.
 */
export const UNSUPPORTED: ReadonlyArray<readonly [readonly string[], string]> = [
  [['min-width', 'mw', 'min-height', 'mh'], 'minimum sizes need the source\'s size to choose the scale, which the URL is parsed without'],
  [['zoom', 'z'], 'not mapped: zoom multiplies the scale imgproxy works out from the source\'s size'],
  [['extend_aspect_ratio', 'extend_ar', 'exar'], 'extending to an aspect ratio needs the source\'s size'],
  [['crop', 'c'], 'imgproxy crops before resizing with gravity-relative sizes; use the native crop step'],
  [['trim', 't'], 'imgproxy\'s trim arguments (colour, equal sides) differ from DIPS\'s trim; use the native trim step'],
  [['padding', 'pd'], 'not mapped (the native extend step pads)'],
  [['rotate', 'rot'], 'imgproxy rotates before it resizes to the requested size; use the native rotate step'],
  [['flip', 'fl'], 'not mapped (the native flip and flop steps mirror)'],
  [['background', 'bg', 'background_alpha', 'bga'], 'not mapped: DIPS has no flatten-to-background output option'],
  [['pixelate', 'pix'], 'DIPS has no pixelate step'],
  [['watermark', 'wm', 'watermark_url', 'wmu', 'watermark_text', 'wmt', 'watermark_size', 'wms', 'watermark_rotate', 'wmr', 'watermark_shadow', 'wmsh'], 'imgproxy watermarks with an image from its own configuration; use the native watermark step'],
  [['keep_copyright', 'kcr'], 'DIPS strips all metadata'],
  [['strip_color_profile', 'scp', 'color_profile', 'cp', 'icc'], 'DIPS always converts to sRGB and drops the profile'],
  [['preserve_hdr', 'ph'], 'DIPS writes 8-bit sRGB'],
  [['enforce_thumbnail', 'eth'], 'DIPS always decodes the image itself'],
  [['format_quality', 'fq'], 'not mapped: give quality (q) for the one format asked for'],
  [['max_bytes', 'mb'], 'DIPS encodes once; it does not search for a quality under a size'],
  [['skip_processing', 'skp', 'raw'], 'DIPS always decodes and re-encodes (that is what keeps SVG and oversized images out)'],
  [['filename', 'fn', 'return_attachment', 'att'], 'dips-http does not send Content-Disposition'],
  [['max_src_resolution', 'msr', 'max_src_file_size', 'msfs', 'max_animation_frames', 'maf', 'max_animation_frame_resolution', 'mafr', 'max_result_dimension', 'mrd'], 'the limits are the operator\'s (images.maxPixels, http.sourceMaxBytes, images.maxFrames), not the URL\'s'],
  [['resizing_algorithm', 'ra', 'adjust', 'a', 'brightness', 'br', 'contrast', 'co', 'saturation', 'sa', 'monochrome', 'mc', 'duotone', 'dt', 'unsharp_masking', 'ush', 'blur_areas', 'ba', 'progressive_blur', 'pbl', 'blur_detections', 'bd', 'draw_detections', 'dd', 'crop_objects', 'cob', 'colorize', 'col', 'gradient', 'gr', 'style', 'st', 'dpi', 'autoquality', 'aq', 'jpeg_options', 'jpgo', 'png_options', 'pngo', 'webp_options', 'webpo', 'avif_options', 'avifo', 'page', 'pg', 'pages', 'pgs', 'disable_animation', 'da', 'video_thumbnail_second', 'vts', 'video_thumbnail_keyframes', 'vtk', 'video_thumbnail_tile', 'vtt', 'video_thumbnail_animation', 'vta', 'fallback_image_url', 'fiu', 'bypass_cache', 'bpc', 'cache_tags', 'ctg', 'hashsum', 'hs', 'objects_position', 'obj_pos', 'op', 'crop_aspect_ratio', 'crop_ar', 'car'], 'an imgproxy Pro option DIPS does not implement'],
];
const UNSUPPORTED_BY_NAME: ReadonlyMap<string, string> = new Map(UNSUPPORTED.flatMap(([names, why]) => names.map((n) => [n, why] as const)));

function applyOptions(state: State, segments: string[], presets: Readonly<Record<string, string>>, used: string[], inPreset: boolean): void {
  for (const segment of segments) {
    const [name, ...args] = segment.split(':');
    if (inPreset && args.length === 0) throw fail(`${JSON.stringify(segment.slice(0, 64))} is not an option (name:argument:…)`);
    const option = BY_NAME.get(name);
    if (option) {
      if (args.length === 0 || (args.length === 1 && args[0] === '' && name !== 'cachebuster' && name !== 'cb')) throw fail(`${name} needs an argument`);
      option.apply(state, args, name, presets, used);
      continue;
    }
    const why = UNSUPPORTED_BY_NAME.get(name);
    if (why) throw fail(`option ${name} is not supported: ${why} (docs/http.md lists every imgproxy option)`);
    throw fail(`${JSON.stringify(name.slice(0, 64))} is not an imgproxy processing option DIPS knows (docs/http.md lists them)`);
  }
}

/** The source part (after the options) → a source spec Sources resolves under the native rules, and the extension. */
function parseSource(parts: string[]): { source: string; extension?: string } {
  let url: string;
  let extension: string | undefined;
  if (parts[0] === 'plain' && parts.length > 1) {
    const [escaped, ext, ...more] = parts.slice(1).join('/').split('@');
    if (more.length) throw fail('a plain source has more than one @: escape @ in the URL as %40');
    if (!escaped) throw fail('the source URL after plain/ is empty');
    try {
      url = decodeURIComponent(escaped);
    } catch {
      throw fail(`the plain source URL ${JSON.stringify(escaped.slice(0, 80))} is not valid percent-encoding`);
    }
    extension = ext || undefined;
  } else if (parts[0] === 'enc') {
    throw fail('encrypted source URLs (enc/) are not supported: they are imgproxy Pro\'s; sign a plain or base64url source');
  } else {
    const [encoded, ext, ...more] = parts.join('').split('.');
    if (more.length) throw fail('a base64url source has more than one "." (extension)');
    const bare = encoded.replace(/=+$/, '');
    if (!bare || !/^[A-Za-z0-9_-]+$/.test(bare) || bare.length % 4 === 1) throw fail(`the source ${JSON.stringify(encoded.slice(0, 80))} is neither plain/<URL> nor a base64url URL`);
    try {
      url = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(bare, 'base64url'));
    } catch {
      throw fail('the base64url source does not decode to UTF-8 text');
    }
    extension = ext || undefined;
  }
  return { source: sourceSpec(url), extension };
}

/** local:///<root>/<path> → local:<root>/<path> (segments re-encoded: Sources decodes them and applies the root rules); http(s) → b64:. */
function sourceSpec(url: string): string {
  if (/^https?:\/\//i.test(url)) return `b64:${Buffer.from(url).toString('base64url')}`;
  if (url.startsWith('local:///')) {
    const path = url.slice('local:///'.length);
    if (!path) throw fail('local:/// names no root and file: use local:///<root>/<path>, the root being a name in http.localRoots');
    return `local:${path.split('/').map((s) => encodeURIComponent(s)).join('/')}`;
  }
  if (url.startsWith('local:')) throw fail(`${JSON.stringify(url.slice(0, 80))}: local sources are local:///<root>/<path>, the root being a name in http.localRoots`);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  if (scheme) throw fail(`${scheme}: sources are not supported: DIPS reads local:/// (http.localRoots) and http(s) URLs (http.origins)`);
  throw fail(`the source ${JSON.stringify(url.slice(0, 80))} is not an absolute URL (imgproxy's IMGPROXY_BASE_URL has no DIPS equivalent)`);
}

/** The steps the state stands for, in imgproxy's pipeline order: resize, then blur, then sharpen. */
function toSteps(state: State): ImageRequest['steps'] {
  const steps: ImageRequest['steps'] = [];
  const width = Math.round(state.width * state.dpr);
  const height = Math.round(state.height * state.dpr);
  if (width > 0 || height > 0) {
    const sides = { ...(width > 0 ? { width } : {}), ...(height > 0 ? { height } : {}) };
    const withoutEnlargement = !state.enlarge;
    let type = state.type;
    if (type === 'auto') throw fail('resizing type auto is not supported: it chooses fill or fit by the source\'s orientation, which the URL is parsed without (use fit or fill)');
    if (type === 'fill-down') {
      if (!state.enlarge) throw fail('resizing type fill-down without enlarge is not supported: it crops to the requested aspect ratio only when the source is smaller, which needs the source\'s size (use fill, or fill-down with enlarge, which is fill)');
      type = 'fill';
    }
    if (state.extend) {
      if (type !== 'fit' || !(width > 0 && height > 0)) throw fail('extend is supported with resizing type fit and both width and height (it becomes DIPS\'s resize fit=contain)');
      steps.push({ op: 'resize', ...sides, fit: 'contain', position: state.extendGravity, background: '#00000000', withoutEnlargement });
    } else if (type === 'fit') {
      steps.push({ op: 'resize', ...sides, fit: 'inside', withoutEnlargement });
    } else if (type === 'fill') {
      steps.push({ op: 'resize', ...sides, fit: 'cover', position: state.gravity, withoutEnlargement });
    } else {
      if (!(width > 0 && height > 0)) throw fail('resizing type force with a width or height of 0 is not supported: imgproxy keeps the source\'s own size on that side, which the URL is parsed without');
      steps.push({ op: 'resize', ...sides, fit: 'fill', withoutEnlargement });
    }
  }
  if (state.blur > 0) steps.push({ op: 'blur', sigma: state.blur });
  if (state.sharpen > 0) steps.push({ op: 'sharpen', sigma: state.sharpen });
  return steps;
}

/** Whether a path (its segments after the signature) is in imgproxy's grammar rather than the native one. */
export function isImgproxyPath(segments: readonly string[], nativeSource: RegExp): boolean {
  for (const segment of segments) {
    if (segment === 'plain') return true;
    if (nativeSource.test(segment)) return false;
  }
  return true;
}

/** Parse an imgproxy-grammar path (the segments after the signature) into the request the native grammar would make. */
export function parseImgproxyPath(segments: readonly string[], presets: Readonly<Record<string, string>>): ImageRequest {
  // as imgproxy: options are the leading segments with a ":"; the source starts at the first without
  const at = segments.findIndex((s) => !s.includes(':'));
  if (at < 0 || at === segments.length || (segments[at] === 'plain' && at === segments.length - 1) || segments.slice(at).join('') === '') {
    throw badRequest('url', 'no source: the last part of the path must start with local:, http:, https: or b64: (or, in imgproxy\'s grammar, be plain/<URL> or a base64url URL)');
  }
  const state = initialState();
  applyOptions(state, segments.slice(0, at), presets, [], false);
  const { source, extension } = parseSource(segments.slice(at));
  // the extension is applied after the options, as in imgproxy: it wins over f:
  if (extension !== undefined) state.format = format('extension', extension);
  const steps = toSteps(state);
  const request: ImageRequest = { steps, output: state.quality > 0 ? { quality: state.quality } : {}, info: false, source };
  if (state.format) request.format = state.format;
  if (state.expires !== undefined) request.expires = state.expires;
  // no processing at all: the image as it is, re-encoded (in its own format unless one is named), as imgproxy does
  if (steps.length === 0 && !state.format) steps.push({ op: 'extend', all: 0 });
  return request;
}

/**
 * Cache-Control for a URL that expires at `expires` (unix seconds): max-age (and s-maxage) no
 * longer than what is left, and no `immutable`, so no cache keeps serving it afterwards.
 */
export function expiringCacheControl(cacheControl: string, expires: number, now = Date.now()): string {
  const left = Math.max(0, Math.floor(expires - now / 1000));
  const directives = cacheControl.split(',').map((d) => d.trim()).filter((d) => d !== '');
  const out: string[] = [];
  let sawMaxAge = false;
  for (const d of directives) {
    const m = /^(max-age|s-maxage)=(\d+)$/i.exec(d);
    if (m) {
      out.push(`${m[1].toLowerCase()}=${Math.min(Number(m[2]), left)}`);
      if (m[1].toLowerCase() === 'max-age') sawMaxAge = true;
    } else if (d.toLowerCase() !== 'immutable') {
      out.push(d);
    }
  }
  if (!sawMaxAge && !out.some((d) => /^(no-store|no-cache)$/i.test(d))) out.push(`max-age=${left}`);
  return out.join(', ');
}
