/**
 * The control plane's messages. dipsctl broadcasts a ControlRequest on
 * dips.control.<verb>; every agent hears it (no queue group), acts if it is
 * targeted, and answers with a NodeReply. Agents talk to their own workers
 * over the child-process IPC channel with WorkerRequest / WorkerReply.
 */
export const VERBS = ['ping', 'status', 'pause', 'resume', 'scale', 'reload', 'drain', 'stop', 'start', 'deploy'] as const;
export type Verb = (typeof VERBS)[number];

export interface ControlRequest {
  /** Unique per broadcast: an agent acts on each id once, however often the message reaches it. */
  id?: string;
  /** Only these nodes act (empty or absent: all). */
  nodes?: string[];
  /** Only these functions (pause, resume, drain). */
  functions?: string[];
  /** Worker processes wanted (scale). */
  workers?: number;
  /** Longest a drain waits for jobs in flight, in ms (default 60 s). */
  waitMs?: number;
  /** The signed release to run (deploy; a rollback is a new release of an older archive): src/control/release/statement.ts. */
  release?: { statement: string; signature: string };
}

export interface WorkerStatus {
  pid: number;
  version: string;
  uptimeSec: number;
  functions: Array<{ name: string; paused: boolean }>;
  inFlight: number;
  queued: number;
  /** Slots offered to callers now: fewer than its concurrency while a guest host needs its CPU. */
  slotsOffered?: number;
  done: number;
  failed: number;
  /** Over the jobs that ended in the last latencyWindowSec seconds (null: none did). */
  p50Ms: number | null;
  /** The same figures per function (latencies over its jobs of the last latencyWindowSec seconds, null when it had none). */
  byFunction?: Record<string, FunctionFigures>;
  /** The stretch of time, in seconds, p50Ms and p99Ms cover (worker.latencyWindowSec); absent from workers that report the last 512 jobs instead. */
  latencyWindowSec?: number;
  /** The bundle of the operator's functions it serves, `name@version` (absent: built-in functions only). */
  bundle?: string;
}

export interface FunctionFigures {
  done: number;
  failed: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

/** What a gateway answers on GATEWAY_STATUS_SUBJECT (the dashboard's view of it). */
export interface GatewayStatus {
  kind: 'gearman';
  id: string;
  host: string;
  pid: number;
  port: number;
  connections: number;
  /** Jobs in its table (waiting, running, background). */
  jobs: number;
  /** Background jobs stored on disk. */
  stored: number;
  /** Background jobs in its dead letters (see src/shared/dead-letter.ts). */
  deadLetters?: number;
  /** Jobs waiting for room, by function and priority. */
  waiting: Record<string, { high: number; normal: number; low: number }>;
  uptimeSec: number;
}

/** Gateways answer status requests here (every gateway answers: no queue group; outside dips.control.*, which the agents answer). */
export const GATEWAY_STATUS_SUBJECT = 'dips.status.gateways';

export interface WorkerRow extends Partial<WorkerStatus> {
  pid: number;
  state: 'starting' | 'running' | 'stopping' | 'unreachable';
  restarts: number;
}

export interface NodeReply {
  node: string;
  ok: boolean;
  error?: string;
  agentPid: number;
  agentVersion: string;
  uptimeSec: number;
  desiredWorkers: number;
  paused: string[];
  workers: WorkerRow[];
  /** What the verb did, in words (scale, reload, drain). */
  done?: string;
  /** How this node shares its machine (agent.mode) and, for a guest, what its host needs now. */
  guest?: GuestState;
  /** Which deployed bundle this node runs, holds and is moving to (dipsctl deploy). */
  release?: ReleaseState;
}

/** One signed release of a bundle, as status shows it (src/control/release/statement.ts has the whole statement). */
export interface ReleaseSummary {
  name: string;
  version: string;
  sha256: string;
  /** When the operator signed it (ms since the epoch): the newest release is the fleet's desired one. */
  issuedAt: number;
}

export interface ReleaseState {
  /** The release in force on this node (null: none deployed; the workers serve the built-in functions and any worker.bundleDir). */
  current: ReleaseSummary | null;
  /** The release this node's workers are being rolled onto right now. */
  rolling?: ReleaseSummary;
  /** Releases kept on disk, newest first: what `dipsctl rollback` can return to without a transfer. */
  held: ReleaseSummary[];
  /** The last release this node refused or rolled back, and why. */
  lastError?: { release: ReleaseSummary; error: string; atMs: number };
}

export interface GuestState {
  mode: 'guest' | 'dedicated';
  /** Share of all CPUs (0-1) the host's own processes used over the last sample; null before the first. */
  hostCpu: number | null;
  /** Linux PSI: % of the last 10 s some task waited for a CPU (/proc/pressure/cpu); null where there is none. */
  pressure: number | null;
  /** Part of their slots (0-1) the workers offer callers now. */
  share: number;
}

export interface WorkerRequest {
  id: number;
  cmd: 'status' | 'pause' | 'resume' | 'metrics' | 'share';
  functions?: string[];
  /** share: the part of its slots (0-1) a guest worker offers now. */
  share?: number;
}
export type WorkerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
export interface WorkerReady {
  event: 'ready';
  version: string;
}

/** What is wrong with a control message's shape (undefined: nothing), so an agent answers odd input with an error instead of throwing on it. */
export function controlRequestProblem(value: unknown): string | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'a control message is a JSON object';
  const r = value as Record<string, unknown>;
  const names = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
  if (!names(r.nodes)) return 'nodes must be a list of node names';
  if (!names(r.functions)) return 'functions must be a list of function names';
  if (r.id !== undefined && typeof r.id !== 'string') return 'id must be text';
  return undefined;
}

export function targets(request: ControlRequest, node: string): boolean {
  return !request.nodes || request.nodes.length === 0 || request.nodes.includes(node);
}
