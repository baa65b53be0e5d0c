#!/usr/bin/env node
/** dips-worker: one worker process serving image functions on the mesh. */
import { Command } from 'commander';
import { loadConfig, workerConcurrency } from '../shared/config.js';
import { createLogger } from '../shared/log.js';
import { connectNats } from '../mesh/nats.js';
import { onShutdown, parseArgs, runMain, version } from '../shared/process.js';
import { startTracing } from '../shared/tracing.js';
import sharp from 'sharp';
import { allFunctions, selectFunctions } from './functions/index.js';
import { loadBundle } from './bundle.js';
import { createRegistry, natsReadiness, serveMetrics } from '../shared/metrics.js';
import { serveAgent } from './ipc.js';
import { workerMetrics } from './metrics.js';
import { Worker } from './runtime.js';

const program = new Command('dips-worker')
  .description('Serve DIPS functions on NATS (subject dips.fn.<function>, queue group <function>).')
  .version(version)
  .option('-c, --config <file>', 'configuration file (also DIPS_CONFIG)')
  .option('-f, --functions <list>', 'comma-separated functions to serve (default: worker.functions, or all)')
  .option('--concurrency <n>', 'jobs run at once (default: worker.concurrency)')
  .addHelpText('after', () => `\nFunctions: ${allFunctions(loadConfig({ argv: [] })).map((f) => f.name).join(', ')}\n\nFunctions of a bundle (worker.bundleDir, DIPS_WORKER_BUNDLE_DIR): see docs/functions.md.\n\nExit codes: 0 drained after SIGTERM/SIGINT, 70 crashed, 78 bad configuration or bad bundle.`);
parseArgs(program);

runMain(async () => {
  const opts = program.opts<{ functions?: string; concurrency?: string }>();
  const overrides: Record<string, unknown> = {};
  if (opts.functions) overrides.worker = { functions: opts.functions.split(',').map((s) => s.trim()) };
  if (opts.concurrency) overrides.worker = { ...(overrides.worker as object), concurrency: Number(opts.concurrency) };
  const config = loadConfig({ overrides });
  const log = createLogger('worker', config.log.level, config.log.format);
  await startTracing(config, 'worker', log);
  const builtins = allFunctions(config);
  // the bundle is imported and checked before anything connects: a bad one exits 78 without taking a job
  const bundle = config.worker.bundleDir ? await loadBundle(config.worker.bundleDir, builtins.map((f) => f.name)) : undefined;
  const functions = selectFunctions(config, bundle?.functions);
  if (config.images.threadsPerJob > 0) sharp.concurrency(config.images.threadsPerJob);
  const nc = await connectNats(config, { name: `dips-worker-${process.pid}`, log });
  const registry = createRegistry('worker');
  const worker: Worker = new Worker(nc, functions, {
    concurrency: workerConcurrency(config),
    maxQueued: config.worker.maxQueued,
    prefetchMs: config.worker.prefetchMs,
    defaultDeadlineMs: config.worker.defaultDeadlineMs,
    maxWaitingBytes: config.worker.maxWaitingBytes,
    latencyWindowMs: config.worker.latencyWindowSec * 1000,
    version,
    log,
    metrics: workerMetrics(registry, { inFlight: () => worker.inFlight, queued: () => worker.queued }),
  });
  onShutdown(async (signal) => {
    log.info({ signal, inFlight: worker.inFlight, queued: worker.queued }, 'draining');
    await worker.drain();
    log.info('drained, exiting');
  });
  // an agent starting us while some functions are paused says which
  await worker.start(new Set((process.env.DIPS_WORKER_PAUSED ?? '').split(',').filter(Boolean)));
  if (config.worker.metricsPort) await serveMetrics(config.worker.metricsPort, '0.0.0.0', () => registry.metrics(), registry.contentType, log, natsReadiness(nc));
  const bundleName = bundle && `${bundle.manifest.name}@${bundle.manifest.version}`;
  serveAgent(worker, registry, bundleName);
  const bundleInfo = bundle && { bundle: bundleName, bundleDir: bundle.dir };
  log.info({ functions: functions.map((f) => f.name), concurrency: workerConcurrency(config), ...bundleInfo }, 'worker ready');
});
