/** Every NATS subject DIPS uses is spelled here and nowhere else. */

export const FUNCTION_PREFIX = 'dips.fn.';
export const CONTROL_PREFIX = 'dips.control.';
/** Name every worker registers its services under; `$SRV.INFO.dips` lists them all. */
export const SERVICE_NAME = 'dips';

/** Subject a function is requested on; its queue group is the function name. */
export function functionSubject(fn: string): string {
  return FUNCTION_PREFIX + fn;
}

export function controlSubject(verb: string): string {
  return CONTROL_PREFIX + verb;
}

const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Function names become subject tokens and queue groups, so they must be plain. */
export function isValidFunctionName(fn: string): boolean {
  return FUNCTION_NAME.test(fn);
}
