/**
 * dips-http's routes on fastify: GET/HEAD signed image URLs, POST /fn/<function>
 * for services without a NATS client, /healthz, /readyz and /metrics. Every
 * request is one more caller of the mesh: it waits for room like any other.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { DipsClient, Reply } from '../../client/index.js';
import { BUILTIN_FUNCTIONS } from '../../shared/builtin-functions.js';
import type { DipsConfig } from '../../shared/config.js';
import { DipsError, ErrorCode, errorMessage, httpStatusOf } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { functionLabels, type Readiness } from '../../shared/metrics.js';
import { sameSecret } from '../../shared/secret-compare.js';
import { endSpan, flushTracing, logFields, startHttpSpan, startTracing, withSpan, type Span } from '../../shared/tracing.js';
import { UNSIGNED, signingKey, verify } from '../../shared/url-signature.js';
import { expiringCacheControl } from './imgproxy.js';
import { etagOf, formatFromAccept, matchesEtag } from './negotiate.js';
import { Sources } from './sources.js';
import { isBarePresetPath, parseImagePath, toCall, typed } from './url.js';

export interface HttpGatewayOptions {
  config: DipsConfig;
  client: DipsClient;
  log: Logger;
  registry: Registry;
  ready: Readiness;
  /** Largest body NATS carries: sources and POST bodies above it get 413. */
  maxPayloadBytes: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The function (or operations) this request ran: the metrics label. */
    dipsFunction?: string;
    /** Bytes of the response body. */
    dipsBytes?: number;
    /** The request's span while tracing is on: the parent of its call. */
    dipsSpan?: Span;
  }
}

