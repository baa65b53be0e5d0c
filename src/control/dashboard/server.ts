/**
 * The dashboard's HTTP side (fastify, as dips-http): the page and its assets
 * (uPlot from node_modules: no CDN, no build step), the live fleet as
 * server-sent events, 15 minutes of history, and the controls — each a
 * dips.control broadcast whose per-node result comes back in dipsctl's words —
 * and the gateways' dead letters and waiting stored jobs (dips.admin.*).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { NatsConnection } from 'nats';
import { projectRoot } from '../../shared/config.js';
import { sameSecret } from '../../shared/secret-compare.js';
import type { ControlRequest, Verb } from '../../shared/control.js';
import type { Logger } from '../../shared/log.js';
import { broadcast } from '../broadcast.js';
import { askGateways, askStored, deadLetterDone, deadLetterTable, judgeDeadLetters, storedTable } from '../dead-letters.js';
import { doneLines, judge, statusTable } from '../report.js';
import type { FleetWatcher } from './fleet.js';

export interface DashboardOptions {
  nc: NatsConnection;
  fleet: FleetWatcher;
  log: Logger;
  token: string;
  controlTimeoutMs: number;
  /** Host names (no port) the Host header may carry: see allowedHosts(). */
  allowedHosts: ReadonlySet<string>;
}

/** Verbs the page may send, and whether they change the fleet (those are marked on the charts). A Map: "constructor" is not a verb. */
const VERBS = new Map<string, boolean>([
  ['status', false], ['ping', false], ['pause', true], ['resume', true], ['scale', true], ['reload', true], ['drain', true], ['stop', true], ['start', true],
]);
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

/**
 * The host names the dashboard answers to: its listen address, the loopback names, and when it
 * listens on every address, this machine's addresses and name. Any other Host header is a page
 * elsewhere whose name was pointed at us (DNS rebinding), and is refused; `extra` are the names
 * an operator gives it (dashboard.allowedHosts: the name a proxy in front of it passes on).
 */
export function allowedHosts(listen: string, extra: readonly string[] = []): Set<string> {
  const hosts = new Set(['localhost', '127.0.0.1', '::1', unbracket(listen.toLowerCase()), ...extra.map((h) => h.toLowerCase())]);
  if (listen === '0.0.0.0' || listen === '::') {
    hosts.add(os.hostname().toLowerCase());
    for (const addresses of Object.values(os.networkInterfaces())) for (const a of addresses ?? []) hosts.add(a.address.toLowerCase());
  }
  return hosts;
}

const unbracket = (host: string) => host.replace(/^\[(.*)\]$/, '$1');

/** The host name of a Host header ("127.0.0.1:8090" → 127.0.0.1, "[::1]:8090" → ::1). */
function hostName(header: string): string {
  const host = header.toLowerCase();
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  return net.isIPv6(host) ? host : host.replace(/:\d*$/, '');
}

/** Reached over TLS: on this socket, or through a proxy that says so (only a proxy or a non-browser client can set the header). */
const overTls = (request: FastifyRequest) => request.protocol === 'https' || String(request.headers['x-forwarded-proto'] ?? '').split(',')[0].trim() === 'https';

const originOf = (href: string): string | undefined => {
  try {
    return new URL(href).origin;
  } catch {
    return undefined;
  }
};

/**
 * Why a state-changing request comes from another site, or undefined when it comes from the
 * page itself. Browsers send Origin with every POST, else Sec-Fetch-Site or Referer; a request
 * with none of them comes from no browser, and cross-site forgery needs one.
 */
function crossSite(request: FastifyRequest): string | undefined {
  const own = originOf(`${overTls(request) ? 'https' : 'http'}://${request.headers.host}`);
  const { origin, referer } = request.headers;
  const site = request.headers['sec-fetch-site'];
  if (origin !== undefined) return originOf(origin) === own ? undefined : `Origin ${origin} is not this dashboard's (${own})`;
  if (site !== undefined) return site === 'same-origin' || site === 'none' ? undefined : `Sec-Fetch-Site is ${site}: not sent by the dashboard's own page (origin ${own})`;
  if (referer !== undefined) return originOf(referer) === own ? undefined : `Referer ${referer} is not on this dashboard's origin (${own})`;
  return undefined;
}

/** The media type of a Content-Type header, without parameters. */
const mediaType = (header: string | undefined) => (header ?? '').split(';')[0].trim().toLowerCase();

