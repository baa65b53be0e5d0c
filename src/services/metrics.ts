/** A worker's Prometheus metrics: jobs by function and outcome, latency, in flight, waiting. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { JOB_BUCKETS } from '../shared/metrics.js';

export interface WorkerMetrics {
  jobs: Counter<'function' | 'outcome'>;
  duration: Histogram<'function'>;
}

/** `sizes` is read when Prometheus scrapes, not set on every job. */
export function workerMetrics(registry: Registry, sizes: { inFlight(): number; queued(): number }): WorkerMetrics {
  new Gauge({ name: 'dips_worker_jobs_in_flight', help: 'Jobs running now', registers: [registry], collect() { this.set(sizes.inFlight()); } });
  new Gauge({ name: 'dips_worker_jobs_waiting', help: 'Jobs taken but waiting for a free slot', registers: [registry], collect() { this.set(sizes.queued()); } });
  return {
    jobs: new Counter({
      name: 'dips_worker_jobs_total',
      help: 'Jobs finished, by function and outcome (ok, or the error kind: BAD_REQUEST, TIMEOUT, INTERNAL…)',
      labelNames: ['function', 'outcome'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'dips_worker_job_duration_seconds',
      help: 'Time from taking a job to answering it',
      labelNames: ['function'],
      buckets: [...JOB_BUCKETS],
      registers: [registry],
    }),
  };
}
