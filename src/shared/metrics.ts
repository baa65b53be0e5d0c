/** Prometheus metrics (prom-client): one registry per process, served over HTTP on request. */
import http from 'node:http';
import { AggregatorRegistry, collectDefaultMetrics, Gauge, Registry, type Counter, type Histogram } from 'prom-client';
import { ERROR_KINDS, isErrorKind, kindOfCode, type ErrorKind } from './errors.js';
import type { Logger } from './log.js';
import type { NatsConnection } from 'nats';

export function createRegistry(role: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * How a job ended, as the `outcome` label: `ok`, or the error's kind
 * (ERROR_KINDS: BAD_REQUEST, NO_WORKER, TIMEOUT, INTERNAL…), so an alert can
 * tell a caller's mistake from a fault. A fixed set: the label's values stay bounded.
 */
export type Outcome = 'ok' | ErrorKind;

export const OUTCOMES: readonly Outcome[] = ['ok', ...ERROR_KINDS.map((e) => e.kind)];

/** The outcome of a failed job: a CallError's kind, else the kind of a DIPS error code, else INTERNAL (an unexpected exception). */
export function outcomeOf(err: unknown): Outcome {
  if (err instanceof Error) {
    const { kind, code } = err as Error & { kind?: unknown; code?: unknown };
    if (typeof kind === 'string' && isErrorKind(kind)) return kind;
    if (typeof code === 'number') return kindOfCode(code);
  }
  return 'INTERNAL';
}

/**
 * Upper bounds of the job duration histograms, in seconds: from 100 µs (an
 * ecard takes about 0.7 ms) through 30 s (images.timeLimitMs and
 * nats.requestTimeoutMs by default) to 600 s (queue.backgroundRunTimeoutMs,
 * the longest one background attempt runs).
 */
export const JOB_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];

/** Most functions one process gives series of their own; past it, series say function="(other)". */
export const MAX_FUNCTION_LABELS = 500;
export const OTHER_FUNCTIONS = '(other)';

/**
 * Outcomes that do not show a worker served the function: a made-up name
 * ends this way (nobody serves it, its caller gave up), so it gets no series.
 */
const UNSERVED: ReadonlySet<Outcome> = new Set<Outcome>(['NO_WORKER', 'CANCELLED', 'TIMEOUT', 'BUSY', 'UNAVAILABLE']);

/** Records finished jobs by function and outcome; `label` is the function label a name is counted under. */
export interface JobRecorder {
  record(fn: string, outcome: Outcome, seconds: number): void;
  label(fn: string): string;
}

/**
 * The function label a name is counted under. Function names come from
 * callers (any Gearman client may submit any name, any API-key holder may POST
 * to any /fn/<name>), and every series lives as long as the process: a name
 * gets series of its own only once a worker served it (`served`), and at most
 * MAX_FUNCTION_LABELS names do; the rest are counted as "(other)".
 */
export function functionLabels(): (fn: string, served: boolean) => string {
  const named = new Set<string>();
  return (fn, served) => {
    if (named.has(fn)) return fn;
    if (!served || named.size >= MAX_FUNCTION_LABELS) return OTHER_FUNCTIONS;
    named.add(fn);
    return fn;
  };
}

/**
 * A counter of jobs by function and outcome and a duration histogram by
 * function, as one call per finished job. prom-client's label lookups hash
 * their labels on every call, so the children are kept, made on first use;
 * `ok` at once with the function's first job, the error kinds when they occur
 * (most never do: 14 series per function and process would be mostly zeros).
 * Names are labelled by functionLabels: served means an outcome not in UNSERVED.
 */
export function jobRecorder(jobs: Counter<'function' | 'outcome'>, duration: Histogram<'function'>): JobRecorder {
  const children = new Map<string, { outcomes: Map<Outcome, Counter.Internal>; duration: Histogram.Internal<'function'> }>();
  const labelOf = functionLabels();
  return {
    label: (fn) => labelOf(fn, false),
    record(fn, outcome, seconds) {
      const name = labelOf(fn, !UNSERVED.has(outcome));
      let c = children.get(name);
      if (!c) children.set(name, (c = { outcomes: new Map([['ok', jobs.labels(name, 'ok')]]), duration: duration.labels(name) }));
      let counter = c.outcomes.get(outcome);
      if (!counter) c.outcomes.set(outcome, (counter = jobs.labels(name, outcome)));
      counter.inc();
      c.duration.observe(seconds);
    },
  };
}

