/**
 * Dead letters: background jobs a gateway gave up on (their attempts used up,
 * or a failure of the job itself), kept in its store for an operator. Operator
 * tools ask every gateway on deadLetterSubject(action) with a DeadLetterRequest
 * and each gateway answers with a DeadLetterReply; only an answer to an inbox
 * is acted on (see repliesToInbox).
 */
import { ADMIN_PREFIX } from '../mesh/subjects.js';

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

/**
 * Stored background jobs that wait (no worker holds them): for a worker, for
 * their time, or for their next attempt. A job for a function nobody serves
 * waits there for ever; an operator lists them, drops one, sends one to the
 * dead letters, or runs one now (retry) on storedSubject(action) — the same
 * rules as the dead letters: every gateway answers, only to an inbox.
 */
export const STORED_ACTIONS = ['list', 'retry', 'drop', 'bury'] as const;
export type StoredAction = (typeof STORED_ACTIONS)[number];

/** `dips.admin.stored.list`, `.retry`, `.drop`, `.bury`. */
export function storedSubject(action: StoredAction | '*'): string {
  return `${ADMIN_PREFIX}stored.${action}`;
}

export function isStoredAction(action: string): action is StoredAction {
  return (STORED_ACTIONS as readonly string[]).includes(action);
}

/** One waiting stored job as listed: everything but its payload. */
export interface StoredJobView {
  handle: string;
  fn: string;
  priority: 'high' | 'normal' | 'low';
  bytes: number;
  /** Epoch ms it was submitted. */
  createdAt: number;
  /** How long it had waited when the gateway answered, by the gateway's clock. */
  ageMs: number;
  /** What it waits for: a worker to take it, its time (an epoch job), or its next attempt after a failed one. */
  waitingFor: 'worker' | 'time' | 'retry';
  /** Epoch seconds an epoch job runs at. */
  runAt?: number;
  attempts: number;
  lastError?: string;
  /** Worker processes serving its function now (NATS service discovery): 0 means it waits for a worker nobody runs. */
  workers: number;
}

/** A gateway's answer on storedSubject(): the shape of a DeadLetterReply, listing stored jobs. */
export type StoredJobsReply = Omit<DeadLetterReply, 'jobs'> & { jobs?: StoredJobView[] };
