#!/usr/bin/env node
/** dips-dashboard: the fleet as a live web page, with the controls dipsctl has. */
import { Command } from 'commander';
import { loadConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/log.js';
import { connectNats } from '../../mesh/nats.js';
import { addressOverrides, announceReady, ExitCode, listenOrExit, onShutdown, parseArgs, runMain, version } from '../../shared/process.js';
import { FleetWatcher } from './fleet.js';
import { allowedHosts, buildDashboard } from './server.js';

const program = new Command('dips-dashboard')
  .description('Serve the DIPS fleet as a live web page: nodes, workers, gateways, NATS nodes, 15-minute charts, and the controls of dipsctl')
  .version(version)
  .option('-c, --config <file>', 'configuration file (also DIPS_CONFIG)')
  .option('-p, --port <port>', 'listen port (default: dashboard.port)')
  .option('-H, --host <host>', 'listen address (default: dashboard.host, 127.0.0.1)')
  .addHelpText('after', '\nExit codes: 0 stopped by SIGTERM/SIGINT, 69 the port is taken, 70 crashed, 78 bad configuration (a non-loopback host without dashboard.token).');
parseArgs(program);

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

runMain(async () => {
  const config = loadConfig({ overrides: addressOverrides('dashboard', program.opts<{ port?: string; host?: string }>()) });
  const log = createLogger('dashboard', config.log.level, config.log.format);
  if (!LOOPBACK.has(config.dashboard.host) && !config.dashboard.token) {
    process.stderr.write(`invalid configuration: dashboard.host ${config.dashboard.host} is not loopback, so dashboard.token must be set (the page can pause and reload the fleet)\n`);
    return ExitCode.config;
  }
  const nc = await connectNats(config, { name: `dips-dashboard-${process.pid}`, log });
  const fleet = new FleetWatcher(nc, config.dashboard.natsMonitorUrls, log);
  const app = buildDashboard({ nc, fleet, log, token: config.dashboard.token, controlTimeoutMs: config.control.timeoutMs, allowedHosts: allowedHosts(config.dashboard.host, config.dashboard.allowedHosts) });
  await listenOrExit(() => app.listen({ port: config.dashboard.port, host: config.dashboard.host }), config.dashboard, log);
  fleet.start();
  onShutdown(async () => {
    fleet.stop();
    await app.close();
    await nc.drain();
  });
  log.info({ host: config.dashboard.host, port: config.dashboard.port }, 'dashboard ready');
  announceReady();
});