export function buildDashboard(options: DashboardOptions): FastifyInstance {
  const { nc, fleet, token } = options;
  // requests are not logged one by one (the page polls); controls are logged below
  const app = Fastify({ loggerInstance: options.log.child({}, { level: 'warn' }) as FastifyBaseLogger });
  const refuse = (reply: FastifyReply, status: number, error: string) => reply.code(status).header('Cache-Control', 'no-store').send({ error });

  // before anything else, for every request: the Host is ours (DNS rebinding), and a request
  // that changes something comes from our own page (CSRF) with a JSON body (no form can send one
  // cross-site without a CORS preflight, which this server never grants)
  app.addHook('onRequest', async (request, reply) => {
    const host = request.headers.host ?? '';
    if (!options.allowedHosts.has(hostName(host))) {
      return refuse(reply, 403, `the Host header ${JSON.stringify(host)} is not this dashboard's (dashboard.host ${[...options.allowedHosts].join(', ')})`);
    }
    if (request.method === 'GET' || request.method === 'HEAD') return;
    const foreign = crossSite(request);
    if (foreign) return refuse(reply, 403, `cross-site request refused: ${foreign}`);
    if (request.method === 'POST' && mediaType(request.headers['content-type']) !== 'application/json') {
      return refuse(reply, 415, `the dashboard's POSTs take a JSON body (Content-Type: application/json), got ${JSON.stringify(request.headers['content-type'] ?? 'none')}`);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    if (!token || request.url === '/healthz') return;
    const query = new URL(request.url, 'http://x').searchParams.get('token');
    if (query !== null && sameSecret(query, token)) {
      // once from the link npm start prints, then a cookie for this browser (never sent over plain HTTP once TLS is used)
      const cookie = `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/${overTls(request) ? '; Secure' : ''}`;
      return reply.header('Set-Cookie', cookie).redirect('/');
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
    const changes = VERBS.get(verb);
    if (changes === undefined) return reply.code(400).send({ error: `unknown verb ${verb}; one of ${[...VERBS.keys()].join(', ')}` });
    const body = request.body ?? {};
    const control: ControlRequest = {
      nodes: Array.isArray(body.nodes) ? body.nodes.map(String) : undefined,
      functions: Array.isArray(body.functions) ? body.functions.map(String) : undefined,
      workers: body.workers === undefined ? undefined : Number(body.workers),
      waitMs: body.waitMs === undefined ? undefined : Number(body.waitMs),
    };
    if (verb === 'scale' && !(Number.isInteger(control.workers) && control.workers! >= 0)) return reply.code(400).send({ error: 'scale needs workers: a whole number of worker processes' });
    const scope = `${control.functions?.length ? ` ${control.functions.join(',')}` : ''}${control.nodes?.length ? ` on ${control.nodes.join(',')}` : ' fleet-wide'}${verb === 'scale' ? ` to ${control.workers}` : ''}`;
    if (changes) fleet.mark(`${verb}${scope} (dashboard)`);
    options.log.info({ verb, request: control }, 'dashboard control');
    const result = await broadcast(nc, verb as Verb, control, options.controlTimeoutMs);
    const outcome = judge(result);
    const lines = verb === 'status' ? [statusTable(result.replies)] : doneLines(result.replies);
    return { verb, ...result, exitCode: outcome.exitCode, text: [`dipsctl ${verb}${scope}`, ...lines, ...outcome.problems].join('\n') };
  });

  app.get('/api/dead-letters', async () => {
    const replies = await askGateways(nc, 'list', {}, options.controlTimeoutMs);
    const outcome = judgeDeadLetters('list', replies);
    return { replies, exitCode: outcome.exitCode, text: [deadLetterTable(replies), ...outcome.problems].join('\n') };
  });

  // retry or drop one dead letter: what `dipsctl dead-letter retry|drop <handle>` does, in its words
  app.post('/api/dead-letters/:action', async (request: FastifyRequest<{ Params: { action: string }; Body: { handle?: unknown } | undefined }>, reply) => {
    const action = request.params.action;
    if (action !== 'retry' && action !== 'drop') return reply.code(400).send({ error: `unknown dead-letter action ${action}; one of retry, drop` });
    const handle = request.body?.handle;
    if (typeof handle !== 'string' || !handle) return reply.code(400).send({ error: `${action} needs {"handle": "<job handle>"}` });
    options.log.info({ action, handle }, 'dashboard dead-letter action');
    const replies = await askGateways(nc, action, { handle }, options.controlTimeoutMs);
    const outcome = judgeDeadLetters(action, replies, handle);
    return { action, replies, exitCode: outcome.exitCode, text: [`dipsctl dead-letter ${action} ${handle}`, ...deadLetterDone(replies), ...outcome.problems].join('\n') };
  });

  app.get('/api/stored', async () => {
    const replies = await askStored(nc, 'list', {}, options.controlTimeoutMs);
    const outcome = judgeDeadLetters('list', replies);
    return { replies, exitCode: outcome.exitCode, text: [storedTable(replies), ...outcome.problems].join('\n') };
  });

  // run now, drop or move to the dead letters one waiting stored job: what `dipsctl stored retry|drop|bury <handle>` does, in its words
  app.post('/api/stored/:action', async (request: FastifyRequest<{ Params: { action: string }; Body: { handle?: unknown } | undefined }>, reply) => {
    const action = request.params.action;
    if (action !== 'retry' && action !== 'drop' && action !== 'bury') return reply.code(400).send({ error: `unknown stored-job action ${action}; one of retry, drop, bury` });
    const handle = request.body?.handle;
    if (typeof handle !== 'string' || !handle) return reply.code(400).send({ error: `${action} needs {"handle": "<job handle>"}` });
    options.log.info({ action, handle }, 'dashboard stored-job action');
    const replies = await askStored(nc, action, { handle }, options.controlTimeoutMs);
    const outcome = judgeDeadLetters(action, replies, handle, 'a waiting stored job', '`dipsctl stored list`');
    return { action, replies, exitCode: outcome.exitCode, text: [`dipsctl stored ${action} ${handle}`, ...deadLetterDone(replies), ...outcome.problems].join('\n') };
  });

  return app;
}

