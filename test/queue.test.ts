/**
 * Jobs wait, none is lost (gearmand's queue semantics through the gateway and
 * for native callers): bursts far beyond the worker slots, background jobs
 * before any worker exists, priorities, unique "-", odd function names, long
 * host names, a SIGKILLed gateway holding background jobs, idle connections,
 * cancel and maxqueue, and a task set from the pure-Perl client. Real PHP and
 * Perl clients, real PHP workers, real nats-server.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../src/control/nats-node.js';
import { PacketType as P } from '../src/gateway/protocol/constants.js';
import type { DipsClient } from '../src/client/index.js';
import { clientFor, startCluster, startProcess, startWorker, waitFor, type Cluster, type Proc } from './harness.js';
import { runPhp } from './php.js';
import { WireClient } from './gearman-wire.js';
import { phpSerialize } from '../src/mesh/codec/php.js';

let cluster: Cluster;
let gateways: Proc[];
let ports: number[];
let metricsPort: number;
let workers: Proc[];
let dips: DipsClient;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dips-queue-'));
const phpWorkers: ChildProcess[] = [];

/** A PHP worker for one function that appends each workload to a file (argv: port, function, file, ms per job). */
const RECORDING_WORKER = `<?php
$w = new GearmanWorker();
$w->addServer('127.0.0.1', (int)$argv[1]);
$w->addFunction($argv[2], function (GearmanJob $job) use ($argv) {
  file_put_contents($argv[3], $job->workload() . "\\n", FILE_APPEND | LOCK_EX);
  usleep((int)$argv[4] * 1000);
  return strtoupper($job->workload());
});
while ($w->work());
`;

