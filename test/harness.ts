/**
 * Real parts for tests: a two-node nats-server cluster on free ports, worker
 * and gateway processes started from the built executables, and clients.
 * Nothing here imitates NATS or Gearman.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DipsClient } from '../src/client/index.js';
import { loadConfig } from '../src/shared/config.js';
import { freePort, startNode, waitForRoutes, type RunningNode } from '../src/control/nats-node.js';
import { spawnRole, stopChild, type Role } from '../src/control/spawn.js';

export interface Cluster {
  nodes: RunningNode[];
  servers: string[];
  /** Restart a stopped node on the same ports. */
  restart(index: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startCluster(extra?: string): Promise<Cluster> {
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const specs = [0, 1].map((i) => ({
    name: `test-${'ab'[i]}`,
    clientPort: ports[i * 3],
    clusterPort: ports[i * 3 + 1],
    httpPort: ports[i * 3 + 2],
    routes: [ports[(1 - i) * 3 + 1]],
    extra,
  }));
  const nodes = await Promise.all(specs.map((s) => startNode(s)));
  await Promise.all(nodes.map((n) => waitForRoutes(n.httpPort, 1)));
  const cluster: Cluster = {
    nodes,
    servers: nodes.map((n) => n.clientUrl),
    async restart(index) {
      nodes[index] = await startNode(specs[index], path.dirname(nodes[index].confPath));
      await waitForRoutes(nodes[index].httpPort, 1);
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    },
  };
  return cluster;
}

export interface Proc {
  child: ChildProcess;
  /** Everything the process wrote to stderr (its JSON logs). */
  logs(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Start a DIPS executable against a cluster and wait for its ready line. */
export async function startProcess(role: Role, cluster: Cluster | string[], env: Record<string, string> = {}, readyText = '"msg":"worker ready"'): Promise<Proc> {
  const servers = Array.isArray(cluster) ? cluster : cluster.servers;
  const child = spawnRole(role, {
    stdio: 'pipe',
    env: { DIPS_NATS_SERVERS: servers.join(','), DIPS_LOG_LEVEL: 'info', DIPS_CONFIG: '', ...env },
  });
  let logs = '';
  child.stderr?.on('data', (d: Buffer) => (logs += d.toString()));
  child.stdout?.on('data', (d: Buffer) => (logs += d.toString()));
  const proc: Proc = { child, logs: () => logs, stop: (signal = 'SIGTERM') => stopChild(child, signal, 10_000) };
  await waitFor(() => logs.includes(readyText) || child.exitCode !== null, 15_000, `${role} to be ready`);
  if (child.exitCode !== null) throw new Error(`${role} exited with ${child.exitCode}: ${logs}`);
  return proc;
}

export const startWorker = (cluster: Cluster | string[], env: Record<string, string> = {}) => startProcess('worker', cluster, env);

export function clientFor(cluster: Cluster | string[], timeoutMs = 10_000): DipsClient {
  const servers = Array.isArray(cluster) ? cluster : cluster.servers;
  return new DipsClient({ config: loadConfig({ argv: [], env: {}, overrides: { nats: { servers } } }), timeoutMs });
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The seed's 80 card values, exactly as its PHP client sends them (line breaks from the slide included). */
export const SEED_PDATA =
  '61, 61, 58, 00, 25, 08, 73, 03, 52, 53, 34, 84, 03, 81, 52, 17, 96, 30, 57, 23, 5\n5, 08, 03, 84, 08, 47, 27, 02, 68, 17, 77, 68, 96, 86, 88, 21, 08, 14, 64, 39, 55,\n80, 71, 00, 40, 51, 22, 89, 51, 77, 34, 59, 51, 77, 86, 86, 96, 42, 71, 11, 62, 89\n, 63, 35, 07, 55, 71, 94, 03, 80, 74, 68, 93, 11, 67, 67, 44, 42, 87, 68';

export const SHARED_FIXTURES = path.resolve(process.cwd(), '..', 'shared', 'fixtures');
export const hasSharedFixtures = existsSync(SHARED_FIXTURES);
