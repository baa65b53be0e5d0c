/**
 * A background job's retry budget: which failures another attempt may mend,
 * how long to wait before it, and what a restart makes of an attempt it cut
 * off. A job that got JOB_CREATED runs, or ends in the dead letters where an
 * operator sees it; nothing runs again unasked past its budget.
 */
import { ErrorCode } from '../shared/errors.js';
import type { AttemptState, RestoredJob } from './store.js';

/** Attempts a background job gets when gateway.backgroundAttempts is not given (tests, embedders). */
export const DEFAULT_ATTEMPTS = 3;
/** Run time of one attempt when queue.backgroundRunTimeoutMs is not given. */
export const DEFAULT_RUN_TIMEOUT_MS = 600_000;

/**
 * Failures of the job itself — a parameter, a payload, a source that is not
 * there, a size past a limit: another attempt would fail the same way, so the
 * job goes straight to the dead letters. Everything else (a worker's failure
 * or exception, a timeout, no worker) may be the worker's or the moment's.
 */
const PERMANENT = new Set<number>([ErrorCode.badRequest, ErrorCode.forbidden, ErrorCode.notFound, ErrorCode.tooLarge, ErrorCode.unprocessable]);

export const isPermanent = (code: number): boolean => PERMANENT.has(code);

const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 60_000;

/** Wait before the next attempt once `failed` have failed: 1 s, 2 s, 4 s… at most a minute, so a job that fails at once does not spin on the workers. */
export function backoffMs(failed: number): number {
  return Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.max(0, failed - 1));
}

/**
 * A stored job's attempts as a restarted gateway counts them: one that was
 * under way when the gateway died counts as failed — it may have run, or
 * crashed whatever ran it, and must not run again beyond the budget.
 */
export function afterRestart(job: RestoredJob): AttemptState {
  const attempts = job.attempts ?? 0;
  if (job.runningSince === undefined) return { attempts, lastError: job.lastError };
  return { attempts: attempts + 1, lastError: `the gateway stopped while attempt ${attempts + 1} ran (a worker held it since ${new Date(job.runningSince).toISOString()})` };
}
