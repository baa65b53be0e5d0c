/**
 * Operator tools' side of the dead letters and of the stored jobs that wait
 * (dipsctl dead-letter, dipsctl stored, the dashboard): ask every gateway on
 * dips.admin.deadletter.<action> or dips.admin.stored.<action>, gather the
 * answers until they go quiet, and say what they came to — in words, and as
 * dipsctl's exit code.
 */
import { RequestStrategy, type NatsConnection } from 'nats';
import { storedSubject, type DeadLetterAction, type DeadLetterReply, type DeadLetterRequest, type StoredAction, type StoredJobsReply } from '../shared/dead-letter.js';
import { ExitCode } from '../shared/errors.js';
import { deadLetterSubject } from '../mesh/subjects.js';
import { formatUptime } from './report.js';

/** Gateways answer within milliseconds of each other: stop once they have been quiet this long. */
const QUIET_MS = 300;

/** Every gateway's answer (none: no gateway is up, or none may be asked). */
export function askGateways(nc: NatsConnection, action: DeadLetterAction, request: DeadLetterRequest, timeoutMs: number): Promise<DeadLetterReply[]> {
  return gather<DeadLetterReply>(nc, deadLetterSubject(action), request, timeoutMs);
}

/** Every gateway's answer about its waiting stored jobs. */
export function askStored(nc: NatsConnection, action: StoredAction, request: DeadLetterRequest, timeoutMs: number): Promise<StoredJobsReply[]> {
  return gather<StoredJobsReply>(nc, storedSubject(action), request, timeoutMs);
}

async function gather<T extends { gateway: DeadLetterReply['gateway'] }>(nc: NatsConnection, subject: string, request: DeadLetterRequest, timeoutMs: number): Promise<T[]> {
  const replies: T[] = [];
  try {
    const options = { strategy: RequestStrategy.JitterTimer, jitter: Math.min(QUIET_MS, timeoutMs), maxWait: timeoutMs };
    for await (const msg of await nc.requestMany(subject, JSON.stringify(request), options)) {
      if (msg.data.length) replies.push(msg.json<T>());
    }
  } catch {
    // no responders: no gateway is up
  }
  return replies.sort((a, b) => gatewayName(a).localeCompare(gatewayName(b)));
}

export const gatewayName = (r: Pick<DeadLetterReply, 'gateway'>) => `${r.gateway.host}:${r.gateway.port}`;

/** The dead letters of every gateway as a table (one row each), or a line saying there are none. */
export function deadLetterTable(replies: DeadLetterReply[], now = Date.now()): string {
  const header = ['gateway', 'handle', 'function', 'attempts', 'dead for', 'last error'];
  const rows: string[][] = [];
  for (const r of replies) {
    for (const j of r.jobs ?? []) rows.push([gatewayName(r), j.handle, j.fn, String(j.attempts), formatUptime(Math.max(0, Math.round((now - j.deadAt) / 1000))), oneLine(j.lastError)]);
  }
  const cut = replies.filter((r) => (r.total ?? 0) > (r.jobs?.length ?? 0)).map((r) => `${gatewayName(r)}: ${r.total} dead letters, the oldest ${r.jobs?.length} shown`);
  if (rows.length === 0) return 'no dead letters';
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line), ...cut].join('\n');
}

/** The waiting stored jobs of every gateway as a table, oldest first per gateway; a function no worker serves now is flagged. */
export function storedTable(replies: StoredJobsReply[]): string {
  const header = ['gateway', 'handle', 'function', 'waiting for', 'age', 'attempts', 'workers'];
  const rows: string[][] = [];
  for (const r of replies) {
    for (const j of r.jobs ?? []) {
      const waitingFor = j.waitingFor === 'time' && j.runAt ? `time (${new Date(j.runAt * 1000).toISOString()})` : j.waitingFor;
      rows.push([gatewayName(r), j.handle, j.fn, waitingFor, formatUptime(Math.round(j.ageMs / 1000)), String(j.attempts), j.workers ? String(j.workers) : '0: no worker serves it']);
    }
  }
  const cut = replies.filter((r) => (r.total ?? 0) > (r.jobs?.length ?? 0)).map((r) => `${gatewayName(r)}: ${r.total} waiting stored jobs, the oldest ${r.jobs?.length} shown`);
  if (rows.length === 0) return 'no stored job waits';
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line), ...cut].join('\n');
}

/** One line per gateway that held the job (retry, drop). */
export function deadLetterDone(replies: Array<Pick<DeadLetterReply, 'gateway' | 'ok' | 'found' | 'done' | 'error'>>): string[] {
  return replies.filter((r) => r.found).map((r) => `${gatewayName(r)}: ${r.ok ? (r.done ?? 'ok') : `error: ${r.error}`}`);
}

/**
 * What went wrong and dipsctl's exit code: 69 when no gateway answered, 1 when
 * one reported an error or (retry, drop) none held the handle, else 0.
 */
export function judgeDeadLetters(action: DeadLetterAction | StoredAction, replies: Array<Pick<DeadLetterReply, 'gateway' | 'ok' | 'found' | 'error'>>, handle?: string, what = 'a dead letter', listing = '`dipsctl dead-letter list`'): { problems: string[]; exitCode: number } {
  if (replies.length === 0) {
    return { problems: ['no gateway answered: is dips-gateway running and connected to these NATS servers (with an identity that may publish dips.admin.*)?'], exitCode: ExitCode.unavailable };
  }
  const problems = replies.filter((r) => !r.ok).map((r) => `${gatewayName(r)}: ${r.error}`);
  if (action !== 'list' && !replies.some((r) => r.found)) problems.push(`no gateway holds ${what} ${handle}: ${listing} shows them`);
  return { problems, exitCode: problems.length ? ExitCode.failure : ExitCode.ok };
}

const oneLine = (text: string) => text.replace(/\s+/g, ' ');
