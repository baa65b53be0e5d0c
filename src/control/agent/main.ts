#!/usr/bin/env node
/**
 * dips-agent: one per machine. Runs this node's worker processes, restarts
 * crashed ones, obeys dips.control.<verb> broadcasts meant for this node, and
 * serves Prometheus metrics for itself and its workers.
 */
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { Counter, Gauge } from 'prom-client';
import { loadConfig, projectRoot } from '../../shared/config.js';
import { controlRequestProblem, targets, VERBS, type ControlRequest, type Verb } from '../../shared/control.js';
import { createLogger } from '../../shared/log.js';
import { createRegistry, natsMetrics, natsReadiness, nodeMetrics, serveMetrics, type MetricsJSON } from '../../shared/metrics.js';
import { connectNats } from '../../mesh/nats.js';
import { announceReady, onShutdown, parseArgs, runMain, version } from '../../shared/process.js';
import { CONTROL_PREFIX } from '../../mesh/subjects.js';
import { repliesToInbox } from '../../mesh/replies.js';
import { NodeState } from './commands.js';
import { Supervisor } from './supervisor.js';
import { cpuPressure, guestLaunchPrefix, GuestMonitor } from './guest.js';
import { Releases } from './releases.js';
import { loadTrustedKeys } from '../release/keys.js';

const program = new Command('dips-agent')
  .description('Run and supervise this node\'s DIPS worker processes; obey dips.control.* broadcasts')
  .version(version)
  .option('-c, --config <file>', 'configuration file (also DIPS_CONFIG)')
  .option('-w, --workers <n>', 'worker processes (default: worker.processes, 0 = one per CPU)')
  .option('-n, --node <name>', 'node name (default: agent.node, or the host name)')
  .addHelpText('after', '\nExit codes: 0 stopped by SIGTERM/SIGINT (workers drained first), 70 crashed, 78 bad configuration.');
parseArgs(program);

