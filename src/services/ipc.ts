/** A worker's side of the agent's IPC channel: status, pause, resume, metrics. */
import type { Registry } from 'prom-client';
import type { FunctionFigures, WorkerReady, WorkerReply, WorkerRequest, WorkerStatus } from '../shared/control.js';
import { codeVersion } from '../shared/process.js';
import type { Worker } from './runtime.js';

const percentile = (sorted: number[], q: number) => (sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] * 100) / 100 : null);

/** `bundle`: `name@version` of the bundle this worker serves (worker.bundleDir), so a fleet half way through a deploy shows which workers run what. */
export function workerStatus(worker: Worker, bundle?: string): WorkerStatus {
  let done = 0;
  let failed = 0;
  const latencies: number[] = [];
  const byFunction: Record<string, FunctionFigures> = {};
  const now = Date.now();
  for (const [fn, s] of worker.stats) {
    done += s.done;
    failed += s.failed;
    const sorted = s.latencies.recent(now).sort((a, b) => a - b);
    latencies.push(...sorted);
    byFunction[fn] = { done: s.done, failed: s.failed, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99) };
  }
  latencies.sort((a, b) => a - b);
  return {
    pid: process.pid,
    version: codeVersion,
    uptimeSec: Math.round((Date.now() - worker.startedAt) / 1000),
    functions: worker.functionStates(),
    inFlight: worker.inFlight,
    queued: worker.queued,
    slotsOffered: worker.slotsOffered,
    done,
    failed,
    p50Ms: percentile(latencies, 0.5),
    byFunction,
    latencyWindowSec: worker.latencyWindowMs / 1000,
    ...(bundle ? { bundle } : {}),
  };
}

/** Answer the agent; does nothing when this worker was not started by an agent. */
export function serveAgent(worker: Worker, registry: Registry, bundle?: string): void {
  if (!process.send) return;
  process.on('message', (raw: WorkerRequest) => {
    void handle(worker, registry, raw, bundle).then((reply) => process.send?.(reply));
  });
  process.send({ event: 'ready', version: codeVersion } satisfies WorkerReady);
}

async function handle(worker: Worker, registry: Registry, req: WorkerRequest, bundle: string | undefined): Promise<WorkerReply> {
  try {
    const names = req.functions && req.functions.length ? req.functions : worker.functionNames;
    switch (req.cmd) {
      case 'status':
        return { id: req.id, ok: true, result: workerStatus(worker, bundle) };
      case 'pause':
        await Promise.all(names.map((fn) => worker.pause(fn, true)));
        return { id: req.id, ok: true, result: workerStatus(worker, bundle) };
      case 'resume':
        await Promise.all(names.map((fn) => worker.resume(fn)));
        return { id: req.id, ok: true, result: workerStatus(worker, bundle) };
      case 'metrics':
        return { id: req.id, ok: true, result: await registry.getMetricsAsJSON() };
      case 'share':
        worker.setShare(req.share ?? 1);
        return { id: req.id, ok: true, result: worker.slotsOffered };
    }
  } catch (err) {
    return { id: req.id, ok: false, error: (err as Error).message };
  }
}
