/**
 * Legacy Gearman workers (php8.2-gearman, gearman-tools) joining the mesh
 * through a gateway, and streamed data / warnings / status end to end.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../src/control/nats-node.js';
import type { DipsClient, JobEvent } from '../src/client/index.js';
import { CallError } from '../src/client/index.js';
import { clientFor, startCluster, startProcess, startWorker, waitFor, type Cluster, type Proc } from './harness.js';
import { runPhp } from './php.js';

let cluster: Cluster;
let gateways: Proc[];
let ports: number[];
let native: Proc;
let dips: DipsClient;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dips-legacy-'));
const legacyWorkers: ChildProcess[] = [];

const WORKER_PHP = `<?php
$w = new GearmanWorker();
$w->addServer('127.0.0.1', (int)$argv[1]);
$w->addFunction('shout', function (GearmanJob $job) {
  $in = $job->workload();
  if ($in === 'fail') { $job->sendFail(); return GEARMAN_WORK_FAIL; }
  if ($in === 'boom') { $job->sendException('boom went the worker'); return GEARMAN_WORK_EXCEPTION; }
  $job->sendStatus(1, 3);
  $job->sendData('part1');
  $job->sendWarning('careful');
  $job->sendStatus(2, 3);
  $job->sendData('part2');
  return strtoupper($in);
});
$slow = function (GearmanJob $job) {
  file_put_contents(getenv('DIPS_TEST_PIDFILE'), getmypid());
  sleep(2);
  return strtoupper($job->workload());
};
$w->addFunction('slowshout', $slow); // named in gateway.idempotentFunctions
$w->addFunction('slowonce', $slow);
while ($w->work());
`;

function startLegacyWorker(port: number): ChildProcess {
  const child = spawn('php', [path.join(tmp, 'worker.php'), String(port)], { stdio: 'ignore', env: { ...process.env, DIPS_TEST_PIDFILE: path.join(tmp, 'busy.pid') } });
  legacyWorkers.push(child);
  return child;
}

async function workerCount(fn: string, port: number): Promise<number> {
  const r = spawnSync('gearadmin', ['-h', '127.0.0.1', '-p', String(port), '--status'], { encoding: 'utf8' });
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${fn}\t`));
  return Number(line?.split('\t')[3] ?? 0);
}

test.before(async () => {
  writeFileSync(path.join(tmp, 'worker.php'), WORKER_PHP);
  cluster = await startCluster();
  ports = [await freePort(), await freePort()];
  gateways = await Promise.all(ports.map((port) => startProcess('gateway', cluster, { DIPS_GATEWAY_PORT: String(port), DIPS_GATEWAY_IDEMPOTENT_FUNCTIONS: 'slowshout' })));
  native = await startWorker(cluster, { DIPS_WORKER_FUNCTIONS: 'delay' });
  dips = clientFor(cluster);
  startLegacyWorker(ports[0]);
  await waitFor(async () => (await workerCount('shout', ports[1])) === 1, 10_000, 'the PHP worker to join the mesh');
});
test.after(async () => {
  for (const w of legacyWorkers) w.kill('SIGKILL');
  await dips?.close();
  await Promise.all([...(gateways ?? []), native].filter(Boolean).map((p) => p.stop()));
  await cluster?.stop();
});

const CLIENT_CALLBACKS = `
  $ev = [];
  $c->setDataCallback(function($t) use (&$ev) { $ev[] = 'data:' . $t->data(); });
  $c->setWarningCallback(function($t) use (&$ev) { $ev[] = 'warning:' . $t->data(); });
  $c->setStatusCallback(function($t) use (&$ev) { $ev[] = 'status:' . $t->taskNumerator() . '/' . $t->taskDenominator(); });
  $c->setCompleteCallback(function($t) use (&$ev) { $ev[] = 'complete:' . $t->data(); });
  $c->setFailCallback(function($t) use (&$ev) { $ev[] = 'fail'; });
  $c->setExceptionCallback(function($t) use (&$ev) { $ev[] = 'exception:' . $t->data(); });`;

test('a PHP worker on gateway A serves a PHP client on gateway B: data, warning, status, exception, fail in order', async () => {
  const php = await runPhp(`
    $c = new GearmanClient(); $c->addServer('127.0.0.1', ${ports[1]});
    ${CLIENT_CALLBACKS}
    foreach (['hello', 'fail', 'boom'] as $in) { $c->addTask('shout', $in); $c->runTasks(); }
    echo json_encode($ev);`);
  assert.is(php.code, 0, php.stderr);
  assert.equal(JSON.parse(php.stdout.toString()), [
    'status:1/3', 'data:part1', 'warning:careful', 'status:2/3', 'data:part2', 'complete:HELLO',
    'fail',
    'exception:boom went the worker',
  ]);
});

test('the same PHP worker serves a native NATS caller, events streamed in order', async () => {
  const events: string[] = [];
  for await (const item of dips.stream('shout', Buffer.from('native'))) {
    if (item.kind === 'result') events.push(`result:${Buffer.from(item.reply.bytes).toString()}`);
    else events.push(`${item.kind}:${item.kind === 'status' ? `${item.numerator}/${item.denominator}` : Buffer.from(item.data).toString()}`);
  }
  assert.equal(events, ['status:1/3', 'data:part1', 'warning:careful', 'status:2/3', 'data:part2', 'result:NATIVE']);
  try {
    await dips.call('shout', Buffer.from('boom'));
    assert.unreachable();
  } catch (err) {
    assert.instance(err, CallError);
    assert.is((err as Error).message, 'boom went the worker');
  }
});

test('a native worker streams status to Gearman callers; background GET_STATUS shows its numerator/denominator', async () => {
  const php = await runPhp(`
    $c = new GearmanClient(); $c->addServer('127.0.0.1', ${ports[1]});
    ${CLIENT_CALLBACKS}
    $c->addTask('delay', serialize(['ms' => 300, 'steps' => 3, 'value' => 'done']));
    $c->runTasks();
    $h = $c->doBackground('delay', serialize(['ms' => 1600, 'steps' => 4]));
    usleep(900000);
    $ev[] = json_encode($c->jobStatus($h));
    echo json_encode($ev);`);
  assert.is(php.code, 0, php.stderr);
  const ev = JSON.parse(php.stdout.toString());
  assert.equal(ev.slice(0, 4), ['status:1/3', 'status:2/3', 'status:3/3', 'complete:s:4:"done";']);
  const [known, running, numerator, denominator] = JSON.parse(ev[4]);
  assert.equal([known, running, denominator], [true, true, 4]);
  assert.ok(numerator >= 1 && numerator <= 3, `numerator ${numerator}`);
  const seen: JobEvent[] = [];
  await dips.call('delay', { ms: 60, steps: 3 }, { onEvent: (e) => seen.push(e) });
  assert.equal(seen.map((e) => `${e.numerator}/${e.denominator}`), ['1/3', '2/3', '3/3']);
});

test('admin status and workers include the legacy worker', () => {
  const workers = spawnSync('gearadmin', ['-h', '127.0.0.1', '-p', String(ports[0]), '--workers'], { encoding: 'utf8' });
  assert.match(workers.stdout, /^\d+ 127\.0\.0\.1 \S+ : shout slowonce slowshout$/m, workers.stdout);
  const other = spawnSync('gearadmin', ['-h', '127.0.0.1', '-p', String(ports[1]), '--workers'], { encoding: 'utf8' });
  assert.match(other.stdout, /^- 127\.0\.0\.1 gearman-\d+ : shout slowonce slowshout$/m, other.stdout);
  const status = spawnSync('gearadmin', ['-h', '127.0.0.1', '-p', String(ports[1]), '--status'], { encoding: 'utf8' });
  assert.match(status.stdout, /^shout\t0\t0\t1$/m);
});

/** Start `fn` on a PHP worker and SIGKILL that worker once it holds the job; its pid. */
async function killWhileRunning(): Promise<number> {
  const pidFile = path.join(tmp, 'busy.pid');
  await waitFor(() => {
    try {
      return readFileSync(pidFile, 'utf8').length > 0;
    } catch {
      return false;
    }
  }, 5000, 'a worker to start the job');
  const busy = Number(readFileSync(pidFile, 'utf8'));
  writeFileSync(pidFile, '');
  process.kill(busy, 'SIGKILL');
  return busy;
}

