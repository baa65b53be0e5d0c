/** The gateway's Prometheus metrics: jobs by function and outcome, latency, connections, jobs waiting for room. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { jobRecorder } from '../shared/metrics.js';
import type { JobsMetrics } from './jobs.js';

export function gatewayMetrics(registry: Registry, sizes: { connections(): number; jobs(): number; waiting(): Map<string, Record<string, number>> }): JobsMetrics {
  const jobs = new Counter({ name: 'dips_gateway_jobs_total', help: 'Gearman jobs finished, by function and outcome', labelNames: ['function', 'outcome'], registers: [registry] });
  const duration = new Histogram({
    name: 'dips_gateway_job_duration_seconds',
    help: 'From SUBMIT_JOB to the final packet',
    labelNames: ['function'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const backgroundFailed = new Counter({
    name: 'dips_gateway_background_jobs_failed_total',
    help: 'Background jobs that finally failed (each is also logged with its handle)',
    labelNames: ['function'],
    registers: [registry],
  });
  new Gauge({ name: 'dips_gateway_connections', help: 'Client connections open', registers: [registry], collect() { this.set(sizes.connections()); } });
  new Gauge({ name: 'dips_gateway_jobs', help: 'Jobs known (waiting, scheduled or running)', registers: [registry], collect() { this.set(sizes.jobs()); } });
  new Gauge({
    name: 'dips_gateway_jobs_waiting',
    help: 'Jobs waiting for a worker with room, by function and priority',
    labelNames: ['function', 'priority'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [fn, byPriority] of sizes.waiting()) for (const [priority, n] of Object.entries(byPriority)) this.set({ function: fn, priority }, n);
    },
  });
  const record = jobRecorder(jobs, duration);
  return {
    finished(fn, ok, seconds, background) {
      record(fn, ok, seconds);
      if (!ok && background) backgroundFailed.inc({ function: fn });
    },
  };
}
