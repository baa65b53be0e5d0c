/**
 * The image operations, one entry each: how to read its parameters (with the
 * shared validation vocabulary) and how to add it to a sharp pipeline. The
 * table is both the list of pipeline ops and its validator.
 *
 * `rank` is where sharp performs the operation inside one pass (sharp runs its
 * operations in a fixed order whatever order they were called in). A pipeline
 * keeps adding steps to one pass while their ranks increase; a step that
 * sharp would run earlier than a step already in the pass starts a new pass,
 * so the result is always what the caller's order means.
 */
import sharp, { type ExtendOptions, type Region, type ResizeOptions, type Sharp } from 'sharp';
import { escapeMarkup, Fonts } from './fonts.js';
import type { Params } from '../params.js';
import { bytesParam } from './input.js';
import { openImage, type ImageLimits } from './limits.js';

export interface StepContext {
  fn: string;
  limits: ImageLimits;
  /** Size of the image entering this step (known exactly for steps with needsSize). */
  width: number;
  height: number;
  params: Params;
}

/** An image's size in pixels. */
export interface Size {
  width: number;
  height: number;
}

export interface Step<O = any> {
  rank: number;
  /**
   * The size this step makes of an image of `size` (never less than sharp makes it: the
   * pipeline refuses a step whose result would pass images.maxPixels before any pixel is
   * made). Steps that keep the size, or only shrink it (trim), leave it out.
   */
  size?(options: O, size: Size): Size;
  /** Step needs the exact current size: the pipeline materialises pending work first. */
  needsSize?: boolean;
  /** Nothing may share a pass after this step (sharp's order around it is not the caller's). */
  barrier?: boolean;
  parse(p: Params, limits: ImageLimits): O;
  apply(image: Sharp, options: O, ctx: StepContext): Sharp | Promise<Sharp>;
}

