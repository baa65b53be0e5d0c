/**
 * delay: waits `ms` milliseconds, then returns `value` (or "ok"). A diagnostic
 * function for slow jobs: drains, deadlines, coalescing and status are tested
 * and demonstrated with it.
 */
import { DipsError, ErrorCode } from '../../shared/errors.js';
import { valueResult, type FunctionDef } from '../job.js';
import { Params } from '../params.js';

export const delay: FunctionDef = {
  name: 'delay',
  description: 'Waits ms (0-60000) milliseconds, then returns value',
  idempotent: true,
  input: 'params',
  async run(job) {
    const p = new Params(job.fn, job.params);
    const ms = p.int('ms', 0, 60_000, 0);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      job.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(job.signal.reason instanceof Error ? job.signal.reason : new DipsError(ErrorCode.timeout, `${job.fn}: aborted`));
      });
    });
    return valueResult(p.has('value') ? p.raw('value') : 'ok');
  },
};
