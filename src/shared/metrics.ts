/** Prometheus metrics (prom-client): one registry per process, served over HTTP on request. */
import http from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from './log.js';

export function createRegistry(role: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Serve `text()` at /metrics; resolves with the bound port. */
export function serveMetrics(port: number, host: string, text: () => Promise<string>, contentType: string, log: Logger): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('try /metrics\n');
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
