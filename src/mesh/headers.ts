/** NATS header names DIPS puts on requests and replies, and how a hot path reads them. */
import type { MsgHdrs } from 'nats';
import { rawHeaderValue } from './nats-internals.js';

export const Header = {
  /** Encoding of a structured body: msgpack | php | json | raw. Replies use the caller's. */
  encoding: 'Dips-Encoding',
  /** Media type of a reply body (image/png for an image, application/… for data). */
  contentType: 'Content-Type',
  /** Epoch milliseconds after which the caller no longer waits for the reply. */
  deadline: 'Dips-Deadline',
  /** JSON map of parameters when the body is a raw image (Dips-Encoding: raw). */
  params: 'Dips-Params',
  /** The Gearman caller's unique id, for workers that want it (JOB_ASSIGN_UNIQ). */
  unique: 'Dips-Unique',
  /** Correlates one job across gateway, worker and logs. */
  jobId: 'Dips-Job-Id',
  /**
   * On a job's final reply: the id of the worker that ran it, whose slot is
   * free again. A caller holding more jobs for the function sends the next one
   * straight there (see room.ts).
   */
  worker: 'Dips-Worker',
  /** With Dips-Worker: how many jobs of this function that worker would take now (default 1). */
  room: 'Dips-Room',
  /**
   * What the caller understands beyond a single final reply: `no-room` (it
   * keeps a job a full worker bounces, see room.ts) and `events` (it reads
   * `working` heartbeats and streamed data, warnings and status before the
   * final reply, see events.ts). DIPS's own callers send both; a plain NATS
   * request without it gets exactly one reply: the result or a service error.
   */
  accept: 'Dips-Accept',
  /** A plain caller's place among the jobs waiting at a full worker: high | normal | low (default normal). */
  priority: 'Dips-Priority',
  /**
   * On a message to a worker's direct subject: not a job, a question — are
   * you there? It answers at once with an empty reply. A caller whose request
   * fell silent asks this before trusting the queue group again (see
   * src/mesh/requester.ts).
   */
  ping: 'Dips-Ping',
  /**
   * On a worker's error reply: what kind of failure it is (an ErrorKind of
   * src/shared/errors.ts), where the code alone does not say (503 is no
   * worker, busy or unavailable). Callers that do not know it read the code.
   */
  errorKind: 'Dips-Error-Kind',
  /** With Dips-Error-Kind, when the kind's default does not hold: `true` or `false` (a timeout before the job ran is retryable). */
  errorRetryable: 'Dips-Error-Retryable',
  /** Set by the service API on error replies. */
  serviceError: 'Nats-Service-Error',
  serviceErrorCode: 'Nats-Service-Error-Code',
} as const;

/**
 * A header's first value, '' when absent — what MsgHdrs.get() returns —
 * read straight from the decoded block's map: get() copies the key list and
 * filters it on every call, and the gateway reads each reply six times.
 */
export function headerValue(h: MsgHdrs | undefined, name: string): string {
  if (!h) return '';
  return rawHeaderValue(h, name) ?? h.get(name);
}
