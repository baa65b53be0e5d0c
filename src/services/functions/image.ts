/**
 * Image functions on sharp. Each single operation (thumbnail, resize, crop,
 * watermark, rotate, …) is a one-step pipeline; `convert` is a pipeline with
 * no steps; `pipeline` takes an ordered list; `info` describes an image.
 * Image bytes come as the raw body (parameters in Dips-Params) or as the
 * `image` parameter (msgpack bin, PHP string).
 */
import { badRequest } from '../../shared/errors.js';
import { bytesResult, valueResult, type FunctionDef, type Job } from '../job.js';
import { Params } from '../params.js';
import { imageBytes } from '../image/input.js';
import { openImage, type ImageLimits } from '../image/limits.js';
import { parseOutput } from '../image/output.js';
import { runPipeline, type ParsedStep } from '../image/pipeline.js';
import { STEP_NAMES, STEPS, type StepName } from '../image/steps.js';

const DESCRIPTIONS: Record<StepName, string> = {
  thumbnail: 'Fit within width and/or height, auto-oriented, metadata stripped, never enlarged unless enlarge=true',
  resize: 'Resize to width/height with fit, position (gravity or attention/entropy), background, kernel',
  crop: 'Crop a rectangle (left, top, width, height) or smart-crop to width x height (strategy)',
  watermark: 'Draw text or overlay an image (opacity, gravity, margin, angle, tiled, scale)',
  rotate: 'Rotate by angle degrees, filling with background',
  flip: 'Mirror top to bottom',
  flop: 'Mirror left to right',
  extend: 'Add borders (top, bottom, left, right or all) in background colour',
  blur: 'Gaussian blur (sigma)',
  sharpen: 'Sharpen (sigma)',
  modulate: 'Brightness, saturation, hue, lightness',
  grayscale: 'Convert to greyscale',
  trim: 'Trim borders similar to the top-left pixel (threshold)',
};

const MAX_STEPS = 32;

async function runSteps(job: Job, limits: ImageLimits, steps: ParsedStep[], p: Params) {
  const input = imageBytes(job);
  // parse output options before decoding, so a bad parameter costs nothing
  const preview = parseOutput(p, undefined);
  p.known('image');
  p.refuseUnknown();
  const result = await runPipeline(job.fn, input, steps, (inputFormat) => (p.has('format') ? preview : parseOutput(p, inputFormat)), limits, job.deadline);
  return bytesResult(result.bytes, result.contentType);
}

function stepFunction(name: StepName, limits: ImageLimits): FunctionDef {
  return {
    name,
    description: DESCRIPTIONS[name],
    idempotent: true,
    input: 'params',
    async run(job) {
      const p = new Params(job.fn, job.params);
      const options = p.parse((params) => STEPS[name].parse(params, limits));
      return runSteps(job, limits, [{ name, options, params: p }], p);
    },
  };
}

function parseSteps(fn: string, value: unknown, limits: ImageLimits): ParsedStep[] {
  const list = Array.isArray(value) ? value : value && typeof value === 'object' ? Object.values(value) : undefined;
  if (!list || list.length === 0) throw badRequest(fn, `steps must be a list of 1 to ${MAX_STEPS} steps like {"op": "resize", "width": 200}, got ${value === undefined ? 'nothing' : typeof value}`);
  if (list.length > MAX_STEPS) throw badRequest(fn, `steps has ${list.length} steps, at most ${MAX_STEPS} are allowed`);
  return list.map((raw, i) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw badRequest(fn, `step ${i + 1} must be a map with an op, got ${typeof raw}`);
    const op = (raw as Record<string, unknown>).op;
    if (typeof op !== 'string' || !(STEP_NAMES as string[]).includes(op)) {
      throw badRequest(fn, `step ${i + 1}: op must be one of ${STEP_NAMES.join(', ')}, got ${JSON.stringify(op)}`);
    }
    const params = new Params(`${fn}: step ${i + 1} (${op})`, raw as Record<string, unknown>);
    params.known('op');
    const options = params.parse((step) => STEPS[op as StepName].parse(step, limits));
    params.refuseUnknown();
    return { name: op as StepName, options, params };
  });
}

export function imageFunctions(limits: ImageLimits): FunctionDef[] {
  const single = STEP_NAMES.map((name) => stepFunction(name, limits));
  const convert: FunctionDef = {
    name: 'convert',
    description: 'Re-encode as jpeg, png, webp, avif, gif or tiff (quality, lossless, progressive, effort, palette); animation kept for gif and webp',
    idempotent: true,
    input: 'params',
    async run(job) {
      const p = new Params(job.fn, job.params);
      if (!p.has('format')) p.fail('format', 'one of jpeg, png, webp, avif, gif, tiff');
      return runSteps(job, limits, [], p);
    },
  };
  const pipeline: FunctionDef = {
    name: 'pipeline',
    description: 'An ordered list of steps (any of the single operations) in as few sharp passes as possible, then output options',
    idempotent: true,
    input: 'params',
    async run(job) {
      const p = new Params(job.fn, job.params);
      return runSteps(job, limits, parseSteps(job.fn, p.raw('steps'), limits), p);
    },
  };
  const info: FunctionDef = {
    name: 'info',
    description: 'Format, displayed width and height, orientation, channels, depth, colour space, alpha, ICC profile, pages, bytes',
    idempotent: true,
    input: 'params',
    async run(job) {
      const p = new Params(job.fn, job.params);
      p.known('image');
      p.refuseUnknown();
      const bytes = imageBytes(job);
      const { meta, pages } = await openImage(job.fn, bytes, limits);
      const orientation = meta.orientation ?? 1;
      const frameHeight = meta.pageHeight ?? meta.height ?? 0;
      const swap = orientation >= 5;
      return valueResult({
        format: meta.format,
        width: swap ? frameHeight : meta.width,
        height: swap ? meta.width : frameHeight,
        orientation,
        channels: meta.channels,
        depth: meta.depth,
        space: meta.space,
        hasAlpha: meta.hasAlpha ?? false,
        hasProfile: meta.hasProfile ?? false,
        pages,
        bytes: bytes.length,
      });
    },
  };
  return [...single, convert, pipeline, info];
}
