/**
 * Running image steps: decode once (auto-oriented), add steps to one sharp
 * pass while sharp's own order matches the caller's, materialise to raw pixels
 * only where it does not (or where a step needs the exact size), encode once.
 */
import sharp, { type Sharp } from 'sharp';
import { DipsError, ErrorCode } from '../../shared/errors.js';
import type { Params } from '../params.js';
import { cleanSharpMessage, openImage, render, type ImageLimits } from './limits.js';
import { ANIMATED_FORMATS, applyOutput, CONTENT_TYPE, type OutputOptions } from './output.js';
import { rankOf, STEPS, type Size, type Step, type StepName } from './steps.js';

export interface ParsedStep {
  name: StepName;
  options: unknown;
  params: Params;
}

export interface PipelineResult {
  bytes: Buffer;
  contentType: string;
  width: number;
  height: number;
}

export async function runPipeline(
  fn: string,
  input: Buffer,
  steps: ParsedStep[],
  output: OutputOptions | ((inputFormat: string | undefined) => OutputOptions),
  limits: ImageLimits,
  deadline: number,
): Promise<PipelineResult> {
  const opened = await openImage(fn, input, limits);
  const out = typeof output === 'function' ? output(opened.meta.format) : output;
  const animated = opened.pages > 1 && ANIMATED_FORMATS.has(out.format);
  const pages = animated ? opened.pages : 1;
  let image: Sharp = opened.load({ animated });
  const swap = (opened.meta.orientation ?? 1) >= 5;
  let width = swap ? opened.meta.height! : opened.meta.width!;
  let height = swap ? opened.meta.width! : (opened.meta.pageHeight ?? opened.meta.height!);
  if (animated) height = opened.meta.pageHeight ?? height;
  let pending = false;
  let passRank = 0;
  /** The size after the steps so far: exact after a materialise, worked out from each step's options in between. */
  let size: Size = { width, height };

  const materialise = async () => {
    const { data, info } = await render(fn, image.raw({ depth: 'uchar' }), deadline, limits);
    width = info.width;
    height = info.height / pages;
    size = { width, height };
    image = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels, ...(pages > 1 ? { pageHeight: height } : {}) } });
    pending = false;
    passRank = 0;
  };

  for (const step of steps) {
    const def: Step = STEPS[step.name];
    const rank = rankOf(step.name, step.options);
    if (pending && (rank <= passRank || def.needsSize)) await materialise();
    if (Date.now() >= deadline) throw new DipsError(ErrorCode.timeout, `${fn}: deadline passed`);
    if (def.size) size = def.size(step.options, size);
    checkOutputPixels(step, size, limits);
    try {
      image = await def.apply(image, step.options, { fn, limits, width, height, params: step.params });
    } catch (err) {
      // sharp validates arguments synchronously: a value our checks let through is still the caller's
      if (err instanceof DipsError) throw err;
      throw new DipsError(ErrorCode.badRequest, `${step.params.fn}: ${cleanSharpMessage(err)}`);
    }
    pending = true;
    passRank = def.barrier ? Infinity : rank;
  }

  const { data, info } = await render(fn, applyOutput(image, out), deadline, limits);
  return { bytes: data, contentType: CONTENT_TYPE[out.format], width: info.width, height: info.height };
}

/**
 * The input's pixels are checked from its header; each step's result is checked here, before
 * it is made: resize to 16383 x 16383 and then extend would otherwise ask libvips for gigapixels.
 */
function checkOutputPixels(step: ParsedStep, size: Size, limits: ImageLimits): void {
  const pixels = size.width * size.height;
  if (pixels <= limits.maxPixels) return;
  throw new DipsError(
    ErrorCode.tooLarge,
    `${step.params.fn}: after ${step.name} the image would be ${size.width} x ${size.height} = ${(pixels / 1e6).toFixed(1)} megapixels, above the limit of ${(limits.maxPixels / 1e6).toFixed(1)} (images.maxPixels)`,
  );
}
