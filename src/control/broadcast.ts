/**
 * Scatter-gather over dips.control.<verb>: every agent hears the broadcast,
 * the targeted ones answer, answers are gathered until all expected nodes
 * answered or the deadline passed.
 */
import { RequestStrategy, type NatsConnection } from 'nats';
import { controlSubject } from '../shared/subjects.js';
import type { ControlRequest, NodeReply, Verb } from '../shared/control.js';

export interface BroadcastResult {
  replies: NodeReply[];
  /** Targeted (or previously seen) nodes that did not answer in time. */
  missing: string[];
}

const QUIET_MS = 300;

async function gather(nc: NatsConnection, verb: Verb, request: ControlRequest, maxWait: number, expected?: number): Promise<NodeReply[]> {
  // Unknown number of agents: stop once answers have gone quiet for a moment (they all answer within ms of each other).
  const options = expected
    ? { strategy: RequestStrategy.Count, maxMessages: expected, maxWait }
    : { strategy: RequestStrategy.JitterTimer, jitter: Math.min(QUIET_MS, maxWait), maxWait };
  const replies: NodeReply[] = [];
  try {
    for await (const msg of await nc.requestMany(controlSubject(verb), JSON.stringify(request), options)) {
      if (msg.data.length) replies.push(msg.json<NodeReply>());
    }
  } catch {
    // no responders: no agent is up
  }
  return replies.sort((a, b) => a.node.localeCompare(b.node));
}

/**
 * Quick verbs (ping, status, pause, resume) gather for `timeoutMs`. Long ones
 * (scale, reload, drain, stop, start) first find the targeted nodes with a
 * ping, then wait up to `longTimeoutMs` for each of them to finish.
 */
export async function broadcast(nc: NatsConnection, verb: Verb, request: ControlRequest, timeoutMs: number, longTimeoutMs = 180_000): Promise<BroadcastResult> {
  const named = request.nodes?.length ? request.nodes : undefined;
  const long = ['scale', 'reload', 'drain', 'stop', 'start'].includes(verb);
  let expected = named?.length;
  let known = named ?? [];
  if (long && !named) {
    known = (await gather(nc, 'ping', request, timeoutMs)).map((r) => r.node);
    expected = known.length;
    if (expected === 0) return { replies: [], missing: [] };
  }
  const replies = await gather(nc, verb, request, long ? longTimeoutMs : timeoutMs, expected);
  const answered = new Set(replies.map((r) => r.node));
  return { replies, missing: known.filter((n) => !answered.has(n)) };
}
