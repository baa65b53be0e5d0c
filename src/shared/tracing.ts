/**
 * Job traces (OpenTelemetry): one tracer provider per process, its role as
 * service.name, spans exported over OTLP/HTTP; W3C trace context
 * (`traceparent`, `tracestate`) carried in NATS message headers.
 *
 * Off unless tracing.otlpEndpoint (or the standard OTEL_EXPORTER_OTLP_*
 * variables) names a collector. Off, every helper here returns at its first
 * line and no header is added: only the small API package is loaded, the SDK
 * and the exporter are imported when tracing starts.
 */
import {
  context,
  diag,
  DiagLogLevel,
  isSpanContextValid,
  SpanKind,
  SpanStatusCode,
  trace,
  ROOT_CONTEXT,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import type { MsgHdrs } from 'nats';
import { headerValue } from '../mesh/headers.js';
import { setCallTracing, type AttemptEnd, type CallTrace } from '../mesh/requester.js';

export { SpanKind };
export type { Span };

/** The tracing section of the configuration (a client's config may lack it). */
export interface TracingSettings {
  otlpEndpoint: string;
  sampleRatio: number;
  serviceName: string;
}

/** Span attribute names DIPS sets (its own under dips.*, the rest from the semantic conventions). */
export const Attr = {
  fn: 'dips.function',
  jobId: 'dips.job_id',
  attempt: 'dips.attempt',
  worker: 'dips.worker',
  outcome: 'dips.outcome',
  errorKind: 'error.type',
  bytesIn: 'dips.bytes_in',
  bytesOut: 'dips.bytes_out',
  subject: 'messaging.destination.name',
  system: 'messaging.system',
} as const;

interface Provider {
  forceFlush(options?: { timeoutMillis?: number }): Promise<void>;
}

let tracer: Tracer | undefined;
let provider: Provider | undefined;
let propagator: TextMapPropagator | undefined;
let starting: Promise<boolean> | undefined;
/** Says that spans cannot be sent (at most once a minute). */
let complain: (message: string) => void = () => undefined;

/** Whether this process exports spans (startTracing found a collector). */
export function tracingOn(): boolean {
  return tracer !== undefined;
}

/** The OTLP/HTTP URL spans go to: tracing.otlpEndpoint with /v1/traces; '' for the exporter's own OTEL_* variables; undefined: off. */
export function tracesUrl(settings: TracingSettings | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const endpoint = settings?.otlpEndpoint.trim();
  if (endpoint) return /\/v1\/traces\/?$/.test(endpoint) ? endpoint : `${endpoint.replace(/\/+$/, '')}/v1/traces`;
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT) return '';
  return undefined;
}

/** Where the SDK's complaints go (spans that cannot be sent): a pino logger, else stderr. */
export interface TracingLog {
  warn(obj: object, msg: string): void;
}

/** The SDK's errors and warnings (a collector that does not answer) are said at most this often. */
const COMPLAINT_EVERY_MS = 60_000;

/**
 * Set up this process's tracer provider (once; later calls share the first).
 * Resolves true when tracing is on. `role` becomes service.name (with
 * tracing.serviceName before it: dips-worker).
 */
export function startTracing(config: { tracing?: TracingSettings }, role: string, log?: TracingLog): Promise<boolean> {
  starting ??= start(config.tracing, role, log);
  return starting;
}

async function start(settings: TracingSettings | undefined, role: string, log: TracingLog | undefined): Promise<boolean> {
  const url = tracesUrl(settings);
  if (url === undefined) return false;
  const where = url || 'OTEL_EXPORTER_OTLP_ENDPOINT';
  let lastComplaint = 0;
  complain = (message: string) => {
    if (Date.now() - lastComplaint < COMPLAINT_EVERY_MS) return;
    lastComplaint = Date.now();
    if (log) log.warn({ collector: where, problem: message }, 'tracing: spans cannot be sent (said at most once a minute)');
    else process.stderr.write(`tracing: spans cannot be sent to ${where}: ${message}\n`);
  };
  const quiet = () => undefined;
  diag.setLogger({ error: complain, warn: complain, info: quiet, debug: quiet, verbose: quiet }, DiagLogLevel.WARN);
  const [{ NodeTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler }, { OTLPTraceExporter }, { resourceFromAttributes }, { W3CTraceContextPropagator }, semconv] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  const { version } = await import('./process.js');
  const sdk = new NodeTracerProvider({
    resource: resourceFromAttributes({ [semconv.ATTR_SERVICE_NAME]: `${settings?.serviceName || 'dips'}-${role}`, [semconv.ATTR_SERVICE_VERSION]: version, 'process.pid': process.pid }),
    // a caller's decision holds along the job: only calls started here are sampled by the ratio
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings?.sampleRatio ?? 1) }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(url ? { url } : {}))],
  });
  // the AsyncLocalStorage context manager: a caller's active span is the parent of the calls it makes
  sdk.register();
  propagator = new W3CTraceContextPropagator();
  provider = sdk;
  tracer = sdk.getTracer('dips', version);
  setCallTracing(activeCallTrace);
  return true;
}

/** Longest a shutdown waits for buffered spans to be sent: a collector that does not answer must not hold up a SIGTERM or a `dips call`. */
const FLUSH_MS = 2000;

/** Send the spans still buffered (a clean shutdown: SIGTERM, a client's close()), waiting FLUSH_MS at most. */
export async function flushTracing(): Promise<void> {
  await provider?.forceFlush({ timeoutMillis: FLUSH_MS }).catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    complain(/timeout/i.test(message) ? `the collector did not take them within ${FLUSH_MS} ms` : message);
  });
}

