/**
 * The dashboard's HTTP side (fastify, as dips-http): the page and its assets
 * (uPlot from node_modules: no CDN, no build step), the live fleet as
 * server-sent events, 15 minutes of history, and the controls — each a
 * dips.control broadcast whose per-node result comes back in dipsctl's words.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { NatsConnection } from 'nats';
import { projectRoot } from '../../shared/config.js';
import { sameSecret } from '../../shared/secret-compare.js';
import type { ControlRequest, Verb } from '../../shared/control.js';
import type { Logger } from '../../shared/log.js';
import { broadcast } from '../broadcast.js';
import { doneLines, judge, statusTable } from '../report.js';
import type { FleetWatcher } from './fleet.js';

export interface DashboardOptions {
  nc: NatsConnection;
  fleet: FleetWatcher;
  log: Logger;
  token: string;
  controlTimeoutMs: number;
}

/** Verbs the page may send, and whether they change the fleet (those are marked on the charts). */
const VERBS: Record<string, boolean> = { status: false, ping: false, pause: true, resume: true, scale: true, reload: true, drain: true, stop: true, start: true };
const COOKIE = 'dips_dashboard';

const PAGE_DIR = path.join(projectRoot, 'src', 'control', 'dashboard', 'page');
const require = createRequire(import.meta.url);
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: path.join(PAGE_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { file: path.join(PAGE_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: path.join(PAGE_DIR, 'style.css'), type: 'text/css; charset=utf-8' },
  '/vendor/uPlot.js': { file: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/vendor/uPlot.css': { file: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

export function buildDashboard(options: DashboardOptions): FastifyInstance {
  const { nc, fleet, token } = options;
  // requests are not logged one by one (the page polls); controls are logged below
  const app = Fastify({ loggerInstance: options.log.child({}, { level: 'warn' }) as FastifyBaseLogger });

  app.addHook('onRequest', async (request, reply) => {
    if (!token || request.url === '/healthz') return;
    const query = new URL(request.url, 'http://x').searchParams.get('token');
    if (query !== null && sameSecret(query, token)) {
      // once from the link npm start prints, then a cookie for this browser
      return reply.header('Set-Cookie', `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`).redirect('/');
    }
    const bearer = request.headers.authorization?.replace(/^Bearer\s+/i, '');
    const cookie = /(?:^|;\s*)dips_dashboard=([^;]+)/.exec(request.headers.cookie ?? '')?.[1];
    if ((bearer && sameSecret(bearer, token)) || (cookie && sameSecret(decodeURIComponent(cookie), token))) return;
    return reply.code(401).type('text/plain').send('the dashboard needs its token: open the URL with ?token=… (dashboard.token)\n');
  });

  for (const [url, asset] of Object.entries(ASSETS)) {
    const body = readFileSync(asset.file);
    app.get(url, async (_request, reply) => reply.type(asset.type).header('Cache-Control', 'no-cache').send(body));
  }
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/api/history', async () => ({ samples: fleet.samples, markers: fleet.markers, latest: fleet.latest }));

  app.get('/events', (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    const send = () => reply.raw.write(`data: ${JSON.stringify({ snapshot: fleet.latest, markers: fleet.markers.slice(-50) })}\n\n`);
    if (fleet.latest) send();
    fleet.on('snapshot', send);
    request.raw.once('close', () => fleet.off('snapshot', send));
  });

  app.post('/api/control/:verb', async (request: FastifyRequest<{ Params: { verb: string }; Body: ControlRequest | undefined }>, reply) => {
    const verb = request.params.verb;
    if (!(verb in VERBS)) return reply.code(400).send({ error: `unknown verb ${verb}; one of ${Object.keys(VERBS).join(', ')}` });
    const body = request.body ?? {};
    const control: ControlRequest = {
      nodes: Array.isArray(body.nodes) ? body.nodes.map(String) : undefined,
      functions: Array.isArray(body.functions) ? body.functions.map(String) : undefined,
      workers: body.workers === undefined ? undefined : Number(body.workers),
      waitMs: body.waitMs === undefined ? undefined : Number(body.waitMs),
    };
    if (verb === 'scale' && !(Number.isInteger(control.workers) && control.workers! >= 0)) return reply.code(400).send({ error: 'scale needs workers: a whole number of worker processes' });
    const scope = `${control.functions?.length ? ` ${control.functions.join(',')}` : ''}${control.nodes?.length ? ` on ${control.nodes.join(',')}` : ' fleet-wide'}${verb === 'scale' ? ` to ${control.workers}` : ''}`;
    if (VERBS[verb]) fleet.mark(`${verb}${scope} (dashboard)`);
    options.log.info({ verb, request: control }, 'dashboard control');
    const result = await broadcast(nc, verb as Verb, control, options.controlTimeoutMs);
    const outcome = judge(result);
    const lines = verb === 'status' ? [statusTable(result.replies)] : doneLines(result.replies);
    return { verb, ...result, exitCode: outcome.exitCode, text: [`dipsctl ${verb}${scope}`, ...lines, ...outcome.problems].join('\n') };
  });

  return app;
}

