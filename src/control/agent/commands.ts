/** What a node agent does for each control verb; every verb answers with the node's state. */
import os from 'node:os';
import type { ControlRequest, GuestState, NodeReply, Verb } from '../../shared/control.js';
import { codeVersion } from '../../shared/process.js';
import type { Supervisor } from './supervisor.js';
import type { Releases } from './releases.js';

/** Longest `drain` waits for jobs in flight before it reports failure, unless told otherwise. */
const DRAIN_TIMEOUT_MS = 60_000;

export class NodeState {
  readonly paused = new Set<string>();
  readonly startedAt = Date.now();
  constructor(
    readonly node: string,
    readonly supervisor: Supervisor,
    private readonly defaultWorkers: number,
    private readonly guest: () => GuestState,
    private readonly releases?: Releases,
  ) {}

  async handle(verb: Verb, req: ControlRequest): Promise<NodeReply> {
    let done: string | undefined;
    switch (verb) {
      case 'ping':
        return this.reply(undefined, false);
      case 'status':
        break;
      case 'pause':
      case 'drain': {
        const fns = req.functions ?? [];
        const unknown = await this.unknownFunctions(fns);
        if (unknown) return this.error(unknown);
        const answers = await this.supervisor.ask('pause', fns);
        const names = fns.length ? fns : allFunctions(answers);
        for (const fn of names) this.paused.add(fn);
        if (verb === 'drain') {
          const waitMs = typeof req.waitMs === 'number' && req.waitMs > 0 ? req.waitMs : DRAIN_TIMEOUT_MS;
          const left = await this.waitIdle(waitMs);
          if (left > 0) return this.error(`drain timed out after ${waitMs / 1000} s with ${left} jobs still in flight; ${names.length} functions stay paused`);
          done = `drained: no jobs in flight, ${names.length} functions paused`;
        } else done = `paused ${names.join(', ')}`;
        break;
      }
      case 'resume': {
        const fns = req.functions ?? [];
        const unknown = await this.unknownFunctions(fns);
        if (unknown) return this.error(unknown);
        await this.supervisor.ask('resume', fns);
        if (fns.length) for (const fn of fns) this.paused.delete(fn);
        else this.paused.clear();
        done = `resumed ${fns.length ? fns.join(', ') : 'every function'}`;
        break;
      }
      case 'scale': {
        const n = req.workers;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 256) return this.error(`scale needs workers: an integer from 0 to 256, got ${JSON.stringify(n)}`);
        await this.supervisor.scale(n);
        done = `scaled to ${n} workers`;
        break;
      }
      case 'reload':
        done = `reloaded ${await this.supervisor.reload()} workers one by one`;
        break;
      case 'stop':
        await this.supervisor.stopAll();
        done = 'stopped every worker (drained)';
        break;
      case 'start':
        await this.supervisor.scale(this.supervisor.desiredCount || this.defaultWorkers);
        done = `started ${this.supervisor.desiredCount} workers`;
        break;
      case 'deploy':
        if (!this.releases) return this.error('this agent takes no deploys (no deploy.dir)');
        done = await this.releases.deploy(req.release);
        break;
    }
    return this.reply(done, true);
  }

  /**
   * A named function none of this node's running workers serves (a typo) would be "paused" silently, and
   * stay in the paused list: say so instead, and change nothing. Without a running worker the node cannot tell.
   */
  private async unknownFunctions(fns: string[]): Promise<string | undefined> {
    if (!fns.length) return undefined;
    const served = new Set((await this.supervisor.rows()).flatMap((w) => (w.functions ?? []).map((f) => f.name)));
    const unknown = fns.filter((fn) => !served.has(fn));
    if (!served.size || !unknown.length) return undefined;
    return `unknown function${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} on ${this.node} (it serves ${[...served].sort().join(', ')})`;
  }

  /** Wait until no job is in flight on this node; resolves with how many still are when the time is up (0: drained). */
  private async waitIdle(timeoutMs = DRAIN_TIMEOUT_MS): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await this.supervisor.rows();
      const left = rows.reduce((n, r) => n + (r.inFlight ?? 0) + (r.queued ?? 0), 0);
      if (left === 0 || Date.now() >= deadline) return left;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  error(message: string): NodeReply {
    return { ...this.base(), ok: false, error: message, workers: [] };
  }

  private async reply(done: string | undefined, withWorkers: boolean): Promise<NodeReply> {
    return { ...this.base(), ok: true, done, workers: withWorkers ? await this.supervisor.rows() : [] };
  }

  private base() {
    return {
      node: this.node,
      agentPid: process.pid,
      agentVersion: codeVersion,
      uptimeSec: Math.round((Date.now() - this.startedAt) / 1000),
      desiredWorkers: this.supervisor.desiredCount,
      paused: [...this.paused].sort(),
      host: os.hostname(),
      guest: this.guest(),
      ...(this.releases ? { release: this.releases.state() } : {}),
    };
  }
}

function allFunctions(answers: Array<{ reply?: { ok: boolean; result?: unknown } }>): string[] {
  const names = new Set<string>();
  for (const a of answers) {
    const result = a.reply?.ok ? (a.reply.result as { functions?: Array<{ name: string }> }) : undefined;
    for (const f of result?.functions ?? []) names.add(f.name);
  }
  return [...names];
}
