/** Every NATS subject DIPS uses is spelled here and nowhere else. */
import { isUtf8 } from 'node:buffer';

export const FUNCTION_PREFIX = 'dips.fn.';
export const ROOM_PREFIX = 'dips.room.';
export const CONTROL_PREFIX = 'dips.control.';
/** Name every worker registers its services under; `$SRV.INFO.dips` lists them all. */
export const SERVICE_NAME = 'dips';

/** libgearman's longest function name. */
export const MAX_FUNCTION_NAME_BYTES = 512;

const PLAIN = /^[A-Za-z0-9-]$/;

/**
 * A function name as one subject token, queue group and service endpoint name
 * (all three accept only [-A-Za-z0-9_]): letters, digits and '-' stand for
 * themselves, every other byte of the UTF-8 name becomes `_` and two hex digits.
 * Reversible, so `image.resize:v2` (token `image_2eresize_3av2`) shows as itself
 * wherever the mesh lists it; plain names such as `ecard` are unchanged.
 */
export function functionToken(fn: string): string {
  let token = '';
  for (const byte of Buffer.from(fn, 'utf8')) {
    const ch = String.fromCharCode(byte);
    token += PLAIN.test(ch) ? ch : `_${byte.toString(16).padStart(2, '0')}`;
  }
  return token;
}

/** The function name a token stands for (inverse of functionToken). */
export function functionFromToken(token: string): string {
  return Buffer.from(token.replace(/_([0-9a-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');
}

/** Subject a function is requested on; its queue group is the function's token. */
export function functionSubject(fn: string): string {
  return FUNCTION_PREFIX + functionToken(fn);
}

/**
 * Subject one worker process (or one gateway's Gearman workers) takes jobs on
 * directly, after it announced room: `dips.fn.<token>.<workerId>`.
 */
export function directSubject(fn: string, workerId: string): string {
  return `${functionSubject(fn)}.${workerId}`;
}

/** What a worker subscribes to for jobs sent to it directly, for every function. */
export function directWildcard(workerId: string): string {
  return `${FUNCTION_PREFIX}*.${workerId}`;
}

/** Where workers announce free slots for a function (see src/shared/dispatch.ts). */
export function roomSubject(fn: string): string {
  return ROOM_PREFIX + functionToken(fn);
}

export function controlSubject(verb: string): string {
  return CONTROL_PREFIX + verb;
}

/**
 * Requests only operator tools send (dipsctl, the dashboard), which gateways
 * answer and act on: apart from dips.control.* (which the node agents hear),
 * so the NATS permissions can give publishing here to the operator's identity alone.
 */
export const ADMIN_PREFIX = 'dips.admin.';

/** Dead letters: `dips.admin.deadletter.list`, `.retry`, `.drop`; every gateway answers (no queue group). */
export function deadLetterSubject(action: 'list' | 'retry' | 'drop' | '*'): string {
  return `${ADMIN_PREFIX}deadletter.${action}`;
}

/** Gearman accepts any bytes but NUL in a function name, up to 512 of them; DIPS's names are UTF-8 text. */
export function isValidFunctionName(fn: string): boolean {
  return fn.length > 0 && !fn.includes('\0') && Buffer.byteLength(fn, 'utf8') <= MAX_FUNCTION_NAME_BYTES;
}

/**
 * What is wrong with a function name as a Gearman packet carries it (bytes),
 * or undefined. Checked on the bytes, before any decoding: a name of megabytes
 * costs nothing. It must be UTF-8: a name is a NATS subject token, and bytes
 * that are not UTF-8 would decode to U+FFFD (three bytes each), so 512 of them
 * would make a subject longer than nats-server's control line, which drops the
 * connection that sent it.
 */
export function functionNameProblem(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return 'Function name is empty';
  if (bytes.length > MAX_FUNCTION_NAME_BYTES) return `Function name too long (${bytes.length} bytes; at most ${MAX_FUNCTION_NAME_BYTES})`;
  if (bytes.includes(0)) return 'Function name contains NUL';
  if (!isUtf8(bytes)) return 'Function name is not UTF-8 text';
  return undefined;
}

/**
 * Where DIPS sends a reply: only a caller's inbox. NATS lets a requester name
 * any reply subject, and a responder that published there would act for the
 * caller on subjects it may not publish to (a reply landing on
 * `dips.control.scale` would steer the fleet). Every client library's inboxes
 * live under `_INBOX.`; a per-identity prefix stays under it.
 */
export const INBOX_PREFIX = '_INBOX.';

export function isInboxSubject(subject: string | undefined): boolean {
  return subject !== undefined && subject.length > INBOX_PREFIX.length && subject.length <= 1024 && subject.startsWith(INBOX_PREFIX) && !/[\s*>]/.test(subject);
}

/** A worker id as a subject token: what workers make (src/mesh/room.ts) and nothing that could reach past `dips.fn.<token>.`. */
export function isWorkerId(id: string | undefined): boolean {
  return id !== undefined && /^[A-Za-z0-9_-]{1,64}$/.test(id);
}

/** The worker id a room announcement for `fn` names, when its subject is that function's direct subject; else undefined. */
/** The function a job sent to a worker's direct subject (`dips.fn.<token>.<worker id>`) is for. */
export function functionOfDirectSubject(subject: string): string {
  return functionFromToken(subject.split('.')[2] ?? '');
}

export function workerOfDirectSubject(fn: string, subject: string): string | undefined {
  const prefix = `${functionSubject(fn)}.`;
  if (!subject.startsWith(prefix)) return undefined;
  const id = subject.slice(prefix.length);
  return isWorkerId(id) ? id : undefined;
}

/**
 * Deploys (src/control/release): a release's archive is fetched in chunks from
 * `dips.deploy.chunk.<sha256>`, answered by whoever holds it (dipsctl during a
 * deploy, every agent that has it); agents ask each other which release they
 * run on DEPLOY_RELEASE_SUBJECT. What travels there is signed or hashed by the
 * release, so these carry no authority: the deploy itself is the operator's
 * `dips.control.deploy`.
 */
export const DEPLOY_CHUNK_PREFIX = 'dips.deploy.chunk.';
export const DEPLOY_RELEASE_SUBJECT = 'dips.deploy.release';

export function deployChunkSubject(sha256: string): string {
  return DEPLOY_CHUNK_PREFIX + sha256;
}
