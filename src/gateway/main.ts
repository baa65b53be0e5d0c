#!/usr/bin/env node
/** dips-gateway: the Gearman protocol in front of the NATS mesh. */
import { Command } from 'commander';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/log.js';
import { connectNats } from '../mesh/nats.js';
import { addressOverrides, announceReady, listenOrExit, onShutdown, parseArgs, runMain, version } from '../shared/process.js';
import { createRegistry, natsReadiness, serveMetrics } from '../shared/metrics.js';
import { Gateway } from './server.js';

const program = new Command('dips-gateway')
  .description('Speak the Gearman protocol (clients and gearadmin) on a TCP port and run the jobs on the DIPS NATS mesh')
  .version(version)
  .option('-c, --config <file>', 'configuration file (also DIPS_CONFIG)')
  .option('-p, --port <port>', 'listen port (default: gateway.port)')
  .option('-H, --host <host>', 'listen address (default: gateway.host)')
  .addHelpText('after', '\nExit codes: 0 stopped by SIGTERM/SIGINT, 69 the port is taken, 70 crashed, 78 bad configuration.');
parseArgs(program);

runMain(async () => {
  const config = loadConfig({ overrides: addressOverrides('gateway', program.opts<{ port?: string; host?: string }>()) });
  const log = createLogger('gateway', config.log.level, config.log.format);
  const nc = await connectNats(config, { name: `dips-gateway-${process.pid}`, log });
  const registry = createRegistry('gateway');
  const gateway = new Gateway(nc, config, log, registry);
  const port = await listenOrExit(() => gateway.listen(), config.gateway, log);
  onShutdown(async (signal) => {
    log.info({ signal }, 'stopping: finishing foreground jobs');
    await gateway.close();
    log.info('stopped');
  });
  if (config.gateway.metricsPort) {
    await serveMetrics(config.gateway.metricsPort, config.gateway.host, () => registry.metrics(), registry.contentType, log, natsReadiness(nc, () => gateway.readiness()));
  }
  log.info({ host: config.gateway.host, port, metricsPort: config.gateway.metricsPort }, 'gateway ready');
  announceReady();
});