function startPhpWorker(port: number, fn: string, file: string, ms = 0): ChildProcess {
  const child = spawn('php', [path.join(tmp, 'worker.php'), String(port), fn, file, String(ms)], { stdio: 'ignore' });
  phpWorkers.push(child);
  return child;
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

const gatewayEnv = (port: number) => ({ DIPS_GATEWAY_PORT: String(port), DIPS_GATEWAY_DATA_DIR: path.join(tmp, `gw-${port}`) });

/** A metric of the first gateway: the first line starting with `prefix`. */
async function counter(prefix: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return Number(text.split('\n').find((l) => l.startsWith(prefix))?.split(' ').pop() ?? 0);
}

/** Jobs of `fn` the first gateway finished ok, or failed with any error kind. */
async function jobsTotal(fn: string, outcome: 'ok' | 'error'): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const lines = text.split('\n').filter((l) => l.startsWith(`dips_gateway_jobs_total{function="${fn}",`) && l.includes('outcome="ok"') === (outcome === 'ok'));
  return lines.reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

test.before(async () => {
  writeFileSync(path.join(tmp, 'worker.php'), RECORDING_WORKER);
  cluster = await startCluster();
  ports = [await freePort(), await freePort()];
  metricsPort = await freePort();
  gateways = [
    await startProcess('gateway', cluster, { ...gatewayEnv(ports[0]), DIPS_GATEWAY_METRICS_PORT: String(metricsPort) }),
    await startProcess('gateway', cluster, gatewayEnv(ports[1])),
  ];
  // two worker processes with two slots each: 4 jobs run at once, the rest wait
  workers = await Promise.all([0, 1].map(() => startWorker(cluster, { DIPS_WORKER_FUNCTIONS: 'delay,echo', DIPS_WORKER_CONCURRENCY: '2' })));
  dips = clientFor(cluster, 120_000);
});
test.after(async () => {
  for (const w of phpWorkers) w.kill('SIGKILL');
  await dips?.close();
  await Promise.all([...(gateways ?? []), ...(workers ?? [])].map((p) => p.stop()));
  await cluster?.stop();
});

test('a burst of 1100 foreground 20 ms jobs from one PHP client in one runTasks: every one completes (4 worker slots)', async () => {
  const php = await runPhp(`
    $c = new GearmanClient(); $c->addServer('127.0.0.1', ${ports[0]});
    $done = 0; $other = [];
    $c->setCompleteCallback(function ($t) use (&$done) { $done++; });
    $c->setFailCallback(function ($t) use (&$other) { $other[] = 'fail'; });
    $c->setExceptionCallback(function ($t) use (&$other) { $other[] = $t->data(); });
    for ($i = 0; $i < 1100; $i++) $c->addTask('delay', serialize(['ms' => 20, 'value' => $i]));
    $c->runTasks();
    echo json_encode(['done' => $done, 'other' => array_slice($other, 0, 3), 'rc' => $c->returnCode()]);`, undefined, 120_000);
  assert.is(php.code, 0, php.stderr);
  const out = JSON.parse(php.stdout.toString());
  assert.equal(out.other, [], 'no failures');
  assert.is(out.done, 1100);
});

test('2000 background jobs: all accepted, known to GET_STATUS while they wait, and every one runs', async () => {
  const before = await jobsTotal('delay', 'ok');
  const php = await runPhp(`
    $c = new GearmanClient(); $c->addServer('127.0.0.1', ${ports[0]});
    $handles = [];
    for ($i = 0; $i < 2000; $i++) $handles[] = $c->doBackground('delay', serialize(['ms' => 20]));
    $last = $c->jobStatus(end($handles));
    echo json_encode(['handles' => count(array_unique(array_filter($handles))), 'last' => $last]);`, undefined, 60_000);
  assert.is(php.code, 0, php.stderr);
  const out = JSON.parse(php.stdout.toString());
  assert.is(out.handles, 2000, 'every job got its own handle');
  assert.equal(out.last.slice(0, 2), [true, false], 'the last one is known and waiting');
  await waitFor(async () => (await jobsTotal('delay', 'ok')) - before >= 2000, 60_000, '2000 background jobs to run');
  assert.is(await jobsTotal('delay', 'error'), 0, 'none failed');
  const ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
  assert.equal([ready.status, await ready.text()], [200, 'ready\n'], 'the gateway says it is ready beside its metrics');
});

test('5000 concurrent native calls of a 20 ms function with 2 workers all complete', async () => {
  const results = await Promise.all(Array.from({ length: 5000 }, (_, i) => dips.call('delay', { ms: 20, value: i }).then((v) => v === i, () => false)));
  assert.is(results.filter(Boolean).length, 5000);
});

test('background jobs for a function nobody serves wait, then run HIGH, NORMAL, LOW, first in first out, once a PHP worker joins', async () => {
  const file = path.join(tmp, 'ordered.txt');
  const php = await runPhp(`
    $c = new GearmanClient(); $c->addServer('127.0.0.1', ${ports[0]});
    foreach ([1, 2, 3] as $i) {
      $c->doLowBackground('ordered', "L$i"); $c->doBackground('ordered', "N$i"); $c->doHighBackground('ordered', "H$i");
    }
    echo 'ok';`);
  assert.is(php.code, 0, php.stderr);
  await new Promise((r) => setTimeout(r, 2500)); // longer than any old "no worker" grace
  startPhpWorker(ports[0], 'ordered', file);
  await waitFor(() => lines(file).length >= 9, 20_000, 'nine jobs to run');
  assert.equal(lines(file), ['H1', 'H2', 'H3', 'N1', 'N2', 'N3', 'L1', 'L2', 'L3']);
});

test('unique "-" means a hash of the data: different data, both results; same data, one job and both results', async () => {
  const php = await runPhp(`
    $c = new GearmanClient(); $c->addServer('127.0.0.1', ${ports[1]});
    $got = [];
    $c->setCompleteCallback(function ($t) use (&$got) { $got[] = $t->data(); });
    $c->addTask('echo', 'first', null, '-'); $c->addTask('echo', 'second', null, '-');
    $c->addTask('delay', serialize(['ms' => 300, 'value' => 'same']), null, '-');
    $c->addTask('delay', serialize(['ms' => 300, 'value' => 'same']), null, '-');
    $c->setTimeout(10000);
    $c->runTasks();
    sort($got);
    echo json_encode($got);`);
  assert.is(php.code, 0, php.stderr);
  assert.equal(JSON.parse(php.stdout.toString()), ['first', 's:4:"same";', 's:4:"same";', 'second']);
});

test('a function named image.resize:v2 works end to end and shows as itself in status', async () => {
  const file = path.join(tmp, 'dotted.txt');
  startPhpWorker(ports[1], 'image.resize:v2', file);
  const php = await runPhp(`
    $c = new GearmanClient(); $c->addServer('127.0.0.1', ${ports[0]}); $c->setTimeout(10000);
    echo $c->doNormal('image.resize:v2', 'small');`);
  assert.is(php.code, 0, php.stderr);
  assert.is(php.stdout.toString(), 'SMALL');
  // the worker is on the other gateway: this one learns of it from the mesh, as an operator re-running gearadmin would
  await waitFor(() => {
    const status = spawnSync('gearadmin', ['-h', '127.0.0.1', '-p', String(ports[0]), '--status'], { encoding: 'utf8' }).stdout;
    return /^image\.resize:v2\t\d+\t\d+\t1$/m.test(status);
  }, 5000, "image.resize:v2 with 1 worker in gearadmin --status");
  assert.is((await dips.call('image.resize:v2', Buffer.from('native'))) instanceof Uint8Array, true);
});

test('job handles stay within 63 bytes whatever the host name; past the byte limit a submission gets QUEUE_ERROR naming it', async () => {
  const port = await freePort();
  const longHost = 'a-very-long-host-name.'.repeat(5);
  const gw = await startProcess('gateway', cluster, { ...gatewayEnv(port), DIPS_GATEWAY_HANDLE_HOST: longHost, DIPS_QUEUE_MAX_WAITING_BYTES: '4096' });
  try {
    const c = await WireClient.connect(port);
    c.send(P.SUBMIT_JOB_BG, ['nobody-serves-this', '', Buffer.alloc(3000)]);
    assert.is((await c.next()).type, P.JOB_CREATED, 'within the limit');
    c.send(P.SUBMIT_JOB_BG, ['nobody-serves-this', '', Buffer.alloc(3000)]);
    const full = await c.next();
    assert.equal([full.type, full.args[0].toString()], [P.ERROR, 'QUEUE_ERROR']);
    assert.match(full.args[1].toString(), /^Queue full: 3000 bytes of jobs held by this gateway, limit 4096 bytes \(queue\.maxWaitingBytes\)$/);
    c.close();
    const php = await runPhp(`
      $c = new GearmanClient(); $c->addServer('127.0.0.1', ${port});
      $h = $c->doBackground('delay', serialize(['ms' => 400]));
      usleep(100000);
      echo json_encode(['handle' => $h, 'status' => $c->jobStatus($h), 'normal' => $c->doNormal('echo', 'fine')]);`);
    assert.is(php.code, 0, php.stderr);
    const out = JSON.parse(php.stdout.toString());
    assert.ok(out.handle.length <= 63, `${out.handle.length} bytes`);
    assert.match(out.handle, /^H:a-very-long-host-name\.[-a-z.]*:\d+$/);
    assert.equal(out.status, [true, true, 0, 0], 'the cut handle is found again');
    assert.is(out.normal, 'fine');
  } finally {
    await gw.stop();
  }
});

test('SIGKILL of a gateway holding 200 queued background jobs: restarted, it runs all 200', async () => {
  const port = await freePort();
  const file = path.join(tmp, 'persist.txt');
  let gw = await startProcess('gateway', cluster, gatewayEnv(port));
  const php = await runPhp(`
    $c = new GearmanClient(); $c->addServer('127.0.0.1', ${port});
    $n = 0;
    for ($i = 0; $i < 200; $i++) if ($c->doBackground('persist', "job-$i") && $c->returnCode() == GEARMAN_SUCCESS) $n++;
    echo $n;`);
  assert.is(php.stdout.toString(), '200', php.stderr);
  gw.child.kill('SIGKILL');
  await new Promise((r) => gw.child.once('exit', r));
  gw = await startProcess('gateway', cluster, gatewayEnv(port));
  try {
    const status = spawnSync('gearadmin', ['-h', '127.0.0.1', '-p', String(port), '--status'], { encoding: 'utf8' });
    assert.match(status.stdout, /^persist\t200\t0\t0$/m, 'all 200 back after the restart, waiting');
    startPhpWorker(port, 'persist', file);
    await waitFor(() => new Set(lines(file)).size >= 200, 30_000, '200 jobs to run');
    assert.equal(new Set(lines(file)), new Set(Array.from({ length: 200 }, (_, i) => `job-${i}`)));
  } finally {
    await gw.stop();
  }
});

test('idle connections stay open: a PHP worker and a client idle past every gateway timer still work', async () => {
  const file = path.join(tmp, 'idle.txt');
  startPhpWorker(ports[0], 'idlefn', file);
  const client = await WireClient.connect(ports[1]);
  await waitFor(async () => (await dips.call('idlefn', Buffer.from('warm'), { timeoutMs: 5000 }).then(() => true, () => false)), 10_000, 'the PHP worker');
  await new Promise((r) => setTimeout(r, 5000)); // longer than heartbeats (1 s), ack (2 s) and liveness (3.5 s) timers
  client.send(P.SUBMIT_JOB, ['idlefn', '', 'after-idle']);
  assert.is((await client.next()).type, P.JOB_CREATED);
  const done = await client.next();
  assert.is(done.type, P.WORK_COMPLETE);
  assert.is(done.args[1].toString(), 'AFTER-IDLE');
  client.close();
});

test('cancel job sends WORK_FAIL to the waiting client; maxqueue is enforced per function and priority', async () => {
  const admin = await WireClient.connect(ports[0]);
  const waiter = await WireClient.connect(ports[0]);
  waiter.send(P.SUBMIT_JOB, ['nobody-serves-this', '', 'x']);
  const handle = (await waiter.next()).args[0].toString();
  admin.raw(`cancel job ${handle}\n`);
  assert.is(await admin.textReply(), 'OK\r\n');
  const fail = await waiter.next();
  assert.equal([fail.type, fail.args[0].toString()], [P.WORK_FAIL, handle]);

  admin.raw('maxqueue capped 1 2 0\n');
  assert.is(await admin.textReply(), 'OK\r\n');
  const codes: string[] = [];
  for (const type of [P.SUBMIT_JOB_HIGH_BG, P.SUBMIT_JOB_HIGH_BG, P.SUBMIT_JOB_BG, P.SUBMIT_JOB_BG, P.SUBMIT_JOB_BG, P.SUBMIT_JOB_LOW_BG, P.SUBMIT_JOB_LOW_BG]) {
    waiter.send(type, ['capped', '', 'x']);
    const reply = await waiter.next();
    codes.push(reply.type === P.JOB_CREATED ? 'created' : reply.args[0].toString());
  }
  assert.equal(codes, ['created', 'QUEUE_ERROR', 'created', 'created', 'QUEUE_ERROR', 'created', 'created']);
  admin.raw('prioritystatus\n');
  assert.match(await admin.textReply(), /^capped\t1\t2\t2\t0$/m);
  admin.close();
  waiter.close();
});

test('unique ids up to 64 bytes; an empty one never coalesces; a background job that fails is logged with its handle and counted', async () => {
  const c = await WireClient.connect(ports[0]);
  c.send(P.SUBMIT_JOB, ['echo', 'u'.repeat(64), 'sixty-four']);
  assert.is((await c.next()).type, P.JOB_CREATED);
  assert.is((await c.next()).args[1].toString(), 'sixty-four');
  c.send(P.SUBMIT_JOB, ['echo', 'u'.repeat(65), 'too long']);
  const tooLong = await c.next();
  assert.equal([tooLong.type, tooLong.args[0].toString()], [P.ERROR, 'ARGUMENT_TOO_LARGE']);
  for (let i = 0; i < 2; i++) c.send(P.SUBMIT_JOB, ['delay', '', phpSerialize({ ms: 200, value: 'x' })]);
  const handles = [(await c.next()).args[0].toString(), (await c.next()).args[0].toString()];
  assert.is(new Set(handles).size, 2, 'two jobs, not one');
  await c.next();
  await c.next();
  const failed = () => counter('dips_gateway_background_jobs_failed_total{function="delay"');
  const failedBefore = await failed();
  c.send(P.SUBMIT_JOB_BG, ['delay', '', phpSerialize({ ms: 'soon' })]);
  const handle = (await c.next()).args[0].toString();
  await waitFor(async () => (await failed()) === failedBefore + 1, 10_000, 'the failure to be counted');
  assert.match(gateways[0].logs(), new RegExp(`"handle":"${handle}".*"msg":"background job failed"`));
  c.close();
});

test('a task set of 20 echo jobs from the pure-Perl client (Gearman::Client) gets all 20 results, round after round', () => {
  const perl = `use Gearman::Client; my $c = Gearman::Client->new; $c->job_servers("127.0.0.1:${ports[0]}");
    for my $v (0..2) { for my $round (1..6) {
      my $ts = $c->new_task_set; my $got = 0;
      for my $i (1..20) { my %o = (on_complete => sub { $got++ }); $o{uniq} = '-' if $v == 2; $ts->add_task('echo', $v == 0 ? "r$round-$i" : 'same', \\%o); }
      $ts->wait(timeout => 10); print "$got ";
    } }`;
  const r = spawnSync('perl', ['-e', perl], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split(' ').map(Number), Array(18).fill(20));
});

test.run();
