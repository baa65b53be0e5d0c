/** Prometheus metrics (prom-client): one registry per process, served over HTTP on request. */
import http from 'node:http';
import { collectDefaultMetrics, Registry, type Counter, type Histogram } from 'prom-client';
import type { Logger } from './log.js';
import type { NatsConnection } from 'nats';

export function createRegistry(role: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * A counter of jobs by function and outcome (ok, error) and a duration
 * histogram by function, as one call per finished job. prom-client's label
 * lookups hash their labels on every call, so each function's children are
 * kept, made on first use.
 */
export function jobRecorder(jobs: Counter<'function' | 'outcome'>, duration: Histogram<'function'>): (fn: string, ok: boolean, seconds: number) => void {
  const children = new Map<string, { ok: Counter.Internal; error: Counter.Internal; duration: Histogram.Internal<'function'> }>();
  return (fn, ok, seconds) => {
    let c = children.get(fn);
    if (!c) {
      c = { ok: jobs.labels(fn, 'ok'), error: jobs.labels(fn, 'error'), duration: duration.labels(fn) };
      children.set(fn, c);
    }
    (ok ? c.ok : c.error).inc();
    c.duration.observe(seconds);
  };
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
  let connected = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') connected = false;
      else if (status.type === 'reconnect') connected = true;
    }
  })().catch(() => undefined);
  return () => {
    if (nc.isClosed()) return 'NATS connection closed';
    if (!connected) return 'NATS disconnected, reconnecting';
    return more();
  };
}
