/** What a function receives and returns; the runtime handles transport. */
import type { Encoding } from '../mesh/codec/index.js';

export interface Job {
  fn: string;
  /** Correlates the job across gateway, worker and logs. */
  id: string;
  /** Decoded structured body, or the Dips-Params header of a raw body. */
  params: Record<string, unknown>;
  /** The request body as received (for raw-input functions and raw images). */
  body: Uint8Array;
  encoding: Encoding;
  /** Epoch ms after which nobody waits for the result. */
  deadline: number;
  /** Aborted when the deadline passes or the worker is stopping hard. */
  signal: AbortSignal;
  /** Stream to the caller before the result (Gearman callers get WORK_DATA / WORK_WARNING / WORK_STATUS). */
  progress: JobProgress;
}

export interface JobProgress {
  data(bytes: Uint8Array | string): void;
  warning(bytes: Uint8Array | string): void;
  status(numerator: number, denominator: number): void;
}

export type Result =
  | { kind: 'bytes'; bytes: Uint8Array; contentType: string }
  | { kind: 'value'; value: unknown };

export interface FunctionDef {
  name: string;
  /** One line for `$SRV.INFO` and the README. */
  description: string;
  /** Safe to run twice (a retry after a lost reply); every image function is. */
  idempotent: boolean;
  /** 'bytes': the body is passed through untouched and params stay empty. */
  input: 'params' | 'bytes';
  /** Warm-up done once per process before the function takes jobs. */
  init?(): Promise<void>;
  run(job: Job): Promise<Result>;
}

export const bytesResult = (bytes: Uint8Array, contentType: string): Result => ({ kind: 'bytes', bytes, contentType });
export const valueResult = (value: unknown): Result => ({ kind: 'value', value });