export const GRAVITIES = ['north', 'northeast', 'east', 'southeast', 'south', 'southwest', 'west', 'northwest', 'center', 'centre'] as const;
const STRATEGIES = ['attention', 'entropy'] as const;
const FITS = ['cover', 'contain', 'fill', 'inside', 'outside'] as const;
const KERNELS = ['nearest', 'linear', 'cubic', 'mitchell', 'lanczos2', 'lanczos3'] as const;
const COLOUR = /^(#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})|[a-z]{3,20}|transparent)$/i;
const colour = (p: Params, name: string, fallback: string) => p.string(name, COLOUR, 'a colour such as #ff8800, #ff880080 or white', fallback);

function dimension(p: Params, name: string, limits: ImageLimits): number | undefined {
  return p.has(name) ? p.int(name, 1, limits.maxOutputDimension) : undefined;
}

function requireOneOf(p: Params, names: string[], what: string): void {
  if (!names.some((n) => p.has(n))) p.fail(names.join(' or '), what, undefined);
}

/** What sharp's resize makes of `size`: a missing side keeps the aspect ratio, inside/outside scale to fit. */
function resized(o: ResizeOptions, size: Size): Size {
  const { width: w, height: h } = size;
  let width = o.width ?? Math.max(1, Math.round((w * o.height!) / h));
  let height = o.height ?? Math.max(1, Math.round((h * o.width!) / w));
  if (o.width !== undefined && o.height !== undefined && (o.fit === 'inside' || o.fit === 'outside')) {
    const scale = (o.fit === 'inside' ? Math.min : Math.max)(o.width / w, o.height / h);
    width = Math.max(1, Math.round(w * scale));
    height = Math.max(1, Math.round(h * scale));
  }
  // no enlargement: neither side grows past the input's
  return o.withoutEnlargement ? { width: Math.min(width, w), height: Math.min(height, h) } : { width, height };
}

const resize: Step<ResizeOptions> = {
  rank: 40,
  parse(p, limits) {
    requireOneOf(p, ['width', 'height'], 'given (an integer from 1 to ' + limits.maxOutputDimension + ')');
    const position = p.has('position') ? p.oneOf('position', [...GRAVITIES, ...STRATEGIES]) : 'centre';
    return {
      width: dimension(p, 'width', limits),
      height: dimension(p, 'height', limits),
      fit: p.oneOf('fit', FITS, 'cover'),
      position,
      background: colour(p, 'background', '#000000'),
      kernel: p.oneOf('kernel', KERNELS, 'lanczos3'),
      withoutEnlargement: p.bool('withoutEnlargement', false),
    };
  },
  size: resized,
  apply: (image, o) => image.resize(o),
};

const thumbnail: Step<ResizeOptions> = {
  rank: 40,
  parse(p, limits) {
    requireOneOf(p, ['width', 'height'], 'given (an integer from 1 to ' + limits.maxOutputDimension + ')');
    return { width: dimension(p, 'width', limits), height: dimension(p, 'height', limits), fit: 'inside', withoutEnlargement: !p.bool('enlarge', false), kernel: 'lanczos3' };
  },
  size: resized,
  apply: (image, o) => image.resize(o),
};

type CropOptions = { rect: Region } | { smart: ResizeOptions };
const crop: Step<CropOptions> = {
  rank: 20,
  parse(p, limits) {
    const width = p.int('width', 1, limits.maxOutputDimension);
    const height = p.int('height', 1, limits.maxOutputDimension);
    if (p.has('left') || p.has('top')) {
      return { rect: { left: p.int('left', 0, 1_000_000, 0), top: p.int('top', 0, 1_000_000, 0), width, height } };
    }
    return { smart: { width, height, fit: 'cover', position: p.oneOf('strategy', [...STRATEGIES, ...GRAVITIES], 'attention') } };
  },
  size: (o) => ('smart' in o ? { width: o.smart.width!, height: o.smart.height! } : { width: o.rect.width, height: o.rect.height }),
  apply(image, o, ctx) {
    if ('smart' in o) return image.resize(o.smart);
    const r = o.rect;
    if (r.left + r.width > ctx.width || r.top + r.height > ctx.height) {
      ctx.params.fail('left/top/width/height', `a rectangle inside the ${ctx.width} x ${ctx.height} image`, `${r.width} x ${r.height} at ${r.left},${r.top}`);
    }
    return image.extract(r);
  },
  needsSize: true,
};
// a smart crop is a resize: it must share resize's place in a pass
const smartOrRect = (o: CropOptions) => ('smart' in o ? 40 : 20);

const rotate: Step<{ angle: number; background: string }> = {
  rank: 30,
  barrier: true,
  parse: (p) => ({ angle: p.number('angle', -360, 360), background: colour(p, 'background', '#000000') }),
  // any other angle than a right one makes the bounding box of the turned image
  size(o, { width, height }) {
    if (o.angle % 90 === 0) return (o.angle / 90) % 2 === 0 ? { width, height } : { width: height, height: width };
    const [cos, sin] = [Math.abs(Math.cos((o.angle * Math.PI) / 180)), Math.abs(Math.sin((o.angle * Math.PI) / 180))];
    return { width: Math.ceil(width * cos + height * sin), height: Math.ceil(width * sin + height * cos) };
  },
  apply: (image, o) => image.rotate(o.angle, { background: o.background }),
};

const flip: Step<null> = { rank: 50, parse: () => null, apply: (image) => image.flip() };
const flop: Step<null> = { rank: 51, parse: () => null, apply: (image) => image.flop() };

const extend: Step<ExtendOptions> = {
  rank: 60,
  parse(p, limits) {
    const all = p.int('all', 0, limits.maxOutputDimension, 0);
    const side = (name: string) => p.int(name, 0, limits.maxOutputDimension, all);
    return { top: side('top'), bottom: side('bottom'), left: side('left'), right: side('right'), background: colour(p, 'background', '#000000') };
  },
  size: (o, { width, height }) => ({ width: width + o.left! + o.right!, height: height + o.top! + o.bottom! }),
  apply: (image, o) => image.extend(o),
};

const blur: Step<number> = { rank: 70, parse: (p) => p.number('sigma', 0.3, 1000, 2), apply: (image, sigma) => image.blur(sigma) };
const sharpen: Step<number | undefined> = {
  rank: 71,
  parse: (p) => (p.has('sigma') ? p.number('sigma', 0.000001, 10) : undefined),
  apply: (image, sigma) => (sigma === undefined ? image.sharpen() : image.sharpen({ sigma })),
};

const modulate: Step<{ brightness?: number; saturation?: number; hue?: number; lightness?: number }> = {
  rank: 80,
  parse(p) {
    requireOneOf(p, ['brightness', 'saturation', 'hue', 'lightness'], 'given (brightness 0-10, saturation 0-10, hue -360 to 360, lightness -100 to 100)');
    return {
      brightness: p.has('brightness') ? p.number('brightness', 0, 10) : undefined,
      saturation: p.has('saturation') ? p.number('saturation', 0, 10) : undefined,
      hue: p.has('hue') ? p.int('hue', -360, 360) : undefined,
      lightness: p.has('lightness') ? p.number('lightness', -100, 100) : undefined,
    };
  },
  // sharp rejects keys present with undefined values
  apply: (image, o) => image.modulate(Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))),
};

