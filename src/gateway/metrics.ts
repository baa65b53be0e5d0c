/** The gateway's Prometheus metrics: jobs by function and outcome, latency, connections, jobs waiting for room, stored background jobs. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { JOB_BUCKETS, jobRecorder } from '../shared/metrics.js';
import type { Job, JobsMetrics } from './jobs.js';

export interface GatewaySizes {
  connections(): number;
  jobs(): number;
  waiting(): Map<string, Record<string, number>>;
  /** Every job in the table: the background ones are counted and aged when Prometheus scrapes. */
  all(): Iterable<Pick<Job, 'fn' | 'background' | 'createdAt' | 'runAt'>>;
  deadLetters(): number;
}

export function gatewayMetrics(registry: Registry, sizes: GatewaySizes): JobsMetrics {
  const jobs = new Counter({
    name: 'dips_gateway_jobs_total',
    help: 'Gearman jobs finished, by function and outcome (ok, or the error kind: BAD_REQUEST, NO_WORKER, INTERNAL…)',
    labelNames: ['function', 'outcome'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'dips_gateway_job_duration_seconds',
    help: 'From SUBMIT_JOB to the final packet',
    labelNames: ['function'],
    buckets: [...JOB_BUCKETS],
    registers: [registry],
  });
  // names are callers' words: series by function go through the recorder's bounded set of labels
  const recorder = jobRecorder(jobs, duration);
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
      for (const [fn, byPriority] of sizes.waiting()) for (const [priority, n] of Object.entries(byPriority)) this.inc({ function: recorder.label(fn), priority }, n);
    },
  });
  new Gauge({
    name: 'dips_gateway_background_jobs',
    help: 'Background jobs stored and not yet finished, by function',
    labelNames: ['function'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [fn, { count }] of backgroundByFunction(sizes.all(), recorder.label)) this.set({ function: fn }, count);
    },
  });
  new Gauge({
    name: 'dips_gateway_background_job_oldest_seconds',
    help: 'Age of the oldest unfinished background job, by function: seconds since it was due (submitted, or its scheduled time)',
    labelNames: ['function'],
    registers: [registry],
    collect() {
      const now = Date.now();
      this.reset();
      for (const [fn, { oldestDue }] of backgroundByFunction(sizes.all(), recorder.label)) this.set({ function: fn }, Math.max(0, (now - oldestDue) / 1000));
    },
  });
  new Gauge({
    name: 'dips_gateway_dead_letters',
    help: 'Background jobs in the dead letters, waiting for an operator (dipsctl dead-letter list|retry|drop)',
    registers: [registry],
    collect() { this.set(sizes.deadLetters()); },
  });
  return {
    finished(fn, outcome, seconds, background) {
      recorder.record(fn, outcome, seconds);
      if (outcome !== 'ok' && background) backgroundFailed.inc({ function: recorder.label(fn) });
    },
  };
}

/** Background jobs by function label: how many, and when the oldest became due (epoch ms). */
function backgroundByFunction(jobs: Iterable<Pick<Job, 'fn' | 'background' | 'createdAt' | 'runAt'>>, label: (fn: string) => string): Map<string, { count: number; oldestDue: number }> {
  const byFn = new Map<string, { count: number; oldestDue: number }>();
  for (const job of jobs) {
    if (!job.background) continue;
    const due = Math.max(job.createdAt, (job.runAt ?? 0) * 1000);
    const fn = label(job.fn);
    const seen = byFn.get(fn);
    if (seen) {
      seen.count++;
      seen.oldestDue = Math.min(seen.oldestDue, due);
    } else byFn.set(fn, { count: 1, oldestDue: due });
  }
  return byFn;
}
