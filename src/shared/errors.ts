/**
 * The one error registry: every way DIPS says no, in one place — the DIPS
 * error codes (which are the NATS service-API codes in Nats-Service-Error-Code,
 * HTTP-like so they read the same in every tool), what a Gearman caller
 * receives for each, the gateway's Gearman ERROR packet names, and the process
 * exit codes. The README's "Errors and exit codes" section lists every entry
 * (a test checks it).
 */

/** DIPS error codes = NATS service-API codes. */
export const ErrorCode = {
  badRequest: 400,
  /** A bad signature or API key, or a source the HTTP gateway's rules refuse. */
  forbidden: 403,
  notFound: 404,
  timeout: 408,
  /** The caller withdrew the job (Gearman `cancel job`, an aborted signal). */
  cancelled: 409,
  tooLarge: 413,
  unprocessable: 422,
  internal: 500,
  /** Refused for memory: the waiting jobs' byte limit is reached. */
  busy: 503,
  noWorker: 503,
  /** The caller is shutting down. */
  unavailable: 503,
  /** A remote source (HTTP gateway) answered with an error or could not be reached. */
  badGateway: 502,
  /** The function failed without a message (a Gearman worker's WORK_FAIL): callers get a plain failure. */
  workFail: 520,
} as const;

export interface ErrorEntry {
  code: number;
  meaning: string;
  /** What a Gearman caller gets for a job that ends with it. */
  gearman: string;
  /** The HTTP status the HTTP gateway answers with. */
  http: number;
}

/** Every DIPS error code, what it means and what Gearman callers receive. */
export const ERROR_CODES: readonly ErrorEntry[] = [
  { code: ErrorCode.badRequest, http: 400, meaning: 'a parameter or payload the caller got wrong (the message names it)', gearman: 'WORK_EXCEPTION with the message, then WORK_FAIL' },
  { code: ErrorCode.forbidden, http: 403, meaning: 'a bad or missing URL signature or API key, a source the HTTP gateway may not read', gearman: '(HTTP only)' },
  { code: ErrorCode.notFound, http: 404, meaning: 'a source or resource that does not exist', gearman: 'WORK_EXCEPTION with the message, then WORK_FAIL' },
  { code: ErrorCode.timeout, http: 408, meaning: "the caller's deadline passed (waiting or running)", gearman: 'WORK_EXCEPTION with the message, then WORK_FAIL' },
  { code: ErrorCode.cancelled, http: 409, meaning: 'the job was withdrawn (cancel job, an aborted call)', gearman: 'WORK_FAIL' },
  { code: ErrorCode.tooLarge, http: 413, meaning: 'an input over a size limit (bytes, pixels, frames)', gearman: 'WORK_EXCEPTION with the message, then WORK_FAIL' },
  { code: ErrorCode.unprocessable, http: 415, meaning: 'an input that cannot be decoded (corrupt or unsupported image)', gearman: 'WORK_EXCEPTION with the message, then WORK_FAIL' },
  { code: ErrorCode.internal, http: 500, meaning: 'a fault inside DIPS or a Gearman worker exception', gearman: 'WORK_EXCEPTION with the message, then WORK_FAIL' },
  { code: ErrorCode.badGateway, http: 502, meaning: 'a remote source answered with an error status or could not be reached', gearman: '(HTTP only)' },
  { code: ErrorCode.busy, http: 503, meaning: 'no worker within the deadline, the byte limit on waiting jobs, or a caller shutting down (CallError.kind says which)', gearman: 'WORK_EXCEPTION with the message, then WORK_FAIL' },
  { code: ErrorCode.workFail, http: 502, meaning: 'a Gearman worker reported WORK_FAIL', gearman: 'WORK_FAIL' },
];

/** The HTTP status for a DIPS error code (unknown codes: 500). */
export function httpStatusOf(code: number): number {
  return ERROR_CODES.find((e) => e.code === code)?.http ?? 500;
}