const grayscale: Step<null> = { rank: 90, parse: () => null, apply: (image) => image.grayscale() };

const trim: Step<{ threshold: number; background?: string }> = {
  rank: 10,
  parse: (p) => ({ threshold: p.number('threshold', 0, 255, 10), background: p.has('background') ? colour(p, 'background', '') : undefined }),
  apply: (image, o) => image.trim(o),
};

interface WatermarkOptions {
  text?: string;
  overlay?: Buffer;
  font: keyof typeof Fonts;
  size: number;
  color: string;
  opacity: number;
  gravity: (typeof GRAVITIES)[number];
  margin: number;
  angle: number;
  tiled: boolean;
  scale: number;
}

const FONT_NAMES = { sans: 'sans', 'sans-bold': 'sansBold', 'mono-bold': 'monoBold' } as const;

const watermark: Step<WatermarkOptions> = {
  rank: 100,
  needsSize: true,
  barrier: true,
  parse(p) {
    const text = p.has('text') ? p.string('text', /^[^\u0000]{1,500}$/, 'text of 1 to 500 characters') : undefined;
    p.known('watermark');
    const overlay = bytesParam(p.fn, p.all(), 'watermark', false);
    if (!text && !overlay) p.fail('text or watermark', 'given (text to draw, or watermark image bytes)', undefined);
    return {
      text,
      overlay,
      font: FONT_NAMES[p.oneOf('font', Object.keys(FONT_NAMES) as (keyof typeof FONT_NAMES)[], 'sans')],
      size: p.int('size', 4, 1024, 32),
      color: colour(p, 'color', '#ffffff'),
      opacity: p.number('opacity', 0, 1, 0.5),
      gravity: p.oneOf('gravity', GRAVITIES, 'southeast'),
      margin: p.int('margin', 0, 4096, 16),
      angle: p.number('angle', -360, 360, 0),
      tiled: p.bool('tiled', false),
      scale: p.number('scale', 0.01, 1, 0.25),
    };
  },
  async apply(image, o, ctx) {
    let mark: Sharp;
    if (o.text) {
      const font = Fonts[o.font];
      mark = sharp({ text: { text: `<span foreground="${o.color}">${escapeMarkup(o.text)}</span>`, font: `${font.family} ${o.size}`, fontfile: font.file, rgba: true, dpi: 72 } });
    } else {
      const opened = await openImage(ctx.fn, o.overlay!, ctx.limits);
      mark = opened.load().resize({ width: Math.max(1, Math.round(ctx.width * o.scale)), fit: 'inside' });
    }
    mark = mark.ensureAlpha();
    if (o.angle) mark = sharp(await mark.png().toBuffer()).rotate(o.angle, { background: { r: 0, g: 0, b: 0, alpha: 0 } });
    // fade: multiply the alpha channel by the opacity
    let markPng = await mark
      .composite([{ input: Buffer.from([255, 255, 255, Math.round(255 * o.opacity)]), raw: { width: 1, height: 1, channels: 4 }, tile: true, blend: 'dest-in' }])
      .png()
      .toBuffer();
    const meta = await sharp(markPng).metadata();
    // keep the mark inside the base, margin included
    const room = { width: Math.max(1, ctx.width - 2 * o.margin), height: Math.max(1, ctx.height - 2 * o.margin) };
    if ((meta.width ?? 0) > room.width || (meta.height ?? 0) > room.height) {
      markPng = await sharp(markPng).resize({ ...room, fit: 'inside' }).png().toBuffer();
    }
    if (o.margin > 0 && !o.tiled) {
      markPng = await sharp(markPng).extend({ top: o.margin, bottom: o.margin, left: o.margin, right: o.margin, background: { r: 0, g: 0, b: 0, alpha: 0 } }).png().toBuffer();
    }
    return image.composite([{ input: markPng, gravity: o.gravity, tile: o.tiled }]);
  },
};

export const STEPS = { resize, thumbnail, crop, rotate, flip, flop, extend, blur, sharpen, modulate, grayscale, trim, watermark } as const;
export type StepName = keyof typeof STEPS;
export const STEP_NAMES = Object.keys(STEPS) as StepName[];

/** Where a parsed step sits in sharp's order (crop moves with its kind). */
export function rankOf(name: StepName, options: unknown): number {
  return name === 'crop' ? smartOrRect(options as CropOptions) : STEPS[name].rank;
}
