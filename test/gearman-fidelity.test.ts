/**
 * What other Gearman clients and workers see, through the gateway and through
 * gearmand 1.1 with the same assertions, so a difference shows as a failing
 * test: unique ids reach the worker, a job has one handle (the client's and the
 * worker's are the same), handles have gearmand's form H:<host>:<number>, and
 * jobs that arrive in one write run highest priority first. Clients: PHP's
 * gearman extension (libgearman) and gearmanode (pure JavaScript, not libgearman).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { freePort } from '../src/control/nats-node.js';
import { runPhp } from './php.js';
import { startCluster, startProcess, waitFor, type Cluster, type Proc } from './harness.js';

// gearmanode logs through its own winston, which warns on every line without a transport: give its loggers a silent one
const requireHere = createRequire(import.meta.url);
const winston = createRequire(requireHere.resolve('gearmanode'))('winston') as {
  transports: { Console: new (o: { silent: boolean }) => unknown };
  configure(o: { transports: unknown[] }): void;
  loggers: { options: { transports?: unknown[] } };
};
winston.configure({ transports: [new winston.transports.Console({ silent: true })] });
winston.loggers.options = { transports: [new winston.transports.Console({ silent: true })] };
const gearmanode = requireHere('gearmanode') as typeof import('gearmanode').default;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'dips-fidelity-'));
/** argv: port, function, record file, ms per job. Records "handle<TAB>unique<TAB>workload" per job, in the order run. */
writeFileSync(path.join(tmp, 'worker.php'), `<?php
$w = new GearmanWorker();
$w->addServer('127.0.0.1', (int)$argv[1]);
$w->addFunction($argv[2], function (GearmanJob $job) use ($argv) {
  file_put_contents($argv[3], $job->handle() . "\\t" . $job->unique() . "\\t" . $job->workload() . "\\n", FILE_APPEND | LOCK_EX);
  usleep((int)$argv[4] * 1000);
  return strtoupper($job->workload());
});
while ($w->work());
`);

interface Seen { handle: string; unique: string; workload: string }
const records = (file: string): Seen[] =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => { const [handle, unique, workload] = l.split('\t'); return { handle, unique, workload }; }) : [];

const HANDLE = /^H:[^:]+:\d+$/;

interface Target { name: string; port: number; stop(): Promise<void> }

async function gearmand(): Promise<Target> {
  const port = await freePort();
  const child = spawn('gearmand', ['-p', String(port), '-L', '127.0.0.1', '--log-file', 'none', '-t', '0'], { stdio: 'ignore' });
  await waitFor(async () => (await runPhp(`$c = new GearmanClient(); $c->addServer('127.0.0.1', ${port}); echo @$c->ping('x') ? 'up' : 'down';`)).stdout.toString() === 'up', 10_000, 'gearmand');
  return { name: 'gearmand', port, stop: async () => void child.kill('SIGKILL') };
}

let cluster: Cluster;
async function gateway(): Promise<Target> {
  const port = await freePort();
  const proc: Proc = await startProcess('gateway', cluster, { DIPS_GATEWAY_PORT: String(port) });
  return { name: 'gateway', port, stop: async () => void (await proc.stop()) };
}

const workers: ChildProcess[] = [];
function phpWorker(port: number, fn: string, file: string, ms = 0): ChildProcess {
  const child = spawn('php', [path.join(tmp, 'worker.php'), String(port), fn, file, String(ms)], { stdio: 'ignore' });
  workers.push(child);
  return child;
}

/** A worker is registered for `fn` once a job of it completes. */
async function ready(port: number, fn: string, file: string): Promise<void> {
  await waitFor(async () => (await runPhp(`$c = new GearmanClient(); $c->addServer('127.0.0.1', ${port}); $c->setTimeout(2000); echo @$c->doNormal('${fn}', 'ping', 'ready-probe');`)).stdout.toString() === 'PING', 15_000, `a worker for ${fn}`);
  writeFileSync(file, '');
}

test.before(async () => {
  cluster = await startCluster();
});
test.after(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await cluster?.stop();
});

/** PHP (libgearman): 20 background and 20 foreground jobs, each with its own unique id. */
async function phpUniques(target: Target): Promise<{ bgHandles: string[]; seen: Seen[] }> {
  const fn = `uniq-${target.name}`;
  const file = path.join(tmp, `${fn}.txt`);
  phpWorker(target.port, fn, file);
  await ready(target.port, fn, file);
  const out = await runPhp(`
    $c = new GearmanClient(); $c->addServer('127.0.0.1', ${target.port});
    $bg = [];
    for ($i = 0; $i < 20; $i++) $bg[] = $c->doBackground('${fn}', "bg$i", "bg-$i");
    for ($i = 0; $i < 20; $i++) if ($c->doNormal('${fn}', "fg$i", "fg-$i") !== "FG$i") exit(1);
    echo json_encode($bg);`);
  assert.is(out.code, 0, out.stderr.toString());
  await waitFor(() => records(file).length >= 40, 15_000, 'every job run');
  return { bgHandles: JSON.parse(out.stdout.toString()) as string[], seen: records(file) };
}