/** A registry's getMetricsAsJSON(): how a worker hands its metrics to its agent. */
export type MetricsJSON = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** A worker process's metrics as the agent gathers them. */
export interface ProcessMetrics {
  pid: number;
  metrics: MetricsJSON;
}

/**
 * A node's scrape: the agent's own metrics (role="agent") and each worker's,
 * every sample of a worker labelled worker="<pid>". Nothing is summed across
 * processes: a sum of file-descriptor limits or event-loop lags means nothing,
 * and a sum of counters drops whenever one worker restarts, which Prometheus
 * takes for a reset of the whole total and counts again. Per process, each
 * counter only grows; `sum without (worker)` adds them up in PromQL. The pid
 * is the one `dipsctl status` shows; a restarted worker is a new series.
 */
export function nodeMetrics(own: MetricsJSON, workers: ProcessMetrics[]): Registry {
  const labelled = workers.map(({ pid, metrics }) =>
    metrics.map((m) => ({ ...m, values: m.values.map((v) => ({ ...v, labels: { ...v.labels, worker: String(pid) } })) })),
  );
  // every label set now comes from one process, so "aggregating" only merges; 'first' also keeps the
  // metrics prom-client marks 'omit' (process_start_time_seconds), which per process are meaningful
  const merged = [own, ...labelled].map((metrics) => metrics.map((m) => ({ ...m, aggregator: 'first' as const })));
  return AggregatorRegistry.aggregate(merged);
}

/**
 * What an agent knows of its NATS node: whether it is connected, and how many
 * nodes that node reports in its cluster (the client URLs it gossips; a node
 * whose route is gone drops out). DIPS runs no NATS exporter and nats-server's
 * monitoring port speaks JSON, not Prometheus; these come from the agent's own
 * connection, on every machine that runs one.
 */
export function natsMetrics(registry: Registry, nc: NatsConnection): void {
  const connected = natsConnected(nc);
  new Gauge({
    name: 'dips_nats_connected',
    help: 'Whether this process is connected to a NATS node (1) or not (0)',
    registers: [registry],
    collect() {
      this.set(connected() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'dips_nats_cluster_nodes',
    help: 'NATS nodes the connected node reports in its cluster, itself included (0 while disconnected)',
    registers: [registry],
    collect() {
      const urls = nc.info?.connect_urls;
      this.set(!connected() ? 0 : urls && urls.length > 0 ? urls.length : 1);
    },
  });
}

/** Whether `nc` is connected now: its status events followed from here on. */
function natsConnected(nc: NatsConnection): () => boolean {
  let connected = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') connected = false;
      else if (status.type === 'reconnect') connected = true;
    }
  })().catch(() => undefined);
  return () => connected && !nc.isClosed();
}

/** Whether a process is ready to serve: true, or why not. */
export type Readiness = () => true | string;

/**
 * Serve `text()` at /metrics, and beside it /healthz (the process answers) and
 * /readyz (200 when `ready()` is true, else 503 with its reason), for load
 * balancers, systemd watchdogs and orchestrators.
 */
export function serveMetrics(port: number, host: string, text: () => Promise<string>, contentType: string, log: Logger, ready: Readiness = () => true): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = req.url?.split('?')[0];
    if (url === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      return;
    }
    if (url === '/readyz') {
      const state = ready();
      res.writeHead(state === true ? 200 : 503, { 'Content-Type': 'text/plain' }).end(state === true ? 'ready\n' : `not ready: ${state}\n`);
      return;
    }
    if (url !== '/metrics') {
      res.writeHead(404).end('try /metrics, /healthz or /readyz\n');
      return;
    }
    text().then(
      (body) => res.writeHead(200, { 'Content-Type': contentType }).end(body),
      (err) => {
        log.error({ err }, 'metrics collection failed');
        res.writeHead(500).end(String(err));
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      server.unref();
      resolve(server);
    });
  });
}

/** Readiness of a process whose work goes through NATS: connected, and whatever else `more` says. */
export function natsReadiness(nc: NatsConnection, more: Readiness = () => true): Readiness {
  const connected = natsConnected(nc);
  return () => {
    if (nc.isClosed()) return 'NATS connection closed';
    if (!connected()) return 'NATS disconnected, reconnecting';
    return more();
  };
}
