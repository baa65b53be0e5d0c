#!/usr/bin/env node
/**
 * `npm start`: the whole mesh on one machine — NATS nodes A and B from
 * config/nats-{a,b}.conf, a node agent running worker processes for every
 * function, two Gearman gateways, the HTTP gateway and the dashboard. Ctrl-C or SIGTERM stops it all, workers first so they drain, NATS
 * last, with no orphan nats-server.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Command } from 'commander';
import { loadConfig, projectRoot, type DipsConfig } from '../shared/config.js';
import { connectNats } from '../mesh/nats.js';
import { SERVICE_NAME } from '../mesh/subjects.js';
import { ExitCode, onShutdown, parseArgs, runMain, version } from '../shared/process.js';
import { ensureNatsServer, freePort, portOpen, sleep, startNatsServer, waitForRoutes, type RunningNode } from './nats-node.js';
import { identityEnv, makePasswords, routeUrl, type Identity } from './secure.js';
import { spawnRole, stopChild, type Role } from './spawn.js';
import { writePrivateFile } from '../shared/private-file.js';
import { generateKeys } from './release/keys.js';

const program = new Command('dips-mesh')
  .description('Start a whole DIPS mesh locally: two NATS nodes, workers and Gearman gateways')
  .version(version)
  .option('-c, --config <file>', 'configuration file (also DIPS_CONFIG)')
  .option('-w, --workers <n>', 'worker processes (default: worker.processes, 0 = one per CPU)')
  .option('--no-gateway', 'do not start the Gearman gateways')
  .option('--no-http', 'do not start the HTTP gateway')
  .option('--no-dashboard', 'do not start the dashboard')
  .option('--secure', 'NATS with users and subject permissions (config/nats-secure-{a,b}.conf); passwords made for this run')
  .addHelpText('after', '\nExit codes: 0 stopped by signal, 69 a port is taken or nats-server is missing, 78 bad configuration.');
parseArgs(program);

const GATEWAY_METRICS_PORTS = [9465, 9466];
/** Pause before a dead gateway or agent is started again (systemd's RestartSec in the units). */
const RESTART_DELAY_MS = 1000;

const NODES = [
  { name: 'dips-a', conf: 'nats-a.conf', clientPort: 4222, clusterPort: 6222, httpPort: 8222 },
  { name: 'dips-b', conf: 'nats-b.conf', clientPort: 4223, clusterPort: 6223, httpPort: 8223 },
];

interface Managed {
  role: Role;
  label: string;
  child: ChildProcess;
}

