/**
 * Keeps N worker processes running on this node: starts them, restarts a
 * crashed one with exponential backoff, replaces them one by one on reload
 * (new code up and taking jobs before the old one drains), and talks to each
 * over its IPC channel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../../shared/log.js';
import type { WorkerReady, WorkerReply, WorkerRequest, WorkerRow, WorkerStatus } from '../../shared/control.js';
import { Executables, stopChild } from '../spawn.js';

interface Managed {
  child: ChildProcess;
  state: WorkerRow['state'];
  restarts: number;
  ready: Promise<void>;
  /** Set when we stop it on purpose: its exit is not a crash. */
  retiring: boolean;
  /** Started on trial, onto a new release: if it exits before it is ready, that is the release failing, not a crash. */
  trial: boolean;
  /** The bundle folder it serves (DIPS_WORKER_BUNDLE_DIR; undefined: the configured worker.bundleDir). */
  bundleDir?: string;
  /** The last lines it wrote to stderr: why it exited, when it did. */
  stderrTail: string;
  /** Settles once the process has exited and its stderr is read to the end. */
  closed: Promise<void>;
  pending: Map<number, (reply: WorkerReply) => void>;
}

export interface SupervisorOptions {
  env: Record<string, string | undefined>;
  restartMinMs: number;
  restartMaxMs: number;
  log: Logger;
  /** Functions currently paused on this node (new workers start with them paused). */
  paused: () => string[];
  /** Commands a worker is started through (a guest's chrt, ionice and nice; empty: none). */
  launchPrefix: string[];
  /** Called with each worker once it is ready (a guest's share is sent to it). */
  onReady?: () => void;
  onRestart?: () => void;
}

const IPC_TIMEOUT_MS = 3000;
const READY_TIMEOUT_MS = 30_000;
const STDERR_TAIL_BYTES = 2048;

/** A release whose new workers did not become ready: the node is back on the bundle it ran. */
export class RolloutFailed extends Error {
  override name = 'RolloutFailed';
}

export class Supervisor {
  private readonly workers: Managed[] = [];
  private desired = 0;
  private nextRequest = 1;
  private crashStreak = 0;
  private stopped = false;
  /** The bundle new workers serve (a deployed release's folder; undefined: worker.bundleDir as configured). */
  private bundleDir?: string;
  totalRestarts = 0;

  constructor(private readonly options: SupervisorOptions) {}

  /** Worker processes up and serving. */
  get runningCount(): number {
    return this.workers.filter((w) => w.state === 'running').length;
  }

  get desiredCount(): number {
    return this.desired;
  }

  /** Run `count` workers: start the missing ones, drain the extra ones. */
  async scale(count: number): Promise<void> {
    this.desired = count;
    this.stopped = false;
    const starting: Promise<void>[] = [];
    while (this.workers.length < count) starting.push(this.spawnWorker(0).ready);
    const extra = this.workers.slice(count);
    await Promise.all([...starting, ...extra.map((w) => this.retire(w))]);
  }

  /** Rolling replacement: for each worker, start a new one on the code now on disk, wait until it serves, then drain the old. */
  async reload(): Promise<number> {
    const replaced = await this.replace(this.workers.filter((w) => !w.retiring), READY_TIMEOUT_MS);
    if (typeof replaced === 'string') throw new Error(replaced);
    return replaced;
  }

  /** Where new workers take their bundle from: set before the first scale(), when a release is in force at start. */
  useBundle(dir: string | undefined): void {
    this.bundleDir = dir;
  }

  /**
   * Roll every worker onto the bundle in `dir` as reload() does: a new worker
   * first, ready and serving, then the old one drains. If a new worker exits
   * or is not ready within `readyTimeoutMs`, it is stopped, the workers already
   * moved are moved back the same way, and RolloutFailed says why (the
   * worker's own last words). No job is refused on the way: an old worker
   * drains only once its replacement serves.
   */
  async rollOnto(dir: string | undefined, readyTimeoutMs: number): Promise<number> {
    const before = this.bundleDir;
    this.bundleDir = dir;
    const moved = await this.replaceAll(dir, readyTimeoutMs);
    if (typeof moved === 'number') return moved;
    this.bundleDir = before;
    const back = await this.replaceAll(before, readyTimeoutMs);
    if (typeof back !== 'number') this.options.log.error({ reason: back }, 'rolling back to the previous bundle failed too; crashed workers restart on it');
    throw new RolloutFailed(moved);
  }

  /** Replace every worker not on `dir`; the number replaced, or why a new one failed. */
  private replaceAll(dir: string | undefined, readyTimeoutMs: number): Promise<number | string> {
    return this.replace(this.workers.filter((w) => w.bundleDir !== dir && !w.retiring), readyTimeoutMs);
  }

  /** Replace these workers one by one, each only once its successor serves; the number replaced, or why a successor failed (it is stopped). */
  private async replace(old: Managed[], readyTimeoutMs: number): Promise<number | string> {
    for (const w of old) {
      const fresh = this.spawnWorker(0, true, readyTimeoutMs);
      try {
        await fresh.ready;
      } catch (err) {
        fresh.retiring = true;
        await stopChild(fresh.child, 'SIGKILL', 5000);
        await fresh.closed;
        const said = lastLine(fresh.stderrTail);
        return `${(err as Error).message}${said ? `: ${said}` : ''}`;
      }
      fresh.trial = false;
      await this.retire(w);
    }
    return old.length;
  }

