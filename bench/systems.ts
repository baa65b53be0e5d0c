/** The systems a bench scenario starts: a DIPS mesh on free ports, and the anchor (gearmand with PHP workers). */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DipsClient } from '../src/client/index.js';
import { loadConfig } from '../src/shared/config.js';
import { freePort } from '../src/control/nats-node.js';
import { startLocalCluster, startLocalProcess, type LocalProcess } from '../src/control/local.js';
import { startGearmand, startPhpWorkers, stopAll } from './peers.js';

/** A DIPS mesh on free ports: cluster, `workers` worker processes, one gateway. */
export async function startMesh(workers: number, env: Record<string, string> = {}) {
  const cluster = await startLocalCluster();
  const procs: LocalProcess[] = await Promise.all(Array.from({ length: workers }, () => startLocalProcess('worker', cluster.servers, env)));
  const port = await freePort();
  const metricsPort = await freePort();
  const gateway = await startLocalProcess('gateway', cluster.servers, {
    DIPS_LOG_LEVEL: 'info', DIPS_GATEWAY_PORT: String(port), DIPS_GATEWAY_METRICS_PORT: String(metricsPort), DIPS_GATEWAY_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'dips-bench-gw-')),
  });
  const client = new DipsClient({ config: loadConfig({ argv: [], env: {}, overrides: { nats: { servers: cluster.servers } } }) });
  return {
    port,
    metricsPort,
    client,
    servers: cluster.servers,
    /** The NATS nodes' monitoring ports. */
    httpPorts: cluster.nodes.map((n) => n.httpPort),
    pids: { workers: procs.map((p) => p.child.pid), gateway: [gateway.child.pid], nats: cluster.nodes.map((n) => n.process.pid) },
    async stop() {
      await client.close();
      await Promise.all([gateway, ...procs].map((p) => p.stop()));
      await cluster.stop();
    },
  };
}

export async function startAnchor(workers: number, gearmandArgs: string[] = []) {
  // (one PHP worker process serves every anchor function, like the seed's workers)
  const port = await freePort();
  const gearmand = await startGearmand(port, gearmandArgs);
  const phpWorkers = startPhpWorkers(port, workers);
  await new Promise((r) => setTimeout(r, 500)); // PHP workers connect and CAN_DO
  return { port, pids: { gearmand: [gearmand.pid], workers: phpWorkers.map((w) => w.pid) }, stop: () => stopAll([...phpWorkers, gearmand]) };
}

/**
 * Run `body` with the anchor and a DIPS mesh up, the same worker slots each,
 * and stop both after. `slotsPerWorker` > 1 gives each DIPS worker process that
 * many slots and the anchor as many PHP worker processes in all.
 */
export async function withAnchorAndMesh<T>(
  workers: number,
  body: (anchor: Awaited<ReturnType<typeof startAnchor>>, mesh: Awaited<ReturnType<typeof startMesh>>) => Promise<T>,
  slotsPerWorker = 0,
): Promise<T> {
  const anchor = await startAnchor(workers * Math.max(1, slotsPerWorker));
  const mesh = await startMesh(workers, slotsPerWorker ? { DIPS_WORKER_CONCURRENCY: String(slotsPerWorker) } : {});
  try {
    return await body(anchor, mesh);
  } finally {
    await mesh.stop();
    await anchor.stop();
  }
}