export function buildHttpGateway(options: HttpGatewayOptions): FastifyInstance {
  const { config, client, log } = options;
  const http = config.http;
  const signing = signingKey(http.key, http.salt);
  const maxBytes = Math.min(http.sourceMaxBytes, options.maxPayloadBytes);
  const sources = new Sources({ ...http, maxBytes, timeoutMs: http.sourceTimeoutMs });
  const placeholder = http.placeholder ? readFileSync(http.placeholder) : undefined;
  const metrics = httpMetrics(options.registry);
  const functionLabel = functionLabels();
  let inFlight = 0;

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // the request id is the job id the workers log: one id follows a request through the mesh
    genReqId: () => randomUUID(),
    bodyLimit: options.maxPayloadBytes,
    // a request (its body included) must arrive within its deadline: a body trickled in a byte
    // at a time is cut off with 408 and gives its slot back (Node checks every connectionsCheckingInterval).
    // Given to the server at creation too: Node 20 ignores a requestTimeout set later while
    // headersTimeout (60 s by default) is longer.
    requestTimeout: http.timeoutMs,
    http: { requestTimeout: http.timeoutMs, headersTimeout: Math.min(http.timeoutMs || 60_000, 60_000), connectionsCheckingInterval: Math.max(100, Math.min(1000, http.timeoutMs / 2)) },
    // signed paths are compared byte for byte: the router must not rewrite them
    routerOptions: { maxParamLength: 8192, ignoreDuplicateSlashes: false },
    return503OnClosing: true,
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.addHook('onReady', async () => void (await startTracing(config, 'http', log)));
  app.addHook('onClose', flushTracing);
  app.addHook('onRequest', async (request, reply) => {
    if (isProbe(request.url)) return;
    request.dipsSpan = startHttpSpan(request.method, request.routeOptions.url ?? '', request.url.split('?')[0], request.headers);
    if (request.dipsSpan) request.log = request.log.child(logFields(request.dipsSpan));
    // what the headers decide is decided before a body is read or a slot is taken: POSTs
    // without the key, trickling their bodies, must not hold http.maxConcurrent
    if (request.method === 'POST') checkApiKey(request);
    if (inFlight >= http.maxConcurrent) {
      reply.header('Retry-After', '1');
      throw new DipsError(ErrorCode.busy, `busy: ${inFlight} requests in flight (http.maxConcurrent)`);
    }
    inFlight++;
    reply.raw.once('close', () => inFlight--);
  });
  app.addHook('onResponse', async (request, reply) => {
    if (isProbe(request.url)) return;
    endSpan(request.dipsSpan, reply.statusCode < 500 ? 'ok' : String(reply.statusCode), reply.statusCode < 500 ? undefined : `HTTP ${reply.statusCode}`, request.dipsSpan && { 'http.response.status_code': reply.statusCode });
    // a path names any function: only names a worker answered get series of their own
    const fn = functionLabel(request.dipsFunction ?? 'none', reply.statusCode < 400);
    metrics.requests.inc({ status: String(reply.statusCode), function: fn });
    metrics.duration.observe({ function: fn }, reply.elapsedTime / 1000);
    if (request.dipsBytes) metrics.bytes.inc({ function: fn }, request.dipsBytes);
  });
  app.addHook('onSend', async (request, _reply, payload) => {
    request.dipsBytes = Buffer.isBuffer(payload) ? payload.length : typeof payload === 'string' ? Buffer.byteLength(payload) : 0;
    return payload;
  });

  app.setErrorHandler(async (err: Error & { statusCode?: number; code?: unknown }, request, reply) => {
    const dips = typeof err.code === 'number';
    const status = dips ? httpStatusOf(err.code as number) : err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    const message = dips || status < 500 ? err.message : `internal error: ${errorMessage(err)}`;
    if (status >= 500 && !dips) request.log.error({ err }, 'request failed');
    else request.log.info({ status, problem: message }, 'request refused');
    if (placeholder && request.method !== 'POST' && !isProbe(request.url)) {
      return reply.code(status).header('Dips-Error', asciiHeader(message)).header('Cache-Control', 'no-store').type(sniffType(placeholder)).send(placeholder);
    }
    return reply.code(status).header('Cache-Control', 'no-store').send({ error: { status, code: dips ? err.code : status, message } });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const state = options.ready();
    return state === true ? { status: 'ready' } : reply.code(503).send({ status: 'not ready', reason: state });
  });
  app.get('/metrics', async (_request, reply) => reply.type(options.registry.contentType).send(await options.registry.metrics()));

  /** Throws 403 unless the request carries http.apiKey (every POST needs it; checked in onRequest). */
  function checkApiKey(request: FastifyRequest): void {
    if (!http.apiKey) throw new DipsError(ErrorCode.forbidden, 'POST /fn is off: no http.apiKey is configured');
    const given = request.headers['x-api-key'] ?? request.headers.authorization?.replace(/^Bearer\s+/i, '');
    if (typeof given !== 'string' || !sameSecret(given, http.apiKey)) throw new DipsError(ErrorCode.forbidden, 'a valid API key is required (Authorization: Bearer <key> or X-Api-Key)');
  }

  app.post('/fn/:fn', async (request: FastifyRequest<{ Params: { fn: string } }>, reply) => {
    const fn = request.params.fn;
    request.dipsFunction = fn;
    const query = Object.fromEntries(Object.entries(request.query as Record<string, string>).map(([k, v]) => [k, typed(String(v))]));
    const body = request.body;
    const json = request.headers['content-type']?.startsWith('application/json');
    const input = json ? { ...(body as Record<string, unknown>), ...query } : Buffer.isBuffer(body) ? body : Buffer.alloc(0);
    // sent again after a possible loss only when running it twice is known to be harmless (DIPS's own functions)
    const result = await withSpan(request.dipsSpan, () => client.callForReply(fn, input, { params: json ? undefined : query, timeoutMs: http.timeoutMs, jobId: request.id, signal: abortOnClose(reply), idempotent: BUILTIN_FUNCTIONS.includes(fn) }));
    return sendReply(reply, result, {});
  });

  app.get('/*', async (request, reply) => {
    const rawPath = request.url.split('?')[0];
    const path = checkedPath(rawPath);
    const image = parseImagePath(path, http.presets);
    const source = await sources.resolve(image.source);
    const headers: Record<string, string> = { 'Cache-Control': image.expires === undefined ? http.cacheControl : expiringCacheControl(http.cacheControl, image.expires) };
    let format = image.format;
    if (format === 'auto') {
      headers.Vary = 'Accept';
      format = formatFromAccept(request.headers.accept);
    }
    const call = toCall(image, format);
    request.dipsFunction = image.info ? 'info' : image.steps.length ? image.steps.map((s) => s.op).join('+') : 'convert';
    const etag = etagOf(source.identity, call.fn, call.params);
    headers.ETag = etag;
    if (matchesEtag(request.headers['if-none-match'], etag)) return reply.code(304).headers(headers).send();
    const signal = abortOnClose(reply);
    const bytes = await source.load(signal);
    const result = await withSpan(request.dipsSpan, () => client.callForReply(call.fn, bytes, { params: call.params, timeoutMs: http.timeoutMs, jobId: request.id, signal }));
    return sendReply(reply, result, headers);
  });

  /** The path after the signature; throws 403 when the signature does not allow it. */
  function checkedPath(rawPath: string): string {
    const slash = rawPath.indexOf('/', 1);
    const first = rawPath.slice(1, slash < 0 ? undefined : slash);
    const rest = slash < 0 ? '' : rawPath.slice(slash);
    if (first === 'p' && http.publicPresets) {
      if (isBarePresetPath(rawPath)) return rawPath;
      throw new DipsError(ErrorCode.forbidden, 'only /p/<preset>/<source> is public (http.publicPresets): a URL with other operations needs a signature');
    }
    if (UNSIGNED.has(first)) {
      if (http.allowUnsigned) return rest;
      throw new DipsError(ErrorCode.forbidden, 'unsigned URLs are refused (http.allowUnsigned is off): sign the path with http.key and http.salt');
    }
    if (!signing) throw new DipsError(ErrorCode.forbidden, 'no http.key is configured: signed URLs cannot be checked');
    if (!first || !verify(signing, rest, first)) throw new DipsError(ErrorCode.forbidden, 'bad signature: the path is not signed with this http.key and http.salt');
    return rest;
  }

  return app;
}

