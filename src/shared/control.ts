/**
 * The control plane's messages. dipsctl broadcasts a ControlRequest on
 * dips.control.<verb>; every agent hears it (no queue group), acts if it is
 * targeted, and answers with a NodeReply. Agents talk to their own workers
 * over the child-process IPC channel with WorkerRequest / WorkerReply.
 */
export const VERBS = ['ping', 'status', 'pause', 'resume', 'scale', 'reload', 'drain', 'stop', 'start'] as const;
export type Verb = (typeof VERBS)[number];

export interface ControlRequest {
  /** Only these nodes act (empty or absent: all). */
  nodes?: string[];
  /** Only these functions (pause, resume, drain). */
  functions?: string[];
  /** Worker processes wanted (scale). */
  workers?: number;
  /** Longest a drain waits for jobs in flight, in ms (default 60 s). */
  waitMs?: number;
}

export interface WorkerStatus {
  pid: number;
  version: string;
  uptimeSec: number;
  functions: Array<{ name: string; paused: boolean }>;
  inFlight: number;
  queued: number;
  done: number;
  failed: number;
  p50Ms: number | null;
}

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
}

export interface WorkerRequest {
  id: number;
  cmd: 'status' | 'pause' | 'resume' | 'metrics';
  functions?: string[];
}
export type WorkerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
export interface WorkerReady {
  event: 'ready';
  version: string;
}

export function targets(request: ControlRequest, node: string): boolean {
  return !request.nodes || request.nodes.length === 0 || request.nodes.includes(node);
}
