/**
 * The gateway's side of the dead letters: it answers operator tools' list,
 * retry and drop requests on dips.admin.deadletter.* (every gateway answers;
 * the one holding a handle acts on it). A request whose reply subject is not
 * an inbox is neither answered nor acted on: only a requester can ask, and no
 * answer can be reflected onto another subject.
 */
import type { Msg, NatsConnection, Subscription } from 'nats';
import { MAX_ERROR_CHARS, MAX_LISTED, isDeadLetterAction, type DeadLetterAction, type DeadLetterReply, type DeadLetterRequest, type DeadLetterView } from '../shared/dead-letter.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { repliesToInbox } from '../shared/replies.js';
import { ADMIN_PREFIX, deadLetterSubject } from '../shared/subjects.js';
import { JobLimitError, MAX_HANDLE_BYTES, type Jobs } from './jobs.js';
import type { DeadJob } from './store.js';

type Answer = Omit<DeadLetterReply, 'gateway'>;

/** Subscribe; `gateway` says which gateway answers (its id, host and port). */
export function answerDeadLetters(nc: NatsConnection, jobs: Jobs, log: Logger, gateway: () => DeadLetterReply['gateway']): Subscription {
  return nc.subscribe(deadLetterSubject('*'), {
    callback: (err, msg) => {
      if (err || !repliesToInbox(msg, log)) return;
      void answer(jobs, msg, log).then((reply) => msg.respond(JSON.stringify({ gateway: gateway(), ...reply })));
    },
  });
}

async function answer(jobs: Jobs, msg: Msg, log: Logger): Promise<Answer> {
  const action = msg.subject.slice(`${ADMIN_PREFIX}deadletter.`.length);
  if (!isDeadLetterAction(action)) return { ok: false, error: `unknown dead-letter action ${JSON.stringify(action.slice(0, 40))}; one of list, retry, drop` };
  if (action === 'list') return list(jobs);
  const handle = handleOf(msg.data);
  if (!handle) return { ok: false, error: `${action} needs {"handle": "<job handle>"} (at most ${MAX_HANDLE_BYTES} bytes)` };
  try {
    return await act(jobs, action, handle);
  } catch (err) {
    if (!(err instanceof JobLimitError)) log.error({ err, handle, action }, 'dead-letter request failed');
    return { ok: false, found: true, error: errorMessage(err) };
  }
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
