/**
 * Dead letters: background jobs a gateway gave up on (their attempts used up,
 * or a failure of the job itself), kept in its store for an operator. Operator
 * tools ask every gateway on deadLetterSubject(action) with a DeadLetterRequest
 * and each gateway answers with a DeadLetterReply; only an answer to an inbox
 * is acted on (see repliesToInbox).
 */
export const DEAD_LETTER_ACTIONS = ['list', 'retry', 'drop'] as const;
export type DeadLetterAction = (typeof DEAD_LETTER_ACTIONS)[number];

export interface DeadLetterRequest {
  /** The job to retry or drop (its Gearman handle). */
  handle?: string;
}

/** One dead letter as listed: everything but its payload. */
export interface DeadLetterView {
  handle: string;
  fn: string;
  unique: string;
  priority: 'high' | 'normal' | 'low';
  /** Payload size. */
  bytes: number;
  attempts: number;
  lastError: string;
  /** Epoch ms it was submitted, and dead-lettered. */
  createdAt: number;
  deadAt: number;
}

export interface DeadLetterReply {
  gateway: { id: string; host: string; port: number };
  /** False when this gateway could not do what was asked (the error says why). */
  ok: boolean;
  error?: string;
  /** list: the oldest dead letters (at most MAX_LISTED) and how many there are. */
  jobs?: DeadLetterView[];
  total?: number;
  /** retry, drop: whether this gateway held that dead letter. */
  found?: boolean;
  /** retry, drop: what was done, in words. */
  done?: string;
}

/** Dead letters one answer lists: a reply must fit a NATS message whatever piles up. */
export const MAX_LISTED = 500;
/** A last error is cut to this many characters in a listing. */
export const MAX_ERROR_CHARS = 500;

export function isDeadLetterAction(action: string): action is DeadLetterAction {
  return (DEAD_LETTER_ACTIONS as readonly string[]).includes(action);
}