/**
 * What kind of failure a CallError is, for programs: the numeric codes are
 * HTTP-like and 503 alone means "no worker", "busy" and "shutting down", which
 * a program retries differently (or reports differently). Each kind has one
 * code; `retryable` says whether the same call may succeed if simply sent again
 * (nothing ran, or nothing was wrong with the call), as the AWS SDK's
 * retryable/transient classification does.
 */
export type ErrorKind =
  | 'BAD_REQUEST'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'TIMEOUT'
  | 'CANCELLED'
  | 'TOO_LARGE'
  | 'UNPROCESSABLE'
  | 'INTERNAL'
  | 'BAD_GATEWAY'
  | 'NO_WORKER'
  | 'BUSY'
  | 'UNAVAILABLE'
  | 'WORK_FAIL';

export interface KindEntry {
  kind: ErrorKind;
  code: number;
  /**
   * true/false, or 'waiting': only while the call never reached a running
   * worker (a timeout waiting for room is worth another try; one that ran out
   * of time while running would most likely run out again).
   */
  retryable: boolean | 'waiting';
  meaning: string;
}

/** Every CallError kind, its code and whether it is retryable; docs/errors.md lists them (a test checks it). */
export const ERROR_KINDS: readonly KindEntry[] = [
  { kind: 'BAD_REQUEST', code: ErrorCode.badRequest, retryable: false, meaning: 'a parameter or payload the caller got wrong' },
  { kind: 'FORBIDDEN', code: ErrorCode.forbidden, retryable: false, meaning: 'a bad signature or API key, a refused source' },
  { kind: 'NOT_FOUND', code: ErrorCode.notFound, retryable: false, meaning: 'a source or resource that does not exist' },
  { kind: 'TIMEOUT', code: ErrorCode.timeout, retryable: 'waiting', meaning: "the caller's deadline passed: retryable while the job waited for room, not once it ran" },
  { kind: 'CANCELLED', code: ErrorCode.cancelled, retryable: false, meaning: 'withdrawn (Gearman cancel job, the gateway); an aborted DipsClient call rejects with the signal\'s reason instead' },
  { kind: 'TOO_LARGE', code: ErrorCode.tooLarge, retryable: false, meaning: 'an input over a size limit' },
  { kind: 'UNPROCESSABLE', code: ErrorCode.unprocessable, retryable: false, meaning: 'an input that cannot be decoded' },
  { kind: 'INTERNAL', code: ErrorCode.internal, retryable: false, meaning: 'a fault inside DIPS or a worker exception; a lost request of a function that is not idempotent' },
  { kind: 'BAD_GATEWAY', code: ErrorCode.badGateway, retryable: false, meaning: 'a remote source answered with an error or could not be reached' },
  { kind: 'NO_WORKER', code: ErrorCode.noWorker, retryable: true, meaning: 'no worker served the function within the deadline, or it is paused' },
  { kind: 'BUSY', code: ErrorCode.busy, retryable: true, meaning: "refused for memory: the waiting jobs' byte limit (this client's, or a gateway's) is reached" },
  { kind: 'UNAVAILABLE', code: ErrorCode.unavailable, retryable: true, meaning: 'NATS unreachable, the client closed while the call was outstanding; a 503 from a worker that does not say which' },
  { kind: 'WORK_FAIL', code: ErrorCode.workFail, retryable: false, meaning: 'a Gearman worker reported WORK_FAIL' },
];

const KINDS = new Map(ERROR_KINDS.map((e) => [e.kind, e]));

/** Whether `value` names a kind (a header from another process is checked, not trusted). */
export function isErrorKind(value: string): value is ErrorKind {
  return KINDS.has(value as ErrorKind);
}

/**
 * The kind an error with `code` has when nothing says more (a worker that sent
 * no Dips-Error-Kind): 503 is UNAVAILABLE, the generic one of the three
 * (all three are retryable, so a program's choice does not change).
 */
export function kindOfCode(code: number): ErrorKind {
  if (code === 503) return 'UNAVAILABLE';
  return ERROR_KINDS.find((e) => e.code === code)?.kind ?? 'INTERNAL';
}

