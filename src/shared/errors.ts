/**
 * One error class for everything a DIPS function can refuse, carrying the
 * service-API status code that travels in the Nats-Service-Error-Code header.
 * Codes follow HTTP so they read the same in every tool.
 */
export const ErrorCode = {
  badRequest: 400,
  notFound: 404,
  timeout: 408,
  tooLarge: 413,
  unprocessable: 422,
  /** The caller withdrew the job (Gearman `cancel job`, an aborted signal). */
  cancelled: 409,
  internal: 500,
  /** Refused for memory: the waiting jobs' byte limit is reached. */
  busy: 503,
  noWorker: 503,
  /** The caller is shutting down. */
  unavailable: 503,
  /** The function failed without a message (a Gearman worker's WORK_FAIL): callers get a plain failure. */
  workFail: 520,
} as const;

export class DipsError extends Error {
  override name = 'DipsError';
  constructor(readonly code: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** `<fn>: <message>` with code 400: a parameter or payload the caller got wrong. */
export function badRequest(fn: string, message: string): DipsError {
  return new DipsError(ErrorCode.badRequest, `${fn}: ${message}`);
}

/** Render any thrown value as a message a caller can act on. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const MAX_ERROR_LENGTH = 1000;

/**
 * An error message made safe for the Nats-Service-Error header: control
 * characters (a parser may quote the caller's bytes, CR/LF included) would
 * break the header block and lose the reply, so they become '?'; long
 * messages are cut.
 */
export function headerSafe(message: string): string {
  const clean = message.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > MAX_ERROR_LENGTH ? `${clean.slice(0, MAX_ERROR_LENGTH)}…` : clean;
}