function sendReply(reply: FastifyReply, result: Reply, headers: Record<string, string>) {
  if (result.value !== undefined) return reply.headers({ 'Cache-Control': 'no-store', ...headers }).type('application/json; charset=utf-8').send(JSON.stringify(result.value));
  return reply.headers(headers).type(result.contentType).send(Buffer.from(result.bytes.buffer, result.bytes.byteOffset, result.bytes.byteLength));
}

/** Withdraw the job when the client goes away before its answer (the response closes unfinished). */
function abortOnClose(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new DipsError(ErrorCode.cancelled, 'the HTTP client went away'));
  });
  return controller.signal;
}

const isProbe = (url: string) => url === '/healthz' || url === '/readyz' || url === '/metrics';

/** Header values are Latin-1 without control characters. */
const asciiHeader = (text: string) => text.replace(/[^\x20-\x7e]/g, '?').slice(0, 512);

function sniffType(bytes: Buffer): string {
  if (bytes[0] === 0x89 && bytes[1] === 0x50) return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'image/jpeg';
  if (bytes.subarray(0, 4).toString('latin1') === 'GIF8') return 'image/gif';
  if (bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return 'application/octet-stream';
}

function httpMetrics(registry: Registry) {
  return {
    requests: new Counter({ name: 'dips_http_requests_total', help: 'HTTP requests by status and function', labelNames: ['status', 'function'], registers: [registry] }),
    duration: new Histogram({
      name: 'dips_http_request_duration_seconds', help: 'HTTP request time, waiting for room included', labelNames: ['function'], registers: [registry],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    }),
    bytes: new Counter({ name: 'dips_http_response_bytes_total', help: 'Bytes of response bodies by function', labelNames: ['function'], registers: [registry] }),
  };
}
