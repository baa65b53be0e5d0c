/** Output encoding shared by every image function: format and its options. */
import type { Sharp } from 'sharp';
import type { Params } from '../params.js';

export const OUTPUT_FORMATS = ['jpeg', 'png', 'webp', 'avif', 'gif', 'tiff'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export const ANIMATED_FORMATS: ReadonlySet<OutputFormat> = new Set(['gif', 'webp']);

export const CONTENT_TYPE: Record<OutputFormat, string> = {
  jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', avif: 'image/avif', gif: 'image/gif', tiff: 'image/tiff',
};

export interface OutputOptions {
  format: OutputFormat;
  quality?: number;
  lossless: boolean;
  progressive: boolean;
  effort?: number;
  palette: boolean;
}

const ALIASES: Record<string, OutputFormat> = { jpg: 'jpeg', tif: 'tiff', heif: 'avif' };

/** Parse output parameters; the default format is the input's (when we can write it), else JPEG. */
export function parseOutput(p: Params, inputFormat: string | undefined): OutputOptions {
  const fallback: OutputFormat = (OUTPUT_FORMATS as readonly string[]).includes(inputFormat ?? '') ? (inputFormat as OutputFormat) : ALIASES[inputFormat ?? ''] ?? 'jpeg';
  const requested = p.has('format') ? String(p.raw('format')).toLowerCase() : undefined;
  const format = requested && Object.hasOwn(ALIASES, requested) ? ALIASES[requested] : p.oneOf('format', OUTPUT_FORMATS, fallback);
  return {
    format,
    quality: p.has('quality') ? p.int('quality', 1, 100) : undefined,
    lossless: p.bool('lossless', false),
    progressive: p.bool('progressive', false),
    effort: p.has('effort') ? p.int('effort', 0, 10) : undefined,
    palette: p.bool('palette', false),
  };
}

export function applyOutput(image: Sharp, o: OutputOptions): Sharp {
  switch (o.format) {
    case 'jpeg':
      return image.jpeg({ quality: o.quality ?? 80, progressive: o.progressive, mozjpeg: false });
    case 'png':
      return image.png({ progressive: o.progressive, palette: o.palette, quality: o.quality, effort: o.effort !== undefined ? Math.max(1, o.effort) : undefined });
    case 'webp':
      return image.webp({ quality: o.quality ?? 80, lossless: o.lossless, effort: o.effort !== undefined ? Math.min(6, o.effort) : 4 });
    case 'avif':
      return image.avif({ quality: o.quality ?? 50, lossless: o.lossless, effort: o.effort !== undefined ? Math.min(9, o.effort) : 4 });
    case 'gif':
      return image.gif({ effort: o.effort !== undefined ? Math.max(1, o.effort) : 7 });
    case 'tiff':
      return image.tiff({ quality: o.quality ?? 80, compression: o.lossless ? 'lzw' : 'jpeg' });
  }
}
