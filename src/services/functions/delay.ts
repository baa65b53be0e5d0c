/**
 * delay: waits `ms` milliseconds, then returns `value` (or "ok"). With `steps`,
 * it reports progress (status i/steps) as it goes. A diagnostic function for
 * slow jobs: drains, deadlines, coalescing, status and streaming are tested and
 * demonstrated with it.
 */
import { DipsError, ErrorCode } from '../../shared/errors.js';
import { valueResult, type FunctionDef } from '../job.js';
import { Params } from '../params.js';

export const delay: FunctionDef = {
  name: 'delay',
  description: 'Waits ms (0-60000) milliseconds, reporting status steps times, then returns value',
  idempotent: true,
  input: 'params',
  async run(job) {
    const p = new Params(job.fn, job.params);
    const ms = p.int('ms', 0, 60_000, 0);
    const steps = p.int('steps', 1, 1000, 1);
    p.has('value');
    p.refuseUnknown();
    for (let i = 1; i <= steps; i++) {
      await sleep(ms / steps, job.signal, job.fn);
      if (steps > 1) job.progress.status(i, steps);
    }
    return valueResult(p.has('value') ? p.raw('value') : 'ok');
  },
};

function sleep(ms: number, signal: AbortSignal, fn: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new DipsError(ErrorCode.timeout, `${fn}: aborted`));
    });
  });
}