runMain(async () => {
  const opts = program.opts<{ workers?: string; node?: string }>();
  const config = loadConfig();
  const node = opts.node || config.agent.node || os.hostname();
  const log = createLogger('agent', config.log.level, config.log.format).child({ node });
  const workerCount = Number(opts.workers ?? config.worker.processes) || os.availableParallelism();

  const registry = createRegistry('agent');
  const restarts = new Counter({ name: 'dips_agent_worker_restarts_total', help: 'Crashed workers restarted', registers: [registry] });
  const state: { node?: NodeState; guest?: GuestMonitor } = {};
  const guest = config.agent.mode === 'guest';
  const launchPrefix = guest ? guestLaunchPrefix() : [];
  if (guest && launchPrefix.length === 0) log.warn('guest mode without chrt, ionice or nice on this machine: workers run at normal priority (apt-get install util-linux coreutils)');
  const supervisor = new Supervisor({
    // in the secure setup workers have an identity of their own, not the agent's
    env: config.agent.workerUser ? { DIPS_NATS_USER: config.agent.workerUser, DIPS_NATS_PASS: config.agent.workerPass, DIPS_NATS_INBOX_PREFIX: '_INBOX' } : {},
    restartMinMs: config.agent.restartMinMs,
    restartMaxMs: config.agent.restartMaxMs,
    log,
    paused: () => [...(state.node?.paused ?? [])],
    onRestart: () => restarts.inc(),
    launchPrefix,
    // a worker that starts while the host is busy offers only the share the others do
    onReady: () => state.guest && state.guest.current.share < 1 && void supervisor.ask('share', undefined, state.guest.current.share),
  });
  if (guest) {
    state.guest = new GuestMonitor(() => supervisor.pids, config.agent.guestHostCpuMax, (share) => {
      const { hostCpu, pressure } = state.guest!.current;
      log.info({ share, hostCpu, pressure }, share === 0 ? 'guest: the host needs its CPUs; workers take no new job' : 'guest: workers offer a share of their slots');
      void supervisor.ask('share', undefined, share);
    });
    state.guest.start();
  }
  const { deploy } = config;
  const releases = new Releases({
    dir: deploy.dir || path.join(projectRoot, 'run', `agent-${node}`, 'releases'),
    node,
    trusted: loadTrustedKeys(deploy.publicKeys),
    limits: { maxBundleBytes: deploy.maxBundleBytes, maxUnpackedBytes: deploy.maxUnpackedBytes, maxFiles: deploy.maxFiles },
    keep: deploy.keepReleases,
    readyTimeoutMs: deploy.readyTimeoutMs,
    supervisor,
    log,
  });
  // the first workers start on the release in force here; a newer one the peers run follows as a rolling deploy
  supervisor.useBundle(releases.load());
  const nodeState = new NodeState(node, supervisor, workerCount, () => state.guest?.current ?? { mode: 'dedicated', hostCpu: null, pressure: cpuPressure(), share: 1 }, releases);
  state.node = nodeState;
  new Gauge({
    name: 'dips_agent_workers',
    help: 'Worker processes running',
    registers: [registry],
    async collect() {
      this.set((await supervisor.rows()).filter((r) => r.state === 'running').length);
    },
  });

  const nc = await connectNats(config, { name: `dips-agent-${node}`, log });
  const recentIds: string[] = [];
  /** Whether this broadcast was acted on already: a message may arrive twice (a cut can leave an old connection half-open), a reload or deploy must not run twice. */
  const heardBefore = (id: unknown): boolean => {
    if (typeof id !== 'string') return false;
    if (recentIds.includes(id)) return true;
    if (recentIds.push(id) > 256) recentIds.shift();
    return false;
  };
  const sub = nc.subscribe(`${CONTROL_PREFIX}*`, {
    callback: (err, msg) => {
      // A control message is a request from an operator's tool (broadcast.ts), answered to its inbox. A message with
      // no reply subject, or one elsewhere, is not one: it is how a responder's answer reflected onto
      // dips.control.* would arrive (see repliesToInbox), and the fleet must not obey it.
      if (err || !repliesToInbox(msg, log)) return;
      const verb = msg.subject.slice(CONTROL_PREFIX.length) as Verb;
      let request: ControlRequest = {};
      try {
        request = msg.data.length ? (msg.json() as ControlRequest) : {};
      } catch {
        msg.respond(JSON.stringify(nodeState.error('control message is not JSON')));
        return;
      }
      // nats.js runs this callback without a guard: a throw on an odd message (null, {"nodes": 5}) would end the
      // subscription and leave the agent deaf to every later broadcast
      const problem = controlRequestProblem(request);
      if (problem) {
        msg.respond(JSON.stringify(nodeState.error(problem)));
        return;
      }
      if (!targets(request, node) || heardBefore(request.id)) return;
      if (!(VERBS as readonly string[]).includes(verb)) {
        msg.respond(JSON.stringify(nodeState.error(`unknown verb ${verb}; known: ${VERBS.join(', ')}`)));
        return;
      }
      // reads (the dashboard asks every second) at debug; what changes the node at info
      const level = verb === 'status' || verb === 'ping' ? 'debug' : 'info';
      log[level]({ verb, request }, 'control message');
      nodeState.handle(verb, request).then(
        (reply) => msg.respond(JSON.stringify(reply)),
        (e: Error) => msg.respond(JSON.stringify(nodeState.error(e.message))),
      );
    },
  });

  if (config.agent.metricsPort) {
    natsMetrics(registry, nc);
    await serveMetrics(
      config.agent.metricsPort,
      '0.0.0.0',
      async () => {
        const own = await registry.getMetricsAsJSON();
        const workers = (await supervisor.ask('metrics')).flatMap((a) => (a.reply?.ok ? [{ pid: a.pid, metrics: a.reply.result as MetricsJSON }] : []));
        return nodeMetrics(own, workers).metrics();
      },
      registry.contentType,
      log,
      natsReadiness(nc, () => (supervisor.runningCount > 0 || supervisor.desiredCount === 0 ? true : 'no worker process running')),
    );
  }

  releases.attach(nc);
  const syncTimer = deploy.syncIntervalMs > 0 ? setInterval(() => void releases.sync(), deploy.syncIntervalMs) : undefined;
  // back from a cut: a deploy may have gone by meanwhile
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'reconnect') void releases.sync();
  })();

  onShutdown(async (signal) => {
    log.info({ signal }, 'stopping: draining workers');
    clearInterval(syncTimer);
    sub.unsubscribe();
    await supervisor.stopAll();
    await nc.drain();
  });
  await supervisor.scale(workerCount);
  log.info({ workers: workerCount, metricsPort: config.agent.metricsPort }, 'agent ready');
  announceReady();
  await releases.sync();
});
