/**
 * Prometheus metrics as an operator scrapes them: a real agent with two worker
 * processes and a Gearman gateway on a real two-node NATS cluster, after jobs
 * that succeed, are bad requests and find no worker; and monitoring/'s alert
 * rules (promtool) and Grafana dashboard checked against those scrapes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CallError, type DipsClient } from '../src/client/index.js';
import { freePort } from '../src/control/nats-node.js';
import { PacketType as P } from '../src/gateway/protocol/constants.js';
import { phpSerialize } from '../src/mesh/codec/php.js';
import { loadConfig, projectRoot } from '../src/shared/config.js';
import { OUTCOMES } from '../src/shared/metrics.js';
import { WireClient } from './gearman-wire.js';
import { clientFor, SEED_PDATA, startCluster, startProcess, waitFor, type Cluster, type Proc } from './harness.js';

const ALERTS = path.join(projectRoot, 'monitoring', 'prometheus', 'alerts.yml');
const ALERT_TESTS = path.join(projectRoot, 'monitoring', 'prometheus', 'alerts.test.yml');
const DASHBOARD = path.join(projectRoot, 'monitoring', 'grafana', 'dips.json');
/** Series Prometheus makes itself for every target. */
const PROMETHEUS_OWN = new Set(['up']);

let cluster: Cluster;
let agent: Proc;
let gateway: Proc;
let dips: DipsClient;
let agentPort: number;
let gatewayMetricsPort: number;
let gearmanPort: number;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dips-metrics-'));

test.before(async () => {
  cluster = await startCluster();
  [agentPort, gatewayMetricsPort, gearmanPort] = [await freePort(), await freePort(), await freePort()];
  [agent, gateway] = await Promise.all([
    startProcess('agent', cluster, { DIPS_WORKER_PROCESSES: '2', DIPS_AGENT_NODE: 'm1', DIPS_AGENT_METRICS_PORT: String(agentPort) }),
    startProcess('gateway', cluster, {
      DIPS_GATEWAY_PORT: String(gearmanPort),
      DIPS_GATEWAY_SECOND_PORT: '0',
      DIPS_GATEWAY_METRICS_PORT: String(gatewayMetricsPort),
      DIPS_GATEWAY_DATA_DIR: path.join(tmp, 'gateway'),
      // a job for a function nobody serves ends with NO_WORKER at its deadline: a short one
      DIPS_NATS_REQUEST_TIMEOUT_MS: '3000',
    }),
  ]);
  dips = clientFor(cluster);
});

test.after(async () => {
  await dips?.close();
  await Promise.all([agent?.stop(), gateway?.stop()]);
  await cluster?.stop();
});

/** Run promtool; where it is missing, CI fails naming the package and a developer's run says so and skips. */
function promtool(...args: string[]): { ok: boolean; out: string } | undefined {
  const run = spawnSync('promtool', args, { cwd: projectRoot, encoding: 'utf8' });
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    const why = "promtool is not installed: it comes with Debian's prometheus package (apt-get install prometheus; .ci/run installs it)";
    if (process.env.CI === 'true') assert.unreachable(why);
    console.log(`  skipped: ${why}`);
    return undefined;
  }
  return { ok: run.status === 0, out: `${run.stdout}${run.stderr}` };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Scrape {
  samples: Sample[];
  /** Every series name the process declares (# TYPE), with a histogram's _bucket, _sum and _count: a labelled gauge with no value yet still exists. */
  names: Set<string>;
}

async function scrape(port: number): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.is(res.status, 200);
  const text = await res.text();
  const samples: Sample[] = [];
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      const [, name, kind] = type;
      names.add(name);
      if (kind === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
      if (kind === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    samples.push({ name: m[1], labels, value: Number(m[3]) });
    names.add(m[1]);
  }
  return { samples, names };
}

/** A process's parent, grandparent… up to init. */
function ancestors(pid: number): number[] {
  const chain: number[] = [];
  for (let p = pid; p > 1; ) chain.push((p = Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1])));
  return chain;
}

const pick = (s: Scrape, name: string, labels: Record<string, string> = {}) =>
  s.samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
const total = (s: Sample[]) => s.reduce((n, x) => n + x.value, 0);

/** One Gearman job through the gateway: the packet that ended it (WORK_COMPLETE or WORK_FAIL). */
async function gearmanJob(fn: string, params: Record<string, unknown>): Promise<number> {
  const c = await WireClient.connect(gearmanPort);
  try {
    c.send(P.SUBMIT_JOB, [fn, '', phpSerialize(params)]);
    assert.is((await c.next()).type, P.JOB_CREATED);
    return (await c.next(15_000)).type;
  } finally {
    c.close();
  }
}

