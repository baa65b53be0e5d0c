/** Where a job's image bytes come from: the raw body, or the `image` parameter (msgpack bin, PHP string). */
import { badRequest } from '../../shared/errors.js';
import type { Job } from '../job.js';

export function imageBytes(job: Job, param = 'image'): Buffer {
  if (job.encoding === 'raw') return Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength);
  return bytesParam(job.fn, job.params, param, true)!;
}

/** A binary parameter; PHP and msgpack callers send bytes, a PHP string of valid UTF-8 arrives as text. */
export function bytesParam(fn: string, params: Record<string, unknown>, name: string, required: boolean): Buffer | undefined {
  const value = params[name];
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string' && value.length > 0) return Buffer.from(value, 'utf8');
  if (value === undefined || value === null || value === '') {
    if (required) throw badRequest(fn, `${name} is required (the image bytes, or send the image as the raw body with parameters in the Dips-Params header)`);
    return undefined;
  }
  throw badRequest(fn, `${name} must be image bytes, got ${typeof value}`);
}
