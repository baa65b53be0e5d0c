/**
 * Job traces across real processes: a `dips call` CLI, a Gearman gateway
 * driven by PHP, the HTTP gateway, and a worker export their spans over
 * OTLP/HTTP to a receiver this test runs; one call's spans share one trace
 * id, each hop the child of the one before. With tracing off, no trace
 * context travels in the request's NATS headers.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { connect, type Msg, type NatsConnection } from 'nats';
import { freePort } from '../src/control/nats-node.js';
import { Executables } from '../src/control/spawn.js';
import { functionSubject } from '../src/mesh/subjects.js';
import { clientFor, startCluster, startProcess, startWorker, waitFor, type Cluster, type Proc } from './harness.js';
import { runPhp } from './php.js';

/** A span as the receiver got it, its attributes as a plain map. */
interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  status: number;
  attrs: Record<string, unknown>;
}

/** OTLP span kinds (opentelemetry-proto). */
const KIND = { server: 2, client: 3, producer: 4, consumer: 5 } as const;
const STATUS_ERROR = 2;

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type OtlpAttribute = { key: string; value: OtlpValue };
interface OtlpRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: Array<{ spans?: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; status?: { code?: number }; attributes?: OtlpAttribute[] }> }>;
  }>;
}

const valueOf = (v: OtlpValue): unknown => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.boolValue ?? v.doubleValue;
const attrMap = (list: OtlpAttribute[] = []) => Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]));

/** An OTLP/HTTP receiver: POST /v1/traces in the JSON encoding (what @opentelemetry/exporter-trace-otlp-http sends). */
async function startReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; contentTypes: Set<string>; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const contentTypes = new Set<string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      contentTypes.add(String(req.headers['content-type']));
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpRequest;
      for (const rs of body.resourceSpans ?? []) {
        const service = String(attrMap(rs.resource?.attributes)['service.name']);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({ service, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, kind: s.kind, status: s.status?.code ?? 0, attrs: attrMap(s.attributes) });
          }
        }
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    contentTypes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let cluster: Cluster;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let procs: Proc[] = [];
let gatewayPort: number;
let httpPort: number;
let nc: NatsConnection;
/** Tracing on, spans sent within 100 ms of ending (not the 5 s default) so the test waits little. */
let traced: Record<string, string>;
const API_KEY = 'tracing-test-key';

