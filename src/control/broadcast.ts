/**
 * Scatter-gather over dips.control.<verb>: every agent hears the broadcast,
 * the targeted ones answer, answers are gathered until all expected nodes
 * answered or the deadline passed.
 */
import { nuid, RequestStrategy, type NatsConnection } from 'nats';
import { controlSubject } from '../mesh/subjects.js';
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
    ? { strategy: RequestStrategy.Timer, maxWait }
    : { strategy: RequestStrategy.JitterTimer, jitter: Math.min(QUIET_MS, maxWait), maxWait };
  // one answer per node: an agent that heard the broadcast twice (over an old connection a cut left half-open)
  // answers once (it drops a request id it has seen), and a second answer here would count as another node
  const replies = new Map<string, NodeReply>();
  try {
    for await (const msg of await nc.requestMany(controlSubject(verb), JSON.stringify({ ...request, id: nuid.next() }), options)) {
      if (!msg.data.length) continue;
      const reply = msg.json<NodeReply>();
      if (!replies.has(reply.node)) replies.set(reply.node, reply);
      if (expected && replies.size >= expected) break;
    }
  } catch {
    // no responders: no agent is up
  }
  return [...replies.values()].sort((a, b) => a.node.localeCompare(b.node));
}

/**
 * Quick verbs (ping, status, pause, resume) gather for `timeoutMs`. Long ones
 * (scale, reload, drain, stop, start, deploy) first find the targeted nodes with a
 * ping, then wait up to `longTimeoutMs` for each of them to finish.
 */
export async function broadcast(nc: NatsConnection, verb: Verb, request: ControlRequest, timeoutMs: number, longTimeoutMs = 180_000): Promise<BroadcastResult> {
  const named = request.nodes?.length ? request.nodes : undefined;
  const long = ['scale', 'reload', 'drain', 'stop', 'start', 'deploy'].includes(verb);
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
