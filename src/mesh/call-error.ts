/**
 * How a call fails, for callers: CallError is the mesh's one error type on
 * the caller's side, a DipsError (the workers' error type, src/shared/errors.ts)
 * that also says whether sending the call again may succeed.
 */
import type { MsgHdrs } from 'nats';
import { DipsError, ErrorCode, isErrorKind, isRetryable, kindOfCode, type ErrorKind } from '../shared/errors.js';
import { Header, headerValue } from './headers.js';

export interface CallErrorOptions {
  cause?: unknown;
  /** What kind of failure (default: the code's, see kindOfCode); 503 needs it said. */
  kind?: ErrorKind;
  /** Whether sending the same call again may succeed (default: the kind's; TIMEOUT: false unless said). */
  retryable?: boolean;
}

/**
 * A failed call. `code` is the number on the wire (kept for existing callers);
 * `kind` says which failure it is in words a program can switch on, and
 * `retryable` whether the same call may succeed if sent again (nothing ran, or
 * nothing was wrong with it).
 */
export class CallError extends DipsError {
  override name = 'CallError';
  readonly retryable: boolean;
  constructor(code: number, message: string, options?: CallErrorOptions) {
    super(code, message, options);
    this.retryable = options?.retryable ?? isRetryable(this.kind);
  }
}

/**
 * A worker's error reply as a CallError: its kind from Dips-Error-Kind when it
 * sent a known one (older workers, Gearman-era tools: from the code), its
 * retryable flag from Dips-Error-Retryable when said.
 */
export function workerError(h: MsgHdrs | undefined, message: string): CallError {
  const code = Number(headerValue(h, Header.serviceErrorCode)) || ErrorCode.internal;
  const sent = headerValue(h, Header.errorKind);
  const kind = isErrorKind(sent) ? sent : kindOfCode(code);
  const r = headerValue(h, Header.errorRetryable);
  return new CallError(code, message, { kind, retryable: r === 'true' ? true : r === 'false' ? false : undefined });
}

/** What a withdrawn call ends with (a plain failure: Gearman callers get WORK_FAIL). */
export const cancelledError = (fn: string) => new CallError(ErrorCode.cancelled, `${fn}: cancelled`, { kind: 'CANCELLED' });

