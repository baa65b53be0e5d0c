/**
 * A throwaway mesh on free ports: a two-node NATS cluster and DIPS processes
 * waited on until ready. Tests and benchmarks use it; `npm start` uses the
 * fixed ports of config/ instead.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort, startNode, waitForRoutes, type NodeSpec, type RunningNode } from './nats-node.js';
import { spawnRole, stopChild, type Role } from './spawn.js';

export interface LocalCluster {
  nodes: RunningNode[];
  servers: string[];
  /** Each node's cluster (route) port, in the order of nodes. */
  clusterPorts: number[];
  /** Start a stopped node again on the same ports. */
  restart(index: number): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalClusterOptions {
  /** Config files every node includes (config/nats-auth.conf for the secure variant). */
  includes?: string[];
  /** Environment of nats-server (the secure variant's passwords). */
  env?: NodeJS.ProcessEnv;
  /** TLS for clients and routes. */
  tls?: { cert: string; key: string; ca: string };
  /** The route's user and password (secureClusterOptions): routes without them are refused. */
  routeAuth?: { user: string; pass: string };
}

export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const specs: NodeSpec[] = [0, 1].map((i) => ({
    name: `local-${'ab'[i]}`,
    clientPort: ports[i * 3],
    clusterPort: ports[i * 3 + 1],
    httpPort: ports[i * 3 + 2],
    routes: [ports[(1 - i) * 3 + 1]],
    includes: options.includes,
    tls: options.tls,
    routeAuth: options.routeAuth,
  }));
  const env = { ...process.env, ...options.env };
  const nodes = await Promise.all(specs.map((s) => startNode(s, undefined, env)));
  await Promise.all(nodes.map((n) => waitForRoutes(n.httpPort, 1)));
  return {
    nodes,
    servers: nodes.map((n) => (options.tls ? n.clientUrl.replace('nats://', 'tls://') : n.clientUrl)),
    clusterPorts: specs.map((s) => s.clusterPort),
    async restart(index) {
      nodes[index] = await startNode(specs[index], path.dirname(nodes[index].confPath), env);
      await waitForRoutes(nodes[index].httpPort, 1);
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    },
  };
}

export interface LocalProcess {
  child: ChildProcess;
  /** Everything the process wrote (its JSON logs). */
  logs(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export const READY = { worker: '"msg":"worker ready"', gateway: '"msg":"gateway ready"', http: '"msg":"http gateway ready"', agent: '"msg":"agent ready"', dashboard: '"msg":"dashboard ready"', ctl: '', cli: '' } as const;

/** Start a DIPS executable against some NATS servers and wait for its ready line. */
export async function startLocalProcess(
  role: Role, servers: string[], env: Record<string, string> = {}, readyText: string = READY[role],
  /** A command that runs it elsewhere (a test's network namespace). */
  prefix?: string[],
): Promise<LocalProcess> {
  const child = spawnRole(role, {
    stdio: 'pipe',
    prefix,
    // every part on this one machine: an agent here is not a guest of anything (a test or bench asks for guest mode itself)
    env: { DIPS_NATS_SERVERS: servers.join(','), DIPS_LOG_LEVEL: 'info', DIPS_CONFIG: '', DIPS_AGENT_MODE: 'dedicated', ...env },
  });
  let logs = '';
  const keep = (d: Buffer) => {
    logs = (logs + d.toString()).slice(-1_000_000);
  };
  child.stderr?.on('data', keep);
  child.stdout?.on('data', keep);
  const proc: LocalProcess = { child, logs: () => logs, stop: (signal = 'SIGTERM') => stopChild(child, signal, 10_000) };
  const deadline = Date.now() + 15_000;
  while (!logs.includes(readyText) && child.exitCode === null) {
    if (Date.now() > deadline) {
      await proc.stop('SIGKILL');
      throw new Error(`${role} was not ready within 15 s: ${logs}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  if (child.exitCode !== null) throw new Error(`${role} exited with ${child.exitCode}: ${logs}`);
  return proc;
}