const CARD = { pSN: '1234567890', pData: SEED_PDATA };
const BAD_CARD = { pSN: '1', pData: '1,2' };

test('jobs are labelled by error kind: ok, a bad request, no worker', async () => {
  for (let i = 0; i < 6; i++) await dips.call('ecard', CARD);
  const bad = await dips.call('ecard', BAD_CARD).then(() => undefined, (err: unknown) => err);
  assert.instance(bad, CallError);
  assert.is((bad as CallError).kind, 'BAD_REQUEST');
  assert.is(await gearmanJob('ecard', CARD), P.WORK_COMPLETE);
  assert.is(await gearmanJob('ecard', BAD_CARD), P.WORK_FAIL);
  assert.is(await gearmanJob('metrics_test_nobody_serves_this', {}), P.WORK_FAIL);

  const node = await scrape(agentPort);
  const ecard = (outcome: string) => total(pick(node, 'dips_worker_jobs_total', { function: 'ecard', outcome }));
  assert.ok(ecard('ok') >= 7, `ecard ok at the workers: ${ecard('ok')}`);
  assert.is(ecard('BAD_REQUEST'), 2, 'the bad card, direct and through the gateway, is a BAD_REQUEST');
  assert.is(ecard('INTERNAL'), 0, 'a bad request is not a fault');

  const gw = await scrape(gatewayMetricsPort);
  const gearman = (fn: string, outcome: string) => total(pick(gw, 'dips_gateway_jobs_total', { function: fn, outcome }));
  assert.is(gearman('ecard', 'ok'), 1);
  assert.is(gearman('ecard', 'BAD_REQUEST'), 1);
  // a name nobody serves is a caller's word, not a function: counted, but with no series of its own
  assert.is(gearman('(other)', 'NO_WORKER'), 1);
  assert.is(pick(gw, 'dips_gateway_jobs_total', { function: 'metrics_test_nobody_serves_this' }).length, 0);
  for (const s of [...pick(node, 'dips_worker_jobs_total'), ...pick(gw, 'dips_gateway_jobs_total')]) {
    assert.ok((OUTCOMES as readonly string[]).includes(s.labels.outcome), `outcome ${s.labels.outcome} is ok or an error kind`);
  }
});

test('each worker process is its own series (worker="<pid>"), nothing per-process is summed', async () => {
  const node = await scrape(agentPort);
  const fds = pick(node, 'process_max_fds', { role: 'worker' });
  const pids = fds.map((s) => s.labels.worker);
  assert.is(new Set(pids).size, 2, `two worker processes: ${JSON.stringify(fds)}`);
  for (const s of fds) {
    const pid = Number(s.labels.worker);
    // the agent's own children, and each one's real limit, not a sum of two
    assert.ok(ancestors(pid).includes(agent.child.pid!), `worker ${pid} runs under the agent`);
    const limit = Number(/^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))![1]);
    assert.is(s.value, limit, `process_max_fds of worker ${pid}`);
  }
  assert.is(pick(node, 'process_max_fds', { role: 'agent' }).length, 1);
  assert.is(pick(node, 'process_max_fds', { role: 'agent' })[0].labels.worker, undefined, "the agent's own series carry no worker label");
  // prom-client's cluster aggregation would drop it (aggregator 'omit'); per process it is meaningful
  assert.is(pick(node, 'process_start_time_seconds', { role: 'worker' }).length, 2);
  assert.is(pick(node, 'nodejs_eventloop_lag_p99_seconds', { role: 'worker' }).length, 2);
  for (const name of ['dips_worker_jobs_total', 'dips_worker_job_duration_seconds_bucket', 'dips_worker_jobs_in_flight', 'dips_worker_jobs_waiting']) {
    const series = pick(node, name);
    assert.ok(series.length > 0 && series.every((s) => pids.includes(s.labels.worker)), `${name} carries the worker label`);
  }
  // the node's jobs are the sum of its workers', as PromQL's sum without (worker) gives
  assert.ok(total(pick(node, 'dips_worker_jobs_total', { function: 'ecard' })) >= 8);
});

