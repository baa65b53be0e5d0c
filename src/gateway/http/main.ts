#!/usr/bin/env node
/** dips-http: signed image URLs and POST /fn for browsers, CDNs and services without a NATS client. */
import { Command } from 'commander';
import { DipsClient } from '../../client/index.js';
import { loadConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/log.js';
import { createRegistry, natsReadiness } from '../../shared/metrics.js';
import { effectiveMaxPayload } from '../../mesh/nats.js';
import { addressOverrides, announceReady, listenOrExit, onShutdown, parseArgs, runMain, version } from '../../shared/process.js';
import { Discovery } from '../../mesh/discovery.js';
import { buildHttpGateway } from './server.js';

const program = new Command('dips-http')
  .description('Serve signed image URLs (imgproxy-style) and POST /fn/<function> over HTTP, running the work on the DIPS NATS mesh')
  .version(version)
  .option('-c, --config <file>', 'configuration file (also DIPS_CONFIG)')
  .option('-p, --port <port>', 'listen port (default: http.port)')
  .option('-H, --host <host>', 'listen address (default: http.host)')
  .addHelpText('after', `
Routes: GET|HEAD /<signature>/<operation>/.../<source>, GET /p/<preset>/<source> (http.publicPresets),
        POST /fn/<function> (http.apiKey), /healthz, /readyz, /metrics. See the README's "HTTP front door".
Exit codes: 0 stopped by SIGTERM/SIGINT (in-flight requests finish first), 69 the port is taken, 70 crashed, 78 bad configuration.`);
parseArgs(program);

/** How often the served functions are looked up for /readyz. */
const DISCOVERY_MS = 2000;

runMain(async () => {
  const config = loadConfig({ overrides: addressOverrides('http', program.opts<{ port?: string; host?: string }>()) });
  const log = createLogger('http', config.log.level, config.log.format);
  const client = new DipsClient({ config });
  const nc = await client.nats();
  const registry = createRegistry('http');

  // /readyz: every function in http.requiredFunctions has a worker somewhere
  const discovery = new Discovery(nc);
  let missing: string[] = config.http.requiredFunctions;
  const look = async () => {
    const served = await discovery.countByFunction();
    missing = config.http.requiredFunctions.filter((fn) => !served.get(fn));
  };
  await look();
  const timer = setInterval(() => void look().catch(() => undefined), DISCOVERY_MS);
  const ready = natsReadiness(nc, () => (missing.length ? `no worker serves ${missing.join(', ')}` : true));

  if (config.http.allowUnsigned) log.warn('http.allowUnsigned is on: anyone can make this mesh do any image work. Development only.');
  if (!config.http.key && !config.http.allowUnsigned && !config.http.publicPresets) log.warn('no http.key: every image URL will be refused (set http.key and http.salt)');

  const app = buildHttpGateway({ config, client, log, registry, ready, maxPayloadBytes: effectiveMaxPayload(nc, config) });
  await listenOrExit(() => app.listen({ port: config.http.port, host: config.http.host }), config.http, log);
  onShutdown(async (signal) => {
    log.info({ signal }, 'stopping: no new requests, finishing those in flight');
    clearInterval(timer);
    await app.close();
    await client.close();
    log.info('stopped');
  });
  log.info({ host: config.http.host, port: config.http.port }, 'http gateway ready');
  announceReady();
});
