/** echo: returns the request body unchanged (dispatch benchmarks and health checks). */
import { bytesResult, type FunctionDef } from '../job.js';

export const echo: FunctionDef = {
  name: 'echo',
  description: 'Returns the request body unchanged',
  idempotent: true,
  input: 'bytes',
  async run(job) {
    return bytesResult(job.body, 'application/octet-stream');
  },
};
