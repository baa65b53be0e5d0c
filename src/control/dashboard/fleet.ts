/**
 * The dashboard's view of the fleet, once a second: every agent's status
 * (dips.control.status), every gateway's (dips.status.gateways), both NATS
 * nodes' monitoring endpoints; per-function rates derived from the workers'
 * counters; 15 minutes of history; markers where the fleet changed (a reload,
 * a pause, a scale — made here, by dipsctl or by anyone).
 */
import { EventEmitter } from 'node:events';
import { RequestStrategy, type NatsConnection } from 'nats';
import { GATEWAY_STATUS_SUBJECT, type GatewayStatus, type NodeReply } from '../../shared/control.js';
import type { Logger } from '../../shared/log.js';
import { broadcast } from '../broadcast.js';
import { releaseWords, sharingLine, type ReleaseWords } from '../report.js';

export interface NatsNodeView {
  url: string;
  up: boolean;
  name?: string;
  connections?: number;
  routes?: number;
  problem?: string;
}

export interface FunctionPoint {
  jobsPerSec: number;
  failuresPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  waiting: number;
}

export interface Snapshot {
  time: number;
  nodes: NodeReply[];
  missing: string[];
  gateways: GatewayStatus[];
  nats: NatsNodeView[];
  functions: Record<string, FunctionPoint>;
  /** Per node, how it shares its machine, in dipsctl status's words (sharingLine). */
  sharing: Record<string, string>;
  /** Per node, its release in dipsctl status's words (releaseWords); a node whose agent reports none (an older one) is left out. */
  releases: Record<string, ReleaseWords>;
  /** The stretch of time the workers' p50 and p99 cover, in seconds (worker.latencyWindowSec; the longest when workers differ; null: no worker says). */
  latencyWindowSec: number | null;
}

export interface Marker {
  time: number;
  text: string;
}

export interface Sample {
  time: number;
  functions: Record<string, FunctionPoint>;
}

const INTERVAL_MS = 1000;
const HISTORY_SAMPLES = 15 * 60;
const GATHER_MS = 400;
const MONITOR_TIMEOUT_MS = 600;

export class FleetWatcher extends EventEmitter<{ snapshot: [Snapshot] }> {
  readonly samples: Sample[] = [];
  readonly markers: Marker[] = [];
  latest?: Snapshot;
  private timer?: NodeJS.Timeout;
  private busy = false;
  /** done/failed per node, pid and function at the previous sample. */
  private counters = new Map<string, { done: number; failed: number }>();
  private previous?: Snapshot;