/** The retryable column of docs/errors.md for a kind. */
export function retryableText(r: KindEntry['retryable']): string {
  return r === 'waiting' ? 'only if it never ran' : r ? 'yes' : 'no';
}

/** Whether an error of `kind` may succeed if sent again; `waiting`: it never ran (only TIMEOUT depends on it). */
export function isRetryable(kind: ErrorKind, waiting = false): boolean {
  const r = KINDS.get(kind)?.retryable ?? false;
  return r === 'waiting' ? waiting : r;
}

/** gearmand's ERROR packet codes the gateway sends (gearman_strerror() names without GEARMAN_), with when. */
export const ErrorName = {
  invalidMagic: 'INVALID_MAGIC',
  invalidCommand: 'INVALID_COMMAND',
  argumentTooLarge: 'ARGUMENT_TOO_LARGE',
  queueError: 'QUEUE_ERROR',
  jobNotFound: 'JOB_NOT_FOUND',
  unknownOption: 'UNKNOWN_OPTION',
  invalidArgument: 'INVALID_ARGUMENT',
  notAllowed: 'NOT_ALLOWED',
  shuttingDown: 'SHUTTING_DOWN',
} as const;

export const GEARMAN_ERRORS: Readonly<Record<(typeof ErrorName)[keyof typeof ErrorName], string>> = {
  INVALID_MAGIC: 'a packet without \\0REQ (the socket is closed after it)',
  INVALID_COMMAND: 'an unknown or unsupported packet type (SUBMIT_JOB_SCHED, SUBMIT_REDUCE_JOB…)',
  ARGUMENT_TOO_LARGE: 'a packet over gateway.maxPacketBytes, a unique id over 64 bytes',
  QUEUE_ERROR: 'queue.maxWaitingBytes or a maxqueue limit reached, a background job that could not be stored',
  JOB_NOT_FOUND: 'a worker result for a job it does not hold',
  UNKNOWN_OPTION: 'OPTION_REQ for anything but "exceptions"',
  INVALID_ARGUMENT: 'a submission missing arguments, a function name that is empty or over 512 bytes, a bad epoch time, a bad CAN_DO name',
  NOT_ALLOWED: 'CAN_DO for a function gateway.legacyFunctions does not give Gearman workers (DIPS\'s own, by default), or past gateway.maxAbilities',
  SHUTTING_DOWN: 'a submission while the gateway drains on SIGTERM: submit to another gateway',
};

/** Process exit codes (sysexits.h), the same for every DIPS command. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 64,
  /** EX_NOINPUT: an input file (dips call --in) that does not exist or cannot be read. */
  noInput: 66,
  unavailable: 69,
  software: 70,
  /** EX_CANTCREAT: the output file (dips call --out) cannot be written. */
  cantCreate: 73,
  config: 78,
} as const;

export const EXIT_CODES: Readonly<Record<(typeof ExitCode)[keyof typeof ExitCode], string>> = {
  0: 'ok; a clean stop after SIGTERM/SIGINT (drained)',
  1: 'the function answered an error (dips call); a node reported an error (dipsctl); a second signal',
  64: 'bad usage: an option value that is not one, an unknown option or command, a missing argument; binary output refused on a terminal (dips call without --out)',
  66: 'an input file that does not exist or cannot be read (dips call --in)',
  69: 'unavailable: no worker or no reply, NATS unreachable, a port taken, nats-server or another Debian package missing, a dipsctl node that did not answer',
  70: 'crashed (a bug: the stack trace is printed)',
  73: 'the output file cannot be written (dips call --out: a missing directory, no permission)',
  78: 'bad configuration (one line names the key), or a bad function bundle (it names the file)',
};

export class DipsError extends Error {
  override name = 'DipsError';
  /** Which failure it is, in words a program can switch on (default: the code's, see kindOfCode). */
  readonly kind: ErrorKind;
  constructor(readonly code: number, message: string, options?: { cause?: unknown; kind?: ErrorKind }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.kind = options?.kind ?? kindOfCode(code);
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