const setter: TextMapSetter<MsgHdrs> = { set: (h, key, value) => h.set(key, value) };
const getter: TextMapGetter<MsgHdrs | undefined> = {
  get: (h, key) => headerValue(h, key) || undefined,
  keys: (h) => (h ? h.keys() : []),
};

/** Put the span's trace context in NATS headers (traceparent, tracestate). */
export function injectTrace(span: Span, headers: MsgHdrs): void {
  propagator?.inject(trace.setSpan(ROOT_CONTEXT, span), headers, setter);
}

/** The trace context a message carries (ROOT_CONTEXT when none). */
export function extractTrace(headers: MsgHdrs | undefined): Context {
  return propagator && headers ? propagator.extract(ROOT_CONTEXT, headers, getter) : ROOT_CONTEXT;
}

/** trace_id and span_id for a log line about the span's job ({} without a span). */
export function logFields(span: Span | undefined): { trace_id?: string; span_id?: string } {
  if (!span) return {};
  const sc = span.spanContext();
  return isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

/** Start a span, or undefined while tracing is off (callers check nothing else). */
export function startSpan(name: string, kind: SpanKind, attributes: Attributes, parent: Context = context.active()): Span | undefined {
  return tracer?.startSpan(name, { kind, attributes }, parent);
}

/** A worker's span for one job, child of the caller's attempt (its traceparent header). */
export function startJobSpan(fn: string, jobId: string, headers: MsgHdrs | undefined, bytesIn: number): Span | undefined {
  if (!tracer) return undefined;
  return tracer.startSpan(`run ${fn}`, { kind: SpanKind.CONSUMER, attributes: { [Attr.fn]: fn, [Attr.jobId]: jobId, [Attr.bytesIn]: bytesIn, [Attr.system]: 'nats' } }, extractTrace(headers));
}

/**
 * End a span with its outcome: 'ok', a failure's kind with the error (error
 * status and message), or what ended an attempt that was no failure (NO_ROOM, LOST).
 */
export function endSpan(span: Span | undefined, outcome: string, err?: unknown, attributes?: Attributes): void {
  if (!span) return;
  if (attributes) span.setAttributes(attributes);
  span.setAttribute(Attr.outcome, outcome);
  if (err !== undefined) {
    span.setAttribute(Attr.errorKind, outcome);
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  }
  span.end();
}

/** The failure kind of an error: a CallError's or DipsError's kind, else its name. */
function kindOf(err: unknown): string {
  if (err && typeof err === 'object' && 'kind' in err && typeof err.kind === 'string') return err.kind;
  return err instanceof Error ? err.name : 'INTERNAL';
}

/**
 * A caller's `call <fn>` span (CLIENT) around `run`, active inside it: the
 * requester's send attempts are its children. Without tracing, just `run()`.
 */
export function traceCall<T>(fn: string, jobId: string | undefined, run: () => Promise<T>): Promise<T> {
  if (!tracer) return run();
  return tracer.startActiveSpan(`call ${fn}`, { kind: SpanKind.CLIENT, attributes: { [Attr.fn]: fn, ...(jobId ? { [Attr.jobId]: jobId } : {}) } }, async (span) => {
    try {
      const result = await run();
      endSpan(span, 'ok');
      return result;
    } catch (err) {
      endSpan(span, kindOf(err), err);
      throw err;
    }
  });
}

/**
 * The requester's tracing of a call whose parent is `parent`: each send or
 * resend is a `send <fn>` span (PRODUCER) whose context travels in the request's headers.
 */
export function callTrace(fn: string, parent: Span | Context): CallTrace {
  const parentContext = 'spanContext' in parent ? trace.setSpan(ROOT_CONTEXT, parent as Span) : parent;
  return {
    send(headers, attempt, subject) {
      const span = tracer!.startSpan(`send ${fn}`, { kind: SpanKind.PRODUCER, attributes: { [Attr.fn]: fn, [Attr.attempt]: attempt, [Attr.subject]: subject, [Attr.system]: 'nats' } }, parentContext);
      injectTrace(span, headers);
      return (end: AttemptEnd) => endSpan(span, end.outcome, end.error, end.worker ? { [Attr.worker]: end.worker } : undefined);
    },
  };
}

/** For a call made with no trace of its own: traced when the caller has an active span (a `call` span, an HTTP request's). */
function activeCallTrace(fn: string): CallTrace | undefined {
  const active = context.active();
  return trace.getSpan(active) ? callTrace(fn, active) : undefined;
}

/** `fn()` with `span` active (its calls are children of it); without a span, just `fn()`. */
export function withSpan<T>(span: Span | undefined, fn: () => T): T {
  return span ? context.with(trace.setSpan(context.active(), span), fn) : fn();
}

const httpGetter: TextMapGetter<Record<string, string | string[] | undefined>> = {
  get: (h, key) => h[key],
  keys: (h) => Object.keys(h),
};

/** An HTTP request's span (SERVER), child of the trace its caller sent (traceparent), if any. */
export function startHttpSpan(method: string, route: string, path: string, headers: Record<string, string | string[] | undefined>): Span | undefined {
  if (!tracer) return undefined;
  const parent = propagator ? propagator.extract(ROOT_CONTEXT, headers, httpGetter) : ROOT_CONTEXT;
  return tracer.startSpan(`${method} ${route}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'http.route': route, 'url.path': path } }, parent);
}