test('duration buckets resolve sub-millisecond jobs and reach the job time limit', async () => {
  const limitSeconds = loadConfig({ argv: [], env: {} }).images.timeLimitMs / 1000;
  for (const [port, name] of [[agentPort, 'dips_worker_job_duration_seconds_bucket'], [gatewayMetricsPort, 'dips_gateway_job_duration_seconds_bucket']] as const) {
    const buckets = pick(await scrape(port), name, { function: 'ecard' });
    const bounds = [...new Set(buckets.map((b) => b.labels.le))].filter((le) => le !== '+Inf').map(Number);
    assert.ok(bounds.filter((b) => b < 0.001).length >= 3, `${name}: at least three buckets under 1 ms: ${bounds.join(' ')}`);
    assert.ok(bounds.includes(limitSeconds), `${name}: a bucket at images.timeLimitMs (${limitSeconds} s): ${bounds.join(' ')}`);
  }
});

test('alert rules: promtool checks them and runs their unit tests', () => {
  const check = promtool('check', 'rules', ALERTS);
  if (!check) return;
  assert.ok(check.ok, check.out);
  const unit = promtool('test', 'rules', ALERT_TESTS);
  assert.ok(unit?.ok, unit?.out);
});

/** The `expr:` of every rule in a rule file (a plain value or a `|` block). */
function ruleExpressions(yaml: string): string[] {
  const lines = yaml.split('\n');
  const exprs: string[] = [];
  lines.forEach((line, i) => {
    const m = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (!m) return;
    if (!/^[|>]-?$/.test(m[2])) return void exprs.push(m[2]);
    const block: string[] = [];
    for (let j = i + 1; j < lines.length && (lines[j].trim() === '' || /^\s*/.exec(lines[j])![0].length > m[1].length); j++) block.push(lines[j].trim());
    exprs.push(block.join(' '));
  });
  return exprs;
}

const NOT_METRICS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'inf', 'nan']);

/** The series names a PromQL expression reads: identifiers outside strings, label matchers, ranges and label lists, not followed by "(". */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)]
    .filter((m) => !/^\s*\(/.test(bare.slice(m.index! + m[0].length)) && !NOT_METRICS.has(m[0].toLowerCase()))
    .map((m) => m[0]);
}

interface Dashboard {
  panels: Array<{ targets?: Array<{ expr: string }>; datasource?: { uid?: string } }>;
  templating: { list: Array<{ name: string; type: string; query?: unknown; datasource?: { uid?: string } }> };
}

test('every series the alerts and the dashboard query is in a real scrape', async () => {
  const scraped = new Set([...(await scrape(agentPort)).names, ...(await scrape(gatewayMetricsPort)).names]);
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  const exprs = ruleExpressions(readFileSync(ALERTS, 'utf8'));
  const rules = promtool('check', 'rules', ALERTS);
  if (rules) assert.ok(rules.out.includes(`SUCCESS: ${exprs.length} rules found`), `every rule's expr was read: ${exprs.length}; promtool: ${rules.out}`);
  const panelExprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
  assert.ok(panelExprs.length > 10, 'the dashboard has its queries');
  // the data source is chosen on import: every panel and query variable uses ${datasource}
  assert.ok(dashboard.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'));
  for (const p of dashboard.panels) if (p.targets) assert.is(p.datasource?.uid, '${datasource}');
  const variableMetrics = dashboard.templating.list.flatMap((v) => [...JSON.stringify(v.query ?? '').matchAll(/label_values\((\w+)/g)].map((m) => m[1]));
  const missing: string[] = [];
  for (const [where, names] of [
    ...exprs.map((e) => [`alerts.yml: ${e}`, metricNames(e)] as const),
    ...panelExprs.map((e) => [`dips.json: ${e}`, metricNames(e)] as const),
    ['dips.json variables', variableMetrics] as const,
  ]) {
    assert.ok(names.length > 0, `no series found in ${where}`);
    for (const name of names) if (!scraped.has(name) && !PROMETHEUS_OWN.has(name)) missing.push(`${name} (${where})`);
  }
  assert.equal(missing, [], 'series queried that no DIPS process exports');
});

test("a NATS node that stops drops out of the cluster the agent's node reports", async () => {
  const gauge = async (name: string) => pick(await scrape(agentPort), name, { role: 'agent' })[0]?.value;
  assert.is(await gauge('dips_nats_connected'), 1);
  assert.is(await gauge('dips_nats_cluster_nodes'), 2);
  await cluster.nodes[1].stop();
  await waitFor(async () => (await gauge('dips_nats_cluster_nodes')) === 1 && (await gauge('dips_nats_connected')) === 1, 20_000, 'the agent to report one NATS node');
  await cluster.restart(1);
  await waitFor(async () => (await gauge('dips_nats_cluster_nodes')) === 2, 20_000, 'the agent to report both NATS nodes again');
});

test.run();
