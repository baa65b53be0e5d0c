/**
 * Running the real nats-server: finding the binary, writing a node's config
 * (always including config/nats-common.conf, so limits live in one place),
 * starting it and waiting until it takes clients and has its cluster route.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../shared/config.js';
import { ensurePackages } from './debian.js';

export const COMMON_CONF = path.join(projectRoot, 'config', 'nats-common.conf');

export class NatsServerMissing extends Error {
  override name = 'NatsServerMissing';
}

/** Path of nats-server, or an error that says how to get it. */
export function findNatsServer(): string {
  const named = process.env.DIPS_NATS_SERVER_BIN;
  const candidates = named ? [named] : ['nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server'];
  for (const bin of candidates) {
    const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0) return bin;
  }
  throw new NatsServerMissing(named ? `DIPS_NATS_SERVER_BIN=${named} does not run` : 'nats-server is not installed. On Debian: sudo apt-get install -y nats-server (or set DIPS_NATS_SERVER_BIN)');
}

/** Install nats-server when we are root on Debian; otherwise explain (exit 69). An explicit DIPS_NATS_SERVER_BIN is never second-guessed. */
export function ensureNatsServer(log: (line: string) => void): string {
  if (!process.env.DIPS_NATS_SERVER_BIN) {
    try {
      ensurePackages([{ pkg: 'nats-server', present: () => { try { findNatsServer(); return true; } catch { return false; } } }], log);
    } catch (err) {
      throw new NatsServerMissing((err as Error).message);
    }
  }
  return findNatsServer();
}

export interface NodeSpec {
  name: string;
  host?: string;
  clientPort: number;
  clusterPort: number;
  httpPort: number;
  /** Cluster ports of the other nodes (on `host`), or their full nats-route:// URLs. */
  routes: Array<number | string>;
  /** Address the cluster port listens on (default: host). */
  clusterHost?: string;
  /** A command that runs nats-server, e.g. `ip netns exec <host>` for a node on a test's other machine. */
  prefix?: string[];
  /** Extra configuration files to include (absolute paths; e.g. config/nats-auth.conf). */
  includes?: string[];
  /** TLS for clients and routes: PEM files (the certificate must name the host). */
  tls?: { cert: string; key: string; ca: string };
  /**
   * The cluster route's user and password: the node refuses a route that does
   * not present them, and presents them on its own routes (in their URLs, the
   * only place nats-server 2.9 takes them from for an outgoing route).
   */
  routeAuth?: { user: string; pass: string };
}

/** Config text for a node whose file will live in `dir` (nats-server resolves includes relative to it). */
export function nodeConfig(spec: NodeSpec, dir: string): string {
  const host = spec.host ?? '127.0.0.1';
  const tls = spec.tls
    ? `tls { cert_file: ${JSON.stringify(spec.tls.cert)}, key_file: ${JSON.stringify(spec.tls.key)}, ca_file: ${JSON.stringify(spec.tls.ca)}, timeout: 2 }`
    : '';
  const auth = spec.routeAuth;
  const credentials = auth ? `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.pass)}@` : '';
  return [
    `server_name: ${spec.name}`,
    `include ${JSON.stringify(path.relative(dir, COMMON_CONF))}`,
    `host: ${host}`,
    `port: ${spec.clientPort}`,
    `http: ${host}:${spec.httpPort}`,
    'cluster {',
    '  name: dips',
    `  host: ${spec.clusterHost ?? host}`,
    `  port: ${spec.clusterPort}`,
    `  routes: [ ${spec.routes.map((p) => (typeof p === 'string' ? p : `nats-route://${credentials}${host}:${p}`)).join(', ')} ]`,
    // written into a file in a private temporary folder (mkdtemp: 0700), like the route URLs that must carry it anyway
    auth ? `  authorization { user: ${JSON.stringify(auth.user)}, password: ${JSON.stringify(auth.pass)}, timeout: 2 }` : '',
    `  ${tls}`,
    '}',
    tls,
    ...(spec.includes ?? []).map((file) => `include ${JSON.stringify(path.relative(dir, file))}`),
  ].join('\n');
}

export interface RunningNode {
  name: string;
  clientUrl: string;
  httpPort: number;
  process: ChildProcess;
  confPath: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Start nats-server on a config file and wait until its client port answers. `env` carries the secure config's passwords. */
export async function startNatsServer(
  name: string, confPath: string, clientPort: number, httpPort: number, host = '127.0.0.1', env: NodeJS.ProcessEnv = process.env,
  /** Own process group: a terminal's Ctrl-C then reaches the launcher and workers (which drain through NATS), not NATS; the launcher stops it last. */
  detached = false,
  prefix: string[] = [],
): Promise<RunningNode> {
  const [bin, ...args] = [...prefix, findNatsServer(), '-c', confPath];
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], env, detached });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const node: RunningNode = {
    name,
    clientUrl: `nats://${host}:${clientPort}`,
    httpPort,
    process: child,
    confPath,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  const deadline = Date.now() + 10_000;
  while (!(await portOpen(host, clientPort))) {
    if (child.exitCode !== null) throw new Error(`nats-server ${name} exited (${child.exitCode}): ${stderr.trim()}`);
    if (Date.now() > deadline) {
      await node.stop('SIGKILL');
      throw new Error(`nats-server ${name} did not open port ${clientPort} within 10 s: ${stderr.trim()}`);
    }
    await sleep(25);
  }
  return node;
}

/** Write a node config into a temporary folder and start it. */
export async function startNode(spec: NodeSpec, dir = mkdtempSync(path.join(os.tmpdir(), 'dips-nats-')), env: NodeJS.ProcessEnv = process.env): Promise<RunningNode> {
  const confPath = path.join(dir, `${spec.name}.conf`);
  writeFileSync(confPath, nodeConfig(spec, dir));
  return startNatsServer(spec.name, confPath, spec.clientPort, spec.httpPort, spec.host, env, false, spec.prefix);
}

/** Resolves when the node's monitoring endpoint reports at least `routes` routes. */
export async function waitForRoutes(httpPort: number, routes: number, timeoutMs = 10_000, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`http://${host}:${httpPort}/routez`);
      const body = (await res.json()) as { num_routes?: number };
      if ((body.num_routes ?? 0) >= routes) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`NATS on monitoring port ${httpPort} has no cluster route after ${timeoutMs} ms`);
    await sleep(50);
  }
}

export function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A port nothing listens on right now, chosen below the kernel's ephemeral
 * range (32768-60999 on Linux): a port from that range (what listen(0) hands
 * out) can be taken as the source port of any outgoing connection between
 * the moment we pick it and the moment a server binds it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (usedPorts.has(port)) continue;
    usedPorts.add(port); // claimed before the check, so concurrent callers never get the same one
    if (await canListen(port)) return port;
  }
  throw new Error('no free port found between 20000 and 32000');
}

/** Ports this process has handed out already: never hand one out twice. */
const usedPorts = new Set<number>();

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