  constructor(private readonly nc: NatsConnection, private readonly natsMonitorUrls: readonly string[], private readonly log: Logger) {
    super();
  }

  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), INTERVAL_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  mark(text: string): void {
    this.markers.push({ time: Date.now(), text });
    while (this.markers.length && this.markers[0].time < Date.now() - HISTORY_SAMPLES * INTERVAL_MS) this.markers.shift();
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const [status, gateways, nats] = await Promise.all([
        broadcast(this.nc, 'status', {}, GATHER_MS).catch(() => ({ replies: [], missing: [] })),
        this.gateways(),
        Promise.all(this.natsMonitorUrls.map((url) => natsNode(url))),
      ]);
      const time = Date.now();
      const sharing = Object.fromEntries(status.replies.map((r) => [r.node, sharingLine(r)]));
      const releases = Object.fromEntries(status.replies.flatMap((r) => {
        const words = releaseWords(r);
        return words ? [[r.node, words]] : [];
      }));
      const windows = status.replies.flatMap((r) => r.workers.flatMap((w) => (typeof w.latencyWindowSec === 'number' ? [w.latencyWindowSec] : [])));
      const latencyWindowSec = windows.length ? Math.max(...windows) : null;
      const snapshot: Snapshot = { time, nodes: status.replies, missing: status.missing, gateways, nats, functions: this.functionPoints(status.replies, gateways, time), sharing, releases, latencyWindowSec };
      this.noticeChanges(snapshot);
      this.previous = snapshot;
      this.latest = snapshot;
      this.samples.push({ time, functions: snapshot.functions });
      if (this.samples.length > HISTORY_SAMPLES) this.samples.shift();
      this.emit('snapshot', snapshot);
    } catch (err) {
      // one odd answer must not stop the page: log it and sample again next second
      this.log.error({ err }, 'fleet sample failed');
    } finally {
      this.busy = false;
    }
  }

  private async gateways(): Promise<GatewayStatus[]> {
    const out: GatewayStatus[] = [];
    try {
      for await (const msg of await this.nc.requestMany(GATEWAY_STATUS_SUBJECT, undefined, { strategy: RequestStrategy.Timer, maxWait: GATHER_MS })) {
        const status = msg.data.length ? msg.json<GatewayStatus>() : undefined;
        if (status?.kind === 'gearman' && status.waiting) out.push(status);
      }
    } catch {
      // no gateway is up
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Rates from the counters' growth since the last sample (a restarted worker starts from zero). */
  private functionPoints(nodes: NodeReply[], gateways: GatewayStatus[], time: number): Record<string, FunctionPoint> {
    const seconds = this.previous ? Math.max(0.2, (time - this.previous.time) / 1000) : 1;
    const points: Record<string, FunctionPoint> = {};
    const weighted = new Map<string, { sum: number; weight: number }>();
    const next = new Map<string, { done: number; failed: number }>();
    for (const node of nodes) {
      for (const w of node.workers) {
        for (const [fn, f] of Object.entries(w.byFunction ?? {})) {
          const key = `${node.node} ${w.pid} ${fn}`;
          const before = this.counters.get(key);
          next.set(key, { done: f.done, failed: f.failed });
          const point = pointOf(points, fn);
          if (before && f.done >= before.done) {
            point.jobsPerSec += (f.done - before.done) / seconds;
            point.failuresPerSec += (f.failed - before.failed) / seconds;
          }
          if (f.p99Ms !== null) point.p99Ms = Math.max(point.p99Ms ?? 0, f.p99Ms);
          if (f.p50Ms !== null) {
            const acc = weighted.get(fn) ?? { sum: 0, weight: 0 };
            const weight = Math.max(1, f.done - (before?.done ?? f.done));
            acc.sum += f.p50Ms * weight;
            acc.weight += weight;
            weighted.set(fn, acc);
          }
        }
      }
    }
    this.counters = next;
    for (const [fn, acc] of weighted) points[fn].p50Ms = Math.round((acc.sum / acc.weight) * 100) / 100;
    for (const g of gateways) {
      for (const [fn, w] of Object.entries(g.waiting)) {
        const point = pointOf(points, fn);
        point.waiting += w.high + w.normal + w.low;
      }
    }
    for (const p of Object.values(points)) {
      p.jobsPerSec = Math.round(p.jobsPerSec * 10) / 10;
      p.failuresPerSec = Math.round(p.failuresPerSec * 10) / 10;
    }
    return points;
  }

  /** Markers for what changed since the last sample: worker processes replaced, pauses, scale. */
  private noticeChanges(now: Snapshot): void {
    if (!this.previous) return;
    const before = new Map(this.previous.nodes.map((n) => [n.node, n]));
    for (const node of now.nodes) {
      const was = before.get(node.node);
      if (!was) continue;
      if (was.desiredWorkers !== node.desiredWorkers) this.mark(`${node.node}: scaled to ${node.desiredWorkers} workers`);
      const paused = new Set(node.paused);
      const wasPaused = new Set(was.paused);
      for (const fn of paused) if (!wasPaused.has(fn)) this.mark(`${node.node}: ${fn} paused`);
      for (const fn of wasPaused) if (!paused.has(fn)) this.mark(`${node.node}: ${fn} resumed`);
      const oldPids = new Set(was.workers.map((w) => w.pid));
      const replaced = node.workers.filter((w) => !oldPids.has(w.pid)).length;
      if (replaced && was.workers.length) this.mark(`${node.node}: ${replaced} new worker process${replaced > 1 ? 'es' : ''}`);
    }
  }
}

const pointOf = (points: Record<string, FunctionPoint>, fn: string): FunctionPoint =>
  (points[fn] ??= { jobsPerSec: 0, failuresPerSec: 0, p50Ms: null, p99Ms: null, waiting: 0 });

async function natsNode(url: string): Promise<NatsNodeView> {
  try {
    const res = await fetch(`${url.replace(/\/+$/, '')}/varz`, { signal: AbortSignal.timeout(MONITOR_TIMEOUT_MS) });
    const varz = (await res.json()) as { server_name?: string; connections?: number; routes?: number };
    return { url, up: true, name: varz.server_name, connections: varz.connections, routes: varz.routes };
  } catch (err) {
    return { url, up: false, problem: (err as Error).message };
  }
}