test.before(async () => {
  cluster = await startCluster();
  receiver = await startReceiver();
  traced = { DIPS_TRACING_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' };
  gatewayPort = await freePort();
  httpPort = await freePort();
  procs = await Promise.all([
    // delay is left to the workers of the resend case
    startWorker(cluster, { ...traced, DIPS_WORKER_FUNCTIONS: 'echo,ecard' }),
    startProcess('gateway', cluster, { ...traced, DIPS_GATEWAY_PORT: String(gatewayPort), DIPS_GATEWAY_SECOND_PORT: '0' }),
    startProcess('http', cluster, { ...traced, DIPS_HTTP_PORT: String(httpPort), DIPS_HTTP_API_KEY: API_KEY, DIPS_HTTP_REQUIRED_FUNCTIONS: 'echo' }),
  ]);
  nc = await connect({ servers: cluster.servers });
});
test.after(async () => {
  await nc?.close();
  await Promise.all(procs.map((p) => p.stop()));
  await receiver?.close();
  await cluster?.stop();
});

/** `dips call <args>` as its own process, tracing on; resolves once it exited (its spans flushed by then). */
function dipsCall(args: string[], input: Buffer, env: Record<string, string> = traced): Promise<{ code: number | null; out: Buffer; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [Executables.cli, 'call', ...args, '--servers', cluster.servers.join(',')], { env: { ...process.env, DIPS_CONFIG: '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code, out: Buffer.concat(out), err }));
    child.stdin.end(input);
  });
}

const one = (found: ReceivedSpan[], what: string): ReceivedSpan => {
  assert.is(found.length, 1, `one ${what}, got ${found.length}: ${JSON.stringify(found)}`);
  return found[0];
};

/** Wait until the receiver holds a span matching `match`, then return the spans of its trace. */
async function traceOf(match: (s: ReceivedSpan) => boolean, what: string, alsoWaitFor: (trace: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]> {
  let trace: ReceivedSpan[] = [];
  await waitFor(() => {
    const root = receiver.spans.find(match);
    trace = root ? receiver.spans.filter((s) => s.traceId === root.traceId) : [];
    return root !== undefined && alsoWaitFor(trace);
  }, 20_000, what);
  return trace;
}

test('a native call: the client\'s call span, its send attempt and the worker\'s run share one trace, each the child of the one before', async () => {
  const r = await dipsCall(['echo', '--in', '-', '--out', '-'], Buffer.from('traced bytes'));
  assert.is(r.code, 0, r.err);
  assert.is(r.out.toString(), 'traced bytes');
  const trace = await traceOf((s) => s.service === 'dips-client' && s.name === 'call echo', 'the client\'s call span', (t) => t.some((s) => s.service === 'dips-worker'));
  const call = one(trace.filter((s) => s.name === 'call echo'), 'call span');
  assert.is(call.kind, KIND.client);
  assert.is(call.parentSpanId, '', 'the call starts the trace');
  assert.is(call.attrs['dips.function'], 'echo');
  assert.type(call.attrs['dips.job_id'], 'string');
  const send = one(trace.filter((s) => s.name === 'send echo'), 'send attempt');
  assert.is(send.service, 'dips-client');
  assert.is(send.kind, KIND.producer);
  assert.is(send.parentSpanId, call.spanId);
  assert.is(send.attrs['dips.attempt'], 1);
  const run = one(trace.filter((s) => s.name === 'run echo'), 'worker span');
  assert.is(run.service, 'dips-worker');
  assert.is(run.kind, KIND.consumer);
  assert.is(run.parentSpanId, send.spanId, 'the worker continues the trace from the request headers');
  assert.is(run.attrs['dips.function'], 'echo');
  assert.is(run.attrs['dips.job_id'], call.attrs['dips.job_id']);
  assert.is(run.attrs['dips.outcome'], 'ok');
  assert.is(run.attrs['dips.bytes_in'], 'traced bytes'.length);
  assert.is(run.attrs['dips.bytes_out'], 'traced bytes'.length);
  assert.is(send.attrs['dips.worker'], run.attrs['dips.worker'], 'the attempt names the worker that answered');
  assert.ok(receiver.contentTypes.has('application/json'));
});

test('a failed call: error status on the call, the attempt and the worker\'s run, with the failure\'s kind', async () => {
  const r = await dipsCall(['ecard', 'pSN=not-digits'], Buffer.alloc(0));
  assert.is.not(r.code, 0);
  const trace = await traceOf((s) => s.service === 'dips-client' && s.name === 'call ecard', 'the failed call\'s span', (t) => t.some((s) => s.name === 'run ecard'));
  const call = one(trace.filter((s) => s.name === 'call ecard'), 'call span');
  const run = one(trace.filter((s) => s.name === 'run ecard'), 'worker span');
  assert.is(call.status, STATUS_ERROR);
  assert.is(run.status, STATUS_ERROR);
  assert.is(run.attrs['dips.outcome'], 'BAD_REQUEST');
  assert.is(run.attrs['error.type'], 'BAD_REQUEST');
  assert.is(call.attrs['error.type'], 'BAD_REQUEST');
});

test('a PHP call through the Gearman gateway: the gateway\'s SUBMIT_JOB span, its NATS request and the worker\'s run share one trace', async () => {
  const php = await runPhp(`<?php
$c = new GearmanClient();
$c->addServer('127.0.0.1', ${gatewayPort});
echo $c->doNormal('echo', 'from php');`, undefined, 20_000);
  assert.is(php.stdout.toString(), 'from php', php.stderr);
  const trace = await traceOf((s) => s.service === 'dips-gateway' && s.name === 'gearman SUBMIT_JOB echo', 'the gateway\'s span', (t) => t.some((s) => s.service === 'dips-worker'));
  const submit = one(trace.filter((s) => s.name === 'gearman SUBMIT_JOB echo'), 'gateway span');
  assert.is(submit.kind, KIND.server);
  assert.is(submit.parentSpanId, '');
  assert.match(String(submit.attrs['dips.job_id']), /^H:/);
  assert.is(submit.attrs['dips.bytes_in'], 'from php'.length);
  assert.is(submit.attrs['dips.outcome'], 'ok');
  const send = one(trace.filter((s) => s.name === 'send echo'), 'NATS request');
  assert.is(send.service, 'dips-gateway');
  assert.is(send.parentSpanId, submit.spanId);
  const run = one(trace.filter((s) => s.name === 'run echo'), 'worker span');
  assert.is(run.parentSpanId, send.spanId);
  assert.is(run.attrs['dips.job_id'], submit.attrs['dips.job_id'], 'the worker sees the gateway\'s handle as the job id');
});

test('an HTTP call: the request span continues the caller\'s traceparent, then call, send and the worker\'s run', async () => {
  const callerTrace = '0af7651916cd43dd8448eb211c80319c';
  const callerSpan = 'b7ad6b7169203331';
  const res = await fetch(`http://127.0.0.1:${httpPort}/fn/echo`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/octet-stream', traceparent: `00-${callerTrace}-${callerSpan}-01` },
    body: 'over http',
  });
  assert.is(res.status, 200);
  assert.is(await res.text(), 'over http');
  const trace = await traceOf((s) => s.traceId === callerTrace && s.service === 'dips-http', 'the HTTP gateway\'s spans', (t) => t.some((s) => s.service === 'dips-worker') && t.some((s) => s.kind === KIND.server));
  const request = one(trace.filter((s) => s.kind === KIND.server), 'request span');
  assert.is(request.name, 'POST /fn/:fn');
  assert.is(request.parentSpanId, callerSpan);
  assert.is(request.attrs['http.response.status_code'], 200);
  const call = one(trace.filter((s) => s.name === 'call echo'), 'call span');
  assert.is(call.parentSpanId, request.spanId);
  const send = one(trace.filter((s) => s.name === 'send echo'), 'send attempt');
  assert.is(send.parentSpanId, call.spanId);
  const run = one(trace.filter((s) => s.name === 'run echo'), 'worker span');
  assert.is(run.parentSpanId, send.spanId);
});

test('a resend after the worker died: attempt 1 is LOST, a later attempt reaches the new worker, whose run is its child', async () => {
  const seen: Msg[] = [];
  const sub = nc.subscribe(functionSubject('delay'), { callback: (err, msg) => !err && seen.push(msg) });
  await nc.flush();
  const onlyDelay = { ...traced, DIPS_WORKER_FUNCTIONS: 'delay' };
  const doomed = await startWorker(cluster, onlyDelay);
  try {
    const call = dipsCall(['delay', 'ms=2000', '--timeout', '30000'], Buffer.alloc(0));
    await waitFor(() => seen.length > 0, 10_000, 'the delay request');
    doomed.child.kill('SIGKILL');
    await doomed.stop();
    procs.push(await startWorker(cluster, onlyDelay));
    const r = await call;
    assert.is(r.code, 0, r.err);
    const trace = await traceOf((s) => s.service === 'dips-client' && s.name === 'call delay', 'the resent call\'s span', (t) => t.some((s) => s.name === 'run delay'));
    const call_ = one(trace.filter((s) => s.name === 'call delay'), 'call span');
    const attempts = trace.filter((s) => s.name === 'send delay').sort((a, b) => Number(a.attrs['dips.attempt']) - Number(b.attrs['dips.attempt']));
    assert.ok(attempts.length >= 2, `resent: ${JSON.stringify(attempts)}`);
    for (const a of attempts) assert.is(a.parentSpanId, call_.spanId);
    assert.equal(attempts.map((a) => a.attrs['dips.attempt']), attempts.map((_, i) => i + 1));
    assert.is(attempts[0].attrs['dips.outcome'], 'LOST');
    const last = attempts[attempts.length - 1];
    assert.is(last.attrs['dips.outcome'], 'ok');
    const run = one(trace.filter((s) => s.name === 'run delay'), 'the new worker\'s run (the killed one exported none)');
    assert.is(run.parentSpanId, last.spanId);
    assert.is(last.attrs['dips.worker'], run.attrs['dips.worker']);
  } finally {
    sub.unsubscribe();
  }
});

test('a collector that does not answer: the call succeeds and the caller says in one line where spans could not go', async () => {
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  const r = await dipsCall(['echo', '--in', '-', '--out', '-'], Buffer.from('unheard'), { DIPS_TRACING_OTLP_ENDPOINT: nowhere });
  assert.is(r.code, 0, r.err);
  assert.is(r.out.toString(), 'unheard');
  assert.match(r.err, `tracing: spans cannot be sent to ${nowhere}/v1/traces`);
  assert.is(r.err.trim().split('\n').length, 1, r.err);
});

test('tracing off: no traceparent in the request a worker gets; on, it carries the caller\'s', async () => {
  const seen: Msg[] = [];
  const sub = nc.subscribe(functionSubject('echo'), { callback: (err, msg) => !err && seen.push(msg) });
  await nc.flush();
  try {
    // this test process never started tracing
    const client = clientFor(cluster);
    try {
      assert.is(Buffer.from((await client.call('echo', Buffer.from('untraced'))) as Uint8Array).toString(), 'untraced');
    } finally {
      await client.close();
    }
    await waitFor(() => seen.some((m) => new TextDecoder().decode(m.data) === 'untraced'), 10_000, 'the untraced request');
    const untraced = seen.find((m) => new TextDecoder().decode(m.data) === 'untraced')!;
    assert.is(untraced.headers?.get('traceparent') ?? '', '', 'no trace context without tracing');
    assert.is(untraced.headers?.has('tracestate') ?? false, false);
    const r = await dipsCall(['echo', '--in', '-', '--out', '-'], Buffer.from('traced again'));
    assert.is(r.code, 0, r.err);
    const traced = seen.find((m) => new TextDecoder().decode(m.data) === 'traced again');
    assert.ok(traced, 'the traced request went to the function subject too');
    assert.match(traced!.headers?.get('traceparent') ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  } finally {
    sub.unsubscribe();
  }
});

test('log lines about a job carry trace_id and span_id while tracing is on', async () => {
  const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const res = await fetch(`http://127.0.0.1:${httpPort}/fn/ecard`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json', traceparent: `00-${callerTrace}-00f067aa0ba902b7-01` },
    body: JSON.stringify({ pSN: 'not-digits' }),
  });
  assert.is(res.status, 400);
  const httpLogs = procs[2];
  let line: Record<string, unknown> | undefined;
  await waitFor(() => {
    line = httpLogs.logs().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request refused' && l.trace_id === callerTrace);
    return line !== undefined;
  }, 10_000, 'the refused request\'s log line with its trace id');
  assert.match(String(line!.span_id), /^[0-9a-f]{16}$/);
  const trace = await traceOf((s) => s.traceId === callerTrace && s.kind === KIND.server, 'the refused request\'s span', () => true);
  assert.is(one(trace.filter((s) => s.kind === KIND.server), 'request span').spanId, line!.span_id);
});

test.run();