test('a PHP worker killed mid-job: an idempotent function\'s job completes on another worker; any other\'s caller is told, and it is not run again', async () => {
  startLegacyWorker(ports[1]);
  startLegacyWorker(ports[1]);
  await waitFor(async () => (await workerCount('slowshout', ports[0])) >= 3, 10_000, 'more PHP workers');
  const call = dips.call('slowshout', Buffer.from('survive'), { timeoutMs: 20_000 });
  const busy = await killWhileRunning();
  assert.is(Buffer.from((await call) as Uint8Array).toString(), 'SURVIVE');
  const rerun = Number(readFileSync(path.join(tmp, 'busy.pid'), 'utf8'));
  assert.ok(rerun > 0 && rerun !== busy, 'ran again on the other worker');

  writeFileSync(path.join(tmp, 'busy.pid'), '');
  const once = dips.call('slowonce', Buffer.from('once'), { timeoutMs: 20_000 }).catch((err: unknown) => err);
  await killWhileRunning();
  const err = (await once) as CallError;
  assert.instance(err, CallError);
  assert.match(err.message, /slowonce: its Gearman worker disconnected while running it; not run again here/);
  await new Promise((r) => setTimeout(r, 2500));
  assert.is(readFileSync(path.join(tmp, 'busy.pid'), 'utf8'), '', 'no other worker started it');
});

test('a `gearman -w` worker from gearman-tools serves calls from PHP and native callers', async () => {
  const rev = spawn('gearman', ['-h', '127.0.0.1', '-p', String(ports[0]), '-w', '-f', 'rev', '--', 'rev'], { stdio: 'ignore' });
  legacyWorkers.push(rev);
  await waitFor(async () => (await workerCount('rev', ports[1])) === 1, 10_000, 'the gearman -w worker');
  const php = await runPhp(`$c = new GearmanClient(); $c->addServer('127.0.0.1', ${ports[1]}); echo $c->doNormal('rev', "hello\\n");`);
  assert.is(php.stdout.toString(), 'olleh\n');
  assert.is(Buffer.from((await dips.call('rev', Buffer.from('native\n'))) as Uint8Array).toString(), 'evitan\n');
});

test('when the last legacy worker leaves, its function leaves the mesh: calls wait for a new one', async () => {
  for (const w of legacyWorkers) w.kill('SIGKILL');
  await waitFor(async () => (await workerCount('shout', ports[1])) === 0, 10_000, 'the workers to leave');
  try {
    await dips.call('shout', Buffer.from('anyone?'), { timeoutMs: 500 });
    assert.unreachable();
  } catch (err) {
    assert.is((err as Error).message, 'no worker for shout: none served it within 500 ms');
  }
  const waiting = dips.call('shout', Buffer.from('later'), { timeoutMs: 20_000 });
  await new Promise((r) => setTimeout(r, 500));
  startLegacyWorker(ports[1]);
  assert.is(Buffer.from((await waiting) as Uint8Array).toString(), 'LATER', 'the call waited for the new worker');
});

test.run();