  /** Stop every worker (they drain); they stay stopped until scale() or start. */
  async stopAll(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.workers].map((w) => this.retire(w)));
  }

  async ask(cmd: WorkerRequest['cmd'], functions?: string[], share?: number): Promise<Array<{ pid: number; reply?: WorkerReply }>> {
    return Promise.all(this.workers.map(async (w) => ({ pid: w.child.pid ?? -1, reply: w.state === 'running' ? await this.request(w, cmd, functions, share) : undefined })));
  }

  /** Pids of the worker processes (the guest monitor counts their CPU apart from the host's). */
  get pids(): number[] {
    return this.workers.flatMap((w) => (w.child.pid === undefined ? [] : [w.child.pid]));
  }

  async rows(): Promise<WorkerRow[]> {
    const answers = await Promise.all(this.workers.map((w) => (w.state === 'running' ? this.request(w, 'status') : Promise.resolve(undefined))));
    return this.workers.map((w, i) => {
      const reply = answers[i];
      const base = { pid: w.child.pid ?? -1, restarts: w.restarts };
      if (w.state !== 'running') return { ...base, state: w.state };
      if (!reply || !reply.ok) return { ...base, state: 'unreachable' };
      return { ...(reply.result as WorkerStatus), ...base, state: 'running' };
    });
  }

  private spawnWorker(restarts: number, trial = false, readyTimeoutMs = READY_TIMEOUT_MS): Managed {
    const [command, ...args] = [...this.options.launchPrefix, process.execPath, Executables.worker];
    const bundleDir = this.bundleDir;
    const child = spawn(command, args, {
      // NOTIFY_SOCKET is the agent's own (its unit's readiness): a worker must not speak for it
      env: {
        ...process.env, NOTIFY_SOCKET: undefined, ...this.options.env, DIPS_WORKER_PAUSED: this.options.paused().join(','),
        ...(bundleDir !== undefined ? { DIPS_WORKER_BUNDLE_DIR: bundleDir } : {}),
      },
      // stderr passes through (the agent's journal) and its tail is kept: a worker that exits says why there
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let readyResolve!: () => void;
    let readyReject!: (err: Error) => void;
    const managed: Managed = {
      child,
      state: 'starting',
      restarts,
      retiring: false,
      trial,
      bundleDir,
      stderrTail: '',
      closed: new Promise<void>((resolve) => child.once('close', () => resolve())),
      pending: new Map(),
      ready: new Promise<void>((resolve, reject) => {
        readyResolve = resolve;
        readyReject = reject;
      }),
    };
    managed.ready.catch(() => undefined);
    child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      managed.stderrTail = (managed.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    const readyTimer = setTimeout(() => readyReject(new Error(`worker ${child.pid} not ready after ${readyTimeoutMs} ms`)), readyTimeoutMs);
    this.workers.push(managed);
    child.on('message', (msg: WorkerReply | WorkerReady) => {
      if ('event' in msg && msg.event === 'ready') {
        managed.state = 'running';
        this.crashStreak = 0;
        clearTimeout(readyTimer);
        readyResolve();
        this.options.onReady?.();
      } else if ('id' in msg) {
        managed.pending.get(msg.id)?.(msg);
        managed.pending.delete(msg.id);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(readyTimer);
      readyReject(new Error(`worker exited (${signal ?? code}) before it was ready`));
      const index = this.workers.indexOf(managed);
      if (index >= 0) this.workers.splice(index, 1);
      for (const resolve of managed.pending.values()) resolve({ id: -1, ok: false, error: 'worker exited' });
      if (managed.retiring || managed.trial || this.stopped) return;
      // a crash: bring it back after a backoff that grows while crashes repeat
      this.crashStreak++;
      this.totalRestarts++;
      const delay = Math.min(this.options.restartMaxMs, this.options.restartMinMs * 2 ** (this.crashStreak - 1));
      this.options.log.warn({ pid: child.pid, code, signal, restartInMs: delay, restarts: managed.restarts + 1 }, 'worker crashed; restarting');
      this.options.onRestart?.();
      setTimeout(() => {
        if (!this.stopped && this.workers.length < this.desired) this.spawnWorker(managed.restarts + 1);
      }, delay);
    });
    return managed;
  }

  /** The bundle folder each worker serves, for status while a rollout runs. */
  bundleOf(pid: number): string | undefined {
    return this.workers.find((w) => w.child.pid === pid)?.bundleDir;
  }

  private async retire(w: Managed): Promise<void> {
    w.retiring = true;
    w.state = 'stopping';
    await stopChild(w.child, 'SIGTERM', 60_000);
  }

  private request(w: Managed, cmd: WorkerRequest['cmd'], functions?: string[], share?: number): Promise<WorkerReply> {
    const id = this.nextRequest++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        w.pending.delete(id);
        resolve({ id, ok: false, error: 'no answer over IPC' });
      }, IPC_TIMEOUT_MS);
      w.pending.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      try {
        w.child.send({ id, cmd, functions, share } satisfies WorkerRequest);
      } catch {
        clearTimeout(timer);
        w.pending.delete(id);
        resolve({ id, ok: false, error: 'IPC channel closed' });
      }
    });
  }
}

/** The last non-empty line a worker wrote (a bad bundle's one-line reason; a JSON log line's msg). */
function lastLine(text: string): string {
  const line = text.trim().split('\n').pop()?.trim() ?? '';
  try {
    const parsed = JSON.parse(line) as { msg?: unknown; err?: { message?: unknown } };
    return [parsed.msg, parsed.err?.message].filter((x) => typeof x === 'string').join(': ');
  } catch {
    return line;
  }
}
