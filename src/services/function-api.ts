/**
 * The API a function is written against, built-in or an operator's own: the
 * package's `dips/function` export. A bundle (src/services/bundle.ts) imports
 * it by that name, and the worker that loads the bundle resolves the name to
 * this very module (bundle-hooks.ts): a bundle ships no copy of DIPS, and the
 * DipsError it throws is the class the runtime checks with instanceof, so its
 * code reaches the caller instead of turning into a 500.
 */
export type { FunctionDef, Job, JobProgress, Result } from './job.js';
export type { Encoding } from '../mesh/codec/index.js';
export { bytesResult, valueResult } from './job.js';
export { Params, shown } from './params.js';
export { DipsError, ErrorCode, badRequest } from '../shared/errors.js';
