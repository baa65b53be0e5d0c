/**
 * Safety for every image function: the header is read and checked (format,
 * pixels, frames, bytes) before anything is decoded, so a decompression bomb
 * costs a header read; decoding has a time limit; only formats that cannot
 * reference files or URLs are accepted (no SVG, PDF or raw libvips formats).
 */
import sharp, { type Metadata, type OutputInfo, type Sharp, type SharpOptions } from 'sharp';
import { DipsError, ErrorCode, errorMessage } from '../../shared/errors.js';

export interface ImageLimits {
  maxPixels: number;
  maxInputBytes: number;
  maxFrames: number;
  maxOutputDimension: number;
  timeLimitMs: number;
}

/** Input formats we decode; everything here is self-contained. */
export const INPUT_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'avif']);

export interface OpenedImage {
  bytes: Buffer;
  meta: Metadata;
  /** Frames to decode: all of them for animations, else 1. */
  pages: number;
  /** A fresh sharp pipeline on the (auto-oriented) input. */
  load(opts?: { animated?: boolean }): Sharp;
}

/** Check an encoded image against the limits and prepare to decode it. */
export async function openImage(fn: string, bytes: Buffer, limits: ImageLimits): Promise<OpenedImage> {
  if (bytes.length === 0) throw new DipsError(ErrorCode.badRequest, `${fn}: image is empty`);
  if (bytes.length > limits.maxInputBytes) {
    throw new DipsError(ErrorCode.tooLarge, `${fn}: image is ${bytes.length} bytes, above the limit of ${limits.maxInputBytes}`);
  }
  let meta: Metadata;
  try {
    // limitInputPixels false here: we check ourselves, with a message that names the numbers
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new DipsError(ErrorCode.unprocessable, `${fn}: cannot read the image: ${cleanSharpMessage(err)}`);
  }
  if (!meta.format || !INPUT_FORMATS.has(meta.format)) {
    throw new DipsError(ErrorCode.unprocessable, `${fn}: unsupported image format ${meta.format ?? 'unknown'}; accepted: ${[...INPUT_FORMATS].join(', ')}`);
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width <= 0 || height <= 0) throw new DipsError(ErrorCode.unprocessable, `${fn}: image has no dimensions`);
  if (width * height > limits.maxPixels) {
    throw new DipsError(
      ErrorCode.tooLarge,
      `${fn}: image is ${width} x ${height} = ${((width * height) / 1e6).toFixed(1)} megapixels, above the limit of ${(limits.maxPixels / 1e6).toFixed(1)}`,
    );
  }
  const pages = meta.pages ?? 1;
  if (pages > limits.maxFrames) throw new DipsError(ErrorCode.tooLarge, `${fn}: image has ${pages} frames, above the limit of ${limits.maxFrames}`);
  const base: SharpOptions = { limitInputPixels: limits.maxPixels, failOn: 'error', sequentialRead: true };
  return {
    bytes,
    meta,
    pages,
    load: (opts = {}) => sharp(bytes, { ...base, autoOrient: true, ...(opts.animated && pages > 1 ? { pages: -1 } : {}) }),
  };
}

/** Run an encode with the job's remaining time as libvips's timeout; map failures to clear errors. */
export async function render(fn: string, pipeline: Sharp, deadline: number, limits: ImageLimits): Promise<{ data: Buffer; info: OutputInfo }> {
  const remainingMs = Math.min(limits.timeLimitMs, deadline - Date.now());
  if (remainingMs <= 0) throw new DipsError(ErrorCode.timeout, `${fn}: deadline passed before the work started`);
  try {
    return await pipeline.timeout({ seconds: Math.max(1, Math.ceil(remainingMs / 1000)) }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    const message = cleanSharpMessage(err);
    if (/timeout/i.test(message)) throw new DipsError(ErrorCode.timeout, `${fn}: took longer than ${Math.round(remainingMs)} ms`);
    if (err instanceof DipsError) throw err;
    throw new DipsError(ErrorCode.unprocessable, `${fn}: cannot process the image: ${message}`);
  }
}

/** libvips messages span lines and name internal functions; keep the first useful line. */
export function cleanSharpMessage(err: unknown): string {
  return errorMessage(err).split('\n').map((l) => l.trim()).filter(Boolean)[0]?.replace(/^VipsJpeg: |^vips_\w+: /, '') ?? 'unknown error';
}