runMain(async () => {
  const opts = program.opts<{ workers?: string; gateway: boolean; http: boolean; dashboard: boolean; secure?: boolean }>();
  const passwords = opts.secure ? makePasswords() : undefined;
  const identity = (id: Identity): Record<string, string> => (passwords ? identityEnv(id, passwords) : {});
  const config = loadConfig();
  const say = (line: string) => process.stdout.write(`${line}\n`);

  ensureNatsServer(say);
  const gatewayPorts = opts.gateway ? [config.gateway.port, config.gateway.secondPort].filter((p) => p > 0) : [];
  for (const port of [...NODES.map((n) => n.clientPort), ...gatewayPorts]) {
    if (await portOpen('127.0.0.1', port)) {
      say(`port ${port} is already in use: is another DIPS mesh or NATS server running?`);
      return ExitCode.unavailable;
    }
  }

  const nodes: RunningNode[] = [];
  const children: Managed[] = [];
  let stopping = false;
  onShutdown(async () => {
    stopping = true;
    say('stopping: gateways and workers drain first, then NATS');
    await Promise.all(children.map((c) => stopChild(c.child)));
    await Promise.all(nodes.map((n) => n.stop()));
    say('stopped');
  });

  for (const n of NODES) {
    const conf = path.join(projectRoot, 'config', opts.secure ? n.conf.replace('nats-', 'nats-secure-') : n.conf);
    // the secure configs route to the other node by $DIPS_NATS_ROUTE_URL: the URL must carry the route password
    const other = NODES.find((o) => o !== n)!;
    const route = passwords ? { DIPS_NATS_ROUTE_URL: routeUrl('127.0.0.1', other.clusterPort, passwords) } : {};
    nodes.push(await startNatsServer(n.name, conf, n.clientPort, n.httpPort, '127.0.0.1', { ...process.env, ...passwords, ...route }, true));
  }
  await waitForRoutes(NODES[0].httpPort, 1);

  const workerCount = Number(opts.workers ?? config.worker.processes) || os.availableParallelism();
  /** Run a child and bring it back when it dies, as systemd's Restart=always does in production. */
  const start = (role: Role, label: string, env: Record<string, string> = {}) => {
    const managed: Managed = { role, label, child: spawnRole(role, { env, stdio: 'inherit' }) };
    children.push(managed);
    const watch = () =>
      managed.child.once('exit', (code, signal) => {
        if (stopping) return;
        say(`${label} exited (${signal ?? code}); starting it again in ${RESTART_DELAY_MS} ms`);
        setTimeout(() => {
          if (stopping) return;
          managed.child = spawnRole(role, { env, stdio: 'inherit' });
          watch();
        }, RESTART_DELAY_MS);
      });
    watch();
  };
  const deploy = deployKeys(config);
  // the whole mesh on one machine: its workers are not guests of anything here (DIPS_AGENT_MODE=guest to try guest mode)
  start('agent', 'node agent', {
    DIPS_WORKER_PROCESSES: String(workerCount), DIPS_AGENT_NODE: 'local', DIPS_AGENT_MODE: process.env.DIPS_AGENT_MODE ?? 'dedicated',
    ...(deploy ? { DIPS_DEPLOY_PUBLIC_KEYS: deploy.publicFile } : {}), ...identity('agent'),
  });
  gatewayPorts.forEach((port, i) => start('gateway', `gateway :${port}`, { DIPS_GATEWAY_PORT: String(port), DIPS_GATEWAY_METRICS_PORT: String(GATEWAY_METRICS_PORTS[i]), ...identity('gateway') }));
  const web = opts.http ? await prepareHttpGateway(config) : undefined;
  if (web) start('http', `http gateway :${web.port}`, { ...web.env, ...identity('gateway') });
  // the dashboard watches and steers the fleet: the operator's identity
  const dashboardPort = opts.dashboard ? await portOrFree(config.dashboard.port) : 0;
  if (dashboardPort) {
    start('dashboard', `dashboard :${dashboardPort}`, {
      DIPS_DASHBOARD_PORT: String(dashboardPort),
      DIPS_DASHBOARD_NATS_MONITOR_URLS: NODES.map((n) => `http://127.0.0.1:${n.httpPort}`).join(','),
      ...identity('admin'),
    });
  }
  if (passwords) {
    // credentials for the operator's shell: dipsctl as admin, dips call as a caller (files only root can read)
    const dir = path.join(projectRoot, 'run');
    mkdirSync(dir, { recursive: true });
    const envFile = (id: Identity) => Object.entries(identityEnv(id, passwords)).map(([k, v]) => `export ${k}=${v}`).join('\n') + '\n';
    writePrivateFile(path.join(dir, 'admin.env'), envFile('admin'));
    writePrivateFile(path.join(dir, 'caller.env'), envFile('caller'));
  }

  await waitUntilServing(config, workerCount, [...gatewayPorts, ...(web ? [web.port] : []), ...(dashboardPort ? [dashboardPort] : [])], passwords ? identityEnv('admin', passwords) : {});
  say('');
  say('DIPS mesh is up:');
  for (const n of NODES) say(`  NATS ${n.name.padEnd(8)} nats://127.0.0.1:${n.clientPort}  monitoring http://127.0.0.1:${n.httpPort}`);
  say(`  agent          node "local", ${workerCount} worker processes serving every function; metrics http://127.0.0.1:${config.agent.metricsPort}/metrics`);
  gatewayPorts.forEach((port, i) => say(`  gateway        gearman://${config.gateway.host}:${port}  metrics http://127.0.0.1:${GATEWAY_METRICS_PORTS[i]}/metrics`));
  if (web) {
    say(`  http           ${web.env.DIPS_HTTP_PUBLIC_URL}  signed image URLs (README "HTTP front door"); /metrics /readyz`);
    if (web.madeKey) say('                 key and salt made for this run, in run/http.env; a sample image in run/samples:');
    say(`                 ${web.madeKey ? '. run/http.env && ' : ''}curl -o thumb.webp "$(npx dips url thumbnail width=200 format=webp --source local:samples/sample.jpg)"`);
  }
  if (dashboardPort) say(`  dashboard      http://127.0.0.1:${dashboardPort}/  the fleet live, with pause/resume, scale, reload, drain`);
  say('  control:       npx dipsctl status | pause | resume | scale --workers N | reload | drain | stop | start | watch');
  if (deploy) say(`  deploy:        npx dipsctl deploy <bundle folder> --key ${path.relative(process.cwd(), deploy.privateFile)}   (your own functions: docs/functions.md)`);
  if (passwords) {
    say('  secure:        NATS users and permissions (config/nats-auth.conf); credentials for this run:');
    say('                 . run/admin.env  && npx dipsctl status');
    say('                 . run/caller.env && npx dips call ecard pSN=1234567890 pData="$(seq -s, 10 89)" --out card.png');
  } else say('  try:           npx dips call ecard pSN=1234567890 pData="$(seq -s, 10 89)" --out card.png');
  say('Ctrl-C stops everything.');
  await new Promise(() => undefined); // run until a signal
});

