/**
 * The gateway's admin API: operator tools' list, retry and drop requests for
 * the dead letters on dips.admin.deadletter.*, and for the stored background
 * jobs that wait on dips.admin.stored.* (list, retry, drop, bury). Every
 * gateway answers; the one holding a handle acts on it. A request whose reply
 * subject is not an inbox is neither answered nor acted on: only a requester
 * can ask, and no answer can be reflected onto another subject.
 */
import type { Msg, NatsConnection, Subscription } from 'nats';
import {
  MAX_ERROR_CHARS, MAX_LISTED, isDeadLetterAction, isStoredAction,
  type DeadLetterAction, type DeadLetterReply, type DeadLetterRequest, type DeadLetterView, type StoredAction, type StoredJobsReply, type StoredJobView,
} from '../shared/dead-letter.js';
import { Discovery } from '../mesh/discovery.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { repliesToInbox } from '../mesh/replies.js';
import { ADMIN_PREFIX } from '../mesh/subjects.js';
import { JobLimitError, MAX_HANDLE_BYTES, type Job, type Jobs } from './jobs.js';
import type { DeadJob } from './store.js';

type Answer = Omit<DeadLetterReply, 'gateway'>;
type StoredAnswer = Omit<StoredJobsReply, 'gateway'>;

/** Subscribe to both families (one subscription: dips.admin.<family>.<action>); `gateway` says which gateway answers (its id, host and port). */
export function answerDeadLetters(nc: NatsConnection, jobs: Jobs, log: Logger, gateway: () => DeadLetterReply['gateway']): Subscription {
  // whether anyone serves a waiting job's function: asked only when an operator lists them
  const discovery = new Discovery(nc);
  return nc.subscribe(`${ADMIN_PREFIX}*.*`, {
    callback: (err, msg) => {
      if (err) return;
      const [family, action] = msg.subject.slice(ADMIN_PREFIX.length).split('.');
      // other families of dips.admin are not this gateway's to answer
      if (family !== 'deadletter' && family !== 'stored') return;
      if (!repliesToInbox(msg, log)) return;
      const answered = family === 'deadletter' ? answer(jobs, action, msg, log) : answerStored(jobs, discovery, action, msg, log);
      void answered.then((reply) => msg.respond(JSON.stringify({ gateway: gateway(), ...reply })));
    },
  });
}

async function answer(jobs: Jobs, action: string, msg: Msg, log: Logger): Promise<Answer> {
  if (!isDeadLetterAction(action)) return { ok: false, error: `unknown dead-letter action ${JSON.stringify(action.slice(0, 40))}; one of list, retry, drop` };
  if (action === 'list') return list(jobs);
  return onHandle(action, msg, log, 'dead-letter', (handle) => act(jobs, action, handle));
}

async function answerStored(jobs: Jobs, discovery: Discovery, action: string, msg: Msg, log: Logger): Promise<StoredAnswer> {
  if (!isStoredAction(action)) return { ok: false, error: `unknown stored-job action ${JSON.stringify(action.slice(0, 40))}; one of list, retry, drop, bury` };
  if (action === 'list') {
    const waiting = jobs.waitingStored();
    const workers = waiting.length ? await discovery.countByFunction() : new Map<string, number>();
    return { ok: true, total: waiting.length, jobs: waiting.slice(0, MAX_LISTED).map((job) => storedView(job, workers.get(job.fn) ?? 0)) };
  }
  return onHandle(action, msg, log, 'stored-job', (handle) => actStored(jobs, action, handle));
}

/** An action on one job (retry, drop, bury): the handle its request names, the action, and a failure as an answer saying why. */
async function onHandle<A>(action: string, msg: Msg, log: Logger, what: string, act: (handle: string) => Promise<A>): Promise<A | { ok: false; found?: boolean; error: string }> {
  const handle = handleOf(msg.data);
  if (!handle) return { ok: false, error: `${action} needs {"handle": "<job handle>"} (at most ${MAX_HANDLE_BYTES} bytes)` };
  try {
    return await act(handle);
  } catch (err) {
    if (!(err instanceof JobLimitError)) log.error({ err, handle, action }, `${what} request failed`);
    return { ok: false, found: true, error: errorMessage(err) };
  }
}

async function actStored(jobs: Jobs, action: Exclude<StoredAction, 'list'>, handle: string): Promise<StoredAnswer> {
  const waited = (job: Job) => `waited ${Math.round((Date.now() - job.createdAt) / 1000)} s`;
  if (action === 'retry') {
    const retried = jobs.retryStored(handle);
    if (!retried) return { ok: true, found: false };
    const { job, sent } = retried;
    return { ok: true, found: true, done: sent ? `${handle} (${job.fn}) is sent to a worker now` : `${handle} (${job.fn}) already waits for a worker of ${job.fn}; it runs as soon as one has room` };
  }
  if (action === 'bury') {
    const job = await jobs.buryStored(handle);
    return job ? { ok: true, found: true, done: `${handle} (${job.fn}) moved to the dead letters (${waited(job)}); \`dipsctl dead-letter retry ${handle}\` runs it again` } : { ok: true, found: false };
  }
  const job = await jobs.dropStored(handle);
  return job ? { ok: true, found: true, done: `${handle} (${job.fn}) dropped (${waited(job)}); it will not run` } : { ok: true, found: false };
}

function storedView(job: Job, workers: number): StoredJobView {
  const waitingFor = !job.timer ? 'worker' : job.attempts > 0 ? 'retry' : 'time';
  const lastError = job.lastError && job.lastError.length > MAX_ERROR_CHARS ? `${job.lastError.slice(0, MAX_ERROR_CHARS)}…` : job.lastError;
  return { handle: job.handle, fn: job.fn, priority: job.priority, bytes: job.data.length, createdAt: job.createdAt, ageMs: Date.now() - job.createdAt, waitingFor, runAt: job.runAt, attempts: job.attempts, lastError, workers };
}

function list(jobs: Jobs): Answer {
  const dead = jobs.deadLetters();
  return { ok: true, total: dead.length, jobs: dead.slice(0, MAX_LISTED).map(view) };
}

async function act(jobs: Jobs, action: Exclude<DeadLetterAction, 'list'>, handle: string): Promise<Answer> {
  if (action === 'retry') {
    const job = await jobs.retryDead(handle);
    return job ? { ok: true, found: true, done: `${handle} (${job.fn}) is back in the queue with a fresh budget` } : { ok: true, found: false };
  }
  const dead = await jobs.dropDead(handle);
  return dead ? { ok: true, found: true, done: `${handle} (${dead.fn}) dropped after ${dead.attempts} attempt${dead.attempts === 1 ? '' : 's'}` } : { ok: true, found: false };
}

/** The handle a retry or drop names; undefined when the body is not {"handle": "<string>"} of a handle's size. */
function handleOf(data: Uint8Array): string | undefined {
  try {
    const body = JSON.parse(Buffer.from(data).toString('utf8')) as DeadLetterRequest;
    const handle = body?.handle;
    return typeof handle === 'string' && handle.length > 0 && Buffer.byteLength(handle) <= MAX_HANDLE_BYTES ? handle : undefined;
  } catch {
    return undefined;
  }
}

function view(dead: DeadJob): DeadLetterView {
  const lastError = dead.lastError.length > MAX_ERROR_CHARS ? `${dead.lastError.slice(0, MAX_ERROR_CHARS)}…` : dead.lastError;
  return { handle: dead.handle, fn: dead.fn, unique: dead.unique, priority: dead.priority, bytes: dead.data.length, attempts: dead.attempts, lastError, createdAt: dead.createdAt, deadAt: dead.deadAt };
}