for (const make of [gearmand, gateway]) {
  test(`PHP client and worker (${make.name}): unique ids reach the worker; a background job has one handle, of gearmand's form`, async () => {
    const target = await make();
    try {
      const { bgHandles, seen } = await phpUniques(target);
      for (let i = 0; i < 20; i++) {
        assert.ok(seen.some((r) => r.unique === `fg-${i}` && r.workload === `fg${i}`), `fg-${i} reached the worker with its unique id`);
        const bg = seen.find((r) => r.workload === `bg${i}`);
        assert.is(bg?.unique, `bg-${i}`);
        assert.is(bg?.handle, bgHandles[i], 'the worker runs the job under the handle JOB_CREATED gave the client');
      }
      for (const r of seen) assert.match(r.handle, HANDLE);
    } finally {
      await target.stop();
    }
  });
}

/** gearmanode (not libgearman): background and foreground jobs with unique ids; handles as the client saw them. */
function nodeClient(port: number, fn: string): Promise<{ bgHandles: string[]; fgHandles: string[] }> {
  const client = gearmanode.client({ servers: [{ host: '127.0.0.1', port }] });
  const one = (i: number, background: boolean) =>
    new Promise<string>((resolve, reject) => {
      const job = client.submitJob(fn, `${background ? 'nbg' : 'nfg'}${i}`, { background, unique: `${background ? 'nbg' : 'nfg'}-${i}` });
      job.on(background ? 'created' : 'complete', () => resolve(job.handle as string));
      job.on('error', reject);
      job.on('failed', () => reject(new Error('WORK_FAIL')));
    });
  return (async () => {
    try {
      const bgHandles: string[] = [];
      for (let i = 0; i < 10; i++) bgHandles.push(await one(i, true));
      const fgHandles: string[] = [];
      for (let i = 0; i < 10; i++) fgHandles.push(await one(i, false));
      return { bgHandles, fgHandles };
    } finally {
      client.close();
    }
  })();
}

for (const make of [gearmand, gateway]) {
  test(`gearmanode client, PHP worker (${make.name}): unique ids and one handle for every job`, async () => {
    const target = await make();
    try {
      const fn = `node-${target.name}`;
      const file = path.join(tmp, `${fn}.txt`);
      phpWorker(target.port, fn, file);
      await ready(target.port, fn, file);
      const { bgHandles, fgHandles } = await nodeClient(target.port, fn);
      await waitFor(() => records(file).length >= 20, 15_000, 'every job run');
      const seen = records(file);
      for (let i = 0; i < 10; i++) {
        for (const [kind, handles] of [['nbg', bgHandles], ['nfg', fgHandles]] as const) {
          const r = seen.find((s) => s.workload === `${kind}${i}`);
          assert.is(r?.unique, `${kind}-${i}`);
          assert.is(r?.handle, handles[i], `${kind}${i}: one handle at both ends`);
          assert.match(r!.handle, HANDLE);
        }
      }
    } finally {
      await target.stop();
    }
  });
}

/** runTasks() sends every task in one write; the waiting worker runs them in this order. */
async function priorityOrder(target: Target): Promise<string[]> {
  const fn = `prio-${target.name}`;
  const file = path.join(tmp, `${fn}.txt`);
  phpWorker(target.port, fn, file, 50);
  await ready(target.port, fn, file);
  await new Promise((r) => setTimeout(r, 300)); // the worker is asleep (PRE_SLEEP), waiting
  const out = await runPhp(`
    $c = new GearmanClient(); $c->addServer('127.0.0.1', ${target.port});
    $c->addTaskLow('${fn}', 'low1');
    $c->addTask('${fn}', 'normal1');
    $c->addTaskHigh('${fn}', 'high1');
    $c->addTaskBackground('${fn}', 'normalbg');
    $c->addTaskLow('${fn}', 'low2');
    $c->addTaskHigh('${fn}', 'high2');
    $c->addTask('${fn}', 'normal2');
    if (!$c->runTasks()) exit(1);`);
  assert.is(out.code, 0, out.stderr.toString());
  await waitFor(() => records(file).length >= 7, 15_000, 'every task run');
  return records(file).map((r) => r.workload);
}

test('tasks that arrive in one write run highest priority first, in the order gearmand runs them', async () => {
  const orders: Record<string, string[]> = {};
  for (const make of [gearmand, gateway]) {
    const target = await make();
    try {
      orders[target.name] = await priorityOrder(target);
    } finally {
      await target.stop();
    }
  }
  const rank = (w: string) => (w.startsWith('high') ? 0 : w.startsWith('low') ? 2 : 1);
  const ranks = orders.gateway.map(rank);
  assert.equal(ranks, [...ranks].sort(), `highest priority first: ${orders.gateway.join(', ')}`);
  assert.equal(orders.gateway, orders.gearmand, 'the same order as gearmand');
});

test.run();