/**
 * The HTTP gateway's port (http.port, or a free one when it is taken) and
 * environment. Without a configured http.key, a key and salt are made for this
 * run and written with the URL to run/http.env (for `dips url`), and a local
 * root "samples" holds a generated photo to try URLs on.
 */
async function prepareHttpGateway(config: DipsConfig): Promise<{ port: number; env: Record<string, string>; madeKey: boolean }> {
  const port = await portOrFree(config.http.port);
  const dir = path.join(projectRoot, 'run');
  const samples = path.join(dir, 'samples');
  mkdirSync(samples, { recursive: true });
  const sample = path.join(samples, 'sample.jpg');
  if (!existsSync(sample)) await samplePhoto(sample);
  const madeKey = !config.http.key;
  const env: Record<string, string> = {
    DIPS_HTTP_PORT: String(port),
    DIPS_HTTP_PUBLIC_URL: config.http.publicUrl || `http://${config.http.host}:${port}`,
    DIPS_HTTP_LOCAL_ROOTS: JSON.stringify({ samples, ...config.http.localRoots }),
  };
  if (madeKey) {
    env.DIPS_HTTP_KEY = randomBytes(32).toString('hex');
    env.DIPS_HTTP_SALT = randomBytes(32).toString('hex');
    writePrivateFile(path.join(dir, 'http.env'), Object.entries(env).map(([k, v]) => `export ${k}='${v}'`).join('\n') + '\n');
  }
  return { port, env, madeKey };
}

/**
 * A deploy key pair for this checkout (run/deploy, made once and kept), which
 * the local agent trusts, so that `dipsctl deploy` works out of the box;
 * undefined when deploy.publicKeys is configured (the operator's own keys).
 */
function deployKeys(config: DipsConfig): { privateFile: string; publicFile: string } | undefined {
  if (config.deploy.publicKeys.length) return undefined;
  const dir = path.join(projectRoot, 'run', 'deploy');
  const privateFile = path.join(dir, 'dips-deploy.pem');
  const publicFile = path.join(dir, 'dips-deploy.pub.pem');
  if (!existsSync(privateFile) || !existsSync(publicFile)) {
    rmSync(dir, { recursive: true, force: true });
    generateKeys(dir);
  }
  return { privateFile, publicFile };
}

/** `port` when nobody listens on it, else a free one (npm start prints which). */
async function portOrFree(port: number): Promise<number> {
  return (await portOpen('127.0.0.1', port)) ? freePort() : port;
}

/** A 1600 x 1200 test photo: gradients and shapes, so crops, blurs and thumbnails show. */
async function samplePhoto(file: string): Promise<void> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1600" height="1200"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#1d4e89"/><stop offset="1" stop-color="#f4a259"/></linearGradient></defs>` +
    `<rect width="1600" height="1200" fill="url(#g)"/><circle cx="1100" cy="420" r="260" fill="#f7d08a"/><path d="M0 1200 L520 560 L900 1000 L1200 700 L1600 1200 Z" fill="#22333b"/></svg>`;
  await sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toFile(file);
}

/** Wait until every worker answers service discovery and every gateway accepts connections (at most 30 s). */
async function waitUntilServing(config: DipsConfig, workers: number, gatewayPorts: number[], credentials: Record<string, string>): Promise<void> {
  const deadline = Date.now() + 30_000;
  const nc = await connectNats(
    loadConfig({ argv: [], overrides: { nats: { user: credentials.DIPS_NATS_USER ?? config.nats.user, pass: credentials.DIPS_NATS_PASS ?? config.nats.pass, inboxPrefix: credentials.DIPS_NATS_INBOX_PREFIX ?? config.nats.inboxPrefix } } }),
    { name: 'dips-mesh-launcher' },
  );
  try {
    for (;;) {
      const pids = new Set<string>();
      try {
        for await (const m of await nc.requestMany(`$SRV.PING.${SERVICE_NAME}`, undefined, { maxWait: 300 })) pids.add(m.json<{ metadata?: { pid?: string } }>().metadata?.pid ?? '');
      } catch {
        // nobody answers yet
      }
      const gatewaysUp = (await Promise.all(gatewayPorts.map((port) => portOpen('127.0.0.1', port)))).every(Boolean);
      if ((pids.size >= workers && gatewaysUp) || Date.now() > deadline) return;
      await sleep(200);
    }
  } finally {
    await nc.close();
  }
}
