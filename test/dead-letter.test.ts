/**
 * Background jobs have an end: a retry budget (gateway.backgroundAttempts), a
 * run time per attempt (queue.backgroundRunTimeoutMs) even while a worker says
 * "working", and dead letters an operator lists, retries and drops with
 * dipsctl and the dashboard. Real nats-server, gateways, a native worker, a
 * PHP Gearman worker that fails until a file says otherwise, a raw Gearman
 * worker that takes a job and goes silent, and a gateway SIGKILLed mid-job.
 * Stored jobs that wait for a function nobody serves: listed and flagged by
 * `dipsctl stored list` and the dashboard, dropped from the page (and never run
 * when a worker comes), moved to the dead letters with `dipsctl stored bury`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from 'nats';
import puppeteer from 'puppeteer-core';
import { freePort } from '../src/control/nats-node.js';
import { Executables } from '../src/control/spawn.js';
import { PacketType as P } from '../src/gateway/protocol/constants.js';
import { phpSerialize } from '../src/mesh/codec/php.js';
import type { DeadLetterReply, DeadLetterView, StoredJobsReply } from '../src/shared/dead-letter.js';
import { deadLetterSubject } from '../src/mesh/subjects.js';
import { chromiumPath, runDipsctl, startCluster, startProcess, startWorker, waitFor, type Cluster, type Proc } from './harness.js';
import { WireClient } from './gearman-wire.js';

let cluster: Cluster;
let gateway: Proc;
let port: number;
let worker: Proc;
let dashboard: Proc;
let dashboardUrl: string;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dips-dead-'));
const children: ChildProcess[] = [];
const RUN_TIMEOUT_MS = 2000;

/** A PHP worker (argv: port, function, dir) that records each attempt and fails with WORK_FAIL until <dir>/ok-<workload> exists. */
const FLAKY_WORKER = `<?php
$w = new GearmanWorker();
$w->addServer('127.0.0.1', (int)$argv[1]);
$w->addFunction($argv[2], function (GearmanJob $job) use ($argv) {
  $load = $job->workload();
  file_put_contents("$argv[3]/attempts-$load", "x\\n", FILE_APPEND | LOCK_EX);
  if (!file_exists("$argv[3]/ok-$load")) { $job->setReturn(GEARMAN_WORK_FAIL); return null; }
  file_put_contents("$argv[3]/done-$load", "done\\n", FILE_APPEND | LOCK_EX);
  return strtoupper($load);
});
// work() returns false after a WORK_FAIL: keep working (a lost gateway only slows the loop down)
for (;;) if (!@$w->work() && $w->returnCode() != GEARMAN_WORK_FAIL) usleep(100000);
`;

function startPhpWorker(gatewayPort: number, fn: string): void {
  children.push(spawn('php', [path.join(tmp, 'flaky.php'), String(gatewayPort), fn, tmp], { stdio: 'ignore' }));
}

const lines = (name: string) => (existsSync(path.join(tmp, name)) ? readFileSync(path.join(tmp, name), 'utf8').split('\n').filter(Boolean).length : 0);

const gatewayEnv = (p: number, dir: string) => ({
  DIPS_GATEWAY_PORT: String(p),
  DIPS_GATEWAY_DATA_DIR: path.join(tmp, dir),
  DIPS_GATEWAY_BACKGROUND_ATTEMPTS: '3',
  DIPS_QUEUE_BACKGROUND_RUN_TIMEOUT_MS: String(RUN_TIMEOUT_MS),
});

interface Ctl {
  code: number | null;
  out: string;
  err: string;
  json?: { replies: DeadLetterReply[] };
}

const dipsctl = (...args: string[]): Promise<Ctl> => runDipsctl<{ replies: DeadLetterReply[] }>(cluster, ...args);

/** Every gateway's dead letters, from `dipsctl dead-letter list --json`. */
async function deadLetters(): Promise<DeadLetterView[]> {
  const r = await dipsctl('dead-letter', 'list', '--json');
  assert.is(r.code, 0, r.err);
  return r.json!.replies.flatMap((g) => g.jobs ?? []);
}

const deadOne = async (handle: string) => (await deadLetters()).find((j) => j.handle === handle);

async function submitBackground(gatewayPort: number, fn: string, data: string | Buffer): Promise<string> {
  const c = await WireClient.connect(gatewayPort);
  c.send(P.SUBMIT_JOB_BG, [fn, '', data]);
  const created = await c.next();
  c.close();
  assert.is(created.type, P.JOB_CREATED);
  return created.args[0].toString();
}

/** A raw Gearman worker: register `fn`, then take one job (sleeping until one comes). */
async function rawWorker(gatewayPort: number, fn: string): Promise<WireClient> {
  const w = await WireClient.connect(gatewayPort);
  w.send(P.CAN_DO, [fn]);
  return w;
}

async function grab(w: WireClient, timeoutMs = 20_000): Promise<{ handle: string; data: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    w.send(P.GRAB_JOB, []);
    let p = await w.next(deadline - Date.now());
    if (p.type === P.NO_JOB) {
      w.send(P.PRE_SLEEP, []);
      do p = await w.next(deadline - Date.now());
      while (p.type !== P.NOOP);
      continue;
    }
    if (p.type !== P.JOB_ASSIGN) continue;
    const [handle, , ...data] = p.args[0].toString('latin1').split('\0');
    return { handle, data: data.join('\0') };
  }
}

test.before(async () => {
  writeFileSync(path.join(tmp, 'flaky.php'), FLAKY_WORKER);
  cluster = await startCluster();
  port = await freePort();
  gateway = await startProcess('gateway', cluster, gatewayEnv(port, 'gw-a'));
  worker = await startWorker(cluster, { DIPS_WORKER_FUNCTIONS: 'delay,echo' });
  const dashboardPort = await freePort();
  dashboard = await startProcess('dashboard', cluster, { DIPS_DASHBOARD_PORT: String(dashboardPort), DIPS_DASHBOARD_NATS_MONITOR_URLS: cluster.nodes.map((n) => `http://127.0.0.1:${n.httpPort}`).join(',') });
  dashboardUrl = `http://127.0.0.1:${dashboardPort}`;
  startPhpWorker(port, 'flaky');
});

test.after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all([gateway, worker, dashboard].filter(Boolean).map((p) => p.stop()));
  await cluster?.stop();
});

test('a job whose worker fails every time ends in the dead letters after 3 attempts; retried, it runs again; dropped, it is gone', async () => {
  const [one, two] = [await submitBackground(port, 'flaky', 'one'), await submitBackground(port, 'flaky', 'two')];
  await waitFor(async () => (await deadLetters()).length >= 2, 30_000, 'both jobs to be dead-lettered');
  assert.is(lines('attempts-one'), 3, 'three attempts, no more');
  assert.is(lines('attempts-two'), 3);
  const dead = (await deadOne(one))!;
  assert.equal([dead.fn, dead.attempts, dead.bytes], ['flaky', 3, 3]);
  assert.match(dead.lastError, /flaky: the Gearman worker reported failure/);
  assert.ok(dead.deadAt >= dead.createdAt + 3000, 'a pause (1 s, then 2 s) between attempts');
  assert.match(gateway.logs(), new RegExp(`"level":50[^\\n]*"handle":"${one}","fn":"flaky"[^\\n]*"msg":"background job failed"`), 'logged at error with handle and function');
  const table = await dipsctl('dead-letter', 'list');
  assert.match(table.out, /^gateway\s+handle\s+function\s+attempts\s+dead for\s+last error$/m, table.out);
  assert.ok(table.out.includes(one) && table.out.includes('the Gearman worker reported failure'), table.out);

  // nothing runs again unasked, not even after a while
  await new Promise((r) => setTimeout(r, 1500));
  assert.is(lines('attempts-one'), 3);

  writeFileSync(path.join(tmp, 'ok-one'), '');
  const retried = await dipsctl('dead-letter', 'retry', one);
  assert.is(retried.code, 0, retried.err);
  assert.match(retried.out, /is back in the queue with a fresh budget/);
  await waitFor(() => lines('done-one') === 1, 10_000, 'the retried job to succeed');
  assert.is(lines('attempts-one'), 4, 'one more attempt, and it worked');
  assert.is(await deadOne(one), undefined, 'no longer a dead letter');

  const dropped = await dipsctl('dead-letter', 'drop', two, '--json');
  assert.is(dropped.code, 0, dropped.err);
  assert.ok(dropped.json!.replies.some((r) => r.found && r.ok), JSON.stringify(dropped.json));
  assert.is(await deadOne(two), undefined, 'dropped');
  await new Promise((r) => setTimeout(r, 1000));
  assert.is(lines('attempts-two'), 3, 'a dropped job never runs');

  const again = await dipsctl('dead-letter', 'drop', two);
  assert.is(again.code, 1, 'no gateway holds it any more: exit 1');
  assert.match(again.err, /no gateway holds a dead letter/);
  const retryGone = await dipsctl('dead-letter', 'retry', two);
  assert.is(retryGone.code, 1);
});

test('a failure of the job itself (400: a bad parameter) is dead-lettered at once, with no other attempt', async () => {
  const handle = await submitBackground(port, 'delay', phpSerialize({ ms: 'soon' }));
  await waitFor(async () => (await deadOne(handle)) !== undefined, 10_000, 'the job to be dead-lettered');
  const dead = (await deadOne(handle))!;
  assert.is(dead.attempts, 1);
  assert.match(dead.lastError, /ms/);
});

test('a Gearman worker that takes a job, says nothing more (the gateway keeps saying "working") loses it after the run timeout', async () => {
  const silent = await rawWorker(port, 'hushed');
  const handle = await submitBackground(port, 'hushed', 'quiet-job');
  const taken = await grab(silent);
  assert.equal(taken, { handle, data: 'quiet-job' }, 'the silent worker holds it (under the handle its client got)');
  const takenAt = Date.now();
  // a healthy worker joins; the silent one never answers nor leaves
  writeFileSync(path.join(tmp, 'ok-quiet-job'), '');
  startPhpWorker(port, 'hushed');
  await waitFor(() => lines('done-quiet-job') === 1, RUN_TIMEOUT_MS + 15_000, 'the job to run elsewhere after the run timeout');
  assert.ok(Date.now() - takenAt >= RUN_TIMEOUT_MS, 'not before the run timeout');
  assert.match(gateway.logs(), new RegExp(`"handle":"${handle}"[^\\n]*queue\\.backgroundRunTimeoutMs[^\\n]*"msg":"background job attempt failed; it runs again"`));
  assert.is(silent.closed, false, 'the silent worker is still connected');
  silent.close();
});

test('a Gearman worker that disconnects while holding a job (a crash) costs an attempt each time: after 3 the job is dead, not handed out for ever', async () => {
  const handle = await submitBackground(port, 'crashy', 'crash-job');
  const seen: string[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    const w = await rawWorker(port, 'crashy');
    seen.push((await grab(w)).handle);
    w.close(); // gone while it held the job
  }
  await waitFor(async () => (await deadOne(handle)) !== undefined, 15_000, 'the job to be dead-lettered');
  const dead = (await deadOne(handle))!;
  assert.is(dead.attempts, 3);
  assert.match(dead.lastError, /crashy: its Gearman worker disconnected while running it/);
  assert.equal(seen, [handle, handle, handle], 'every attempt under the handle its client got');
  const late = await rawWorker(port, 'crashy');
  late.send(P.GRAB_JOB, []);
  assert.is((await late.next()).type, P.NO_JOB, 'nothing left to hand out');
  late.close();
});

test('a request to drop whose reply subject is not an inbox is neither answered nor acted on', async () => {
  const handle = await submitBackground(port, 'delay', phpSerialize({ ms: 'later' }));
  await waitFor(async () => (await deadOne(handle)) !== undefined, 10_000, 'the job to be dead-lettered');
  const nc = await connect({ servers: cluster.servers });
  const sub = nc.subscribe('dips.control.stop');
  let reflected = 0;
  void (async () => {
    for await (const _ of sub) reflected++;
  })();
  nc.publish(deadLetterSubject('drop'), JSON.stringify({ handle }), { reply: 'dips.control.stop' });
  await nc.flush();
  await new Promise((r) => setTimeout(r, 500));
  await nc.close();
  assert.is(reflected, 0, 'no answer went to dips.control.stop');
  assert.ok(await deadOne(handle), 'still a dead letter');
  assert.match(gateway.logs(), /request refused: its reply subject is not an inbox/);
});

test('a job cut off by a gateway SIGKILL counts that attempt when the gateway starts again: two more failures and it is dead', async () => {
  const p = await freePort();
  let gw = await startProcess('gateway', cluster, gatewayEnv(p, 'gw-b'));
  let w = await rawWorker(p, 'crashy');
  const handle = await submitBackground(p, 'crashy', 'crash-me');
  assert.is((await grab(w)).handle, handle);
  await new Promise((r) => setTimeout(r, 300)); // the gateway writes that a worker holds it
  gw.child.kill('SIGKILL');
  await new Promise((r) => gw.child.once('exit', r));
  w.close();
  gw = await startProcess('gateway', cluster, gatewayEnv(p, 'gw-b'));
  try {
    w = await rawWorker(p, 'crashy');
    for (let i = 0; i < 2; i++) {
      const job = await grab(w);
      assert.is(job.handle, handle, `attempt ${i + 2} of the same job`);
      w.send(P.WORK_FAIL, [job.handle]);
    }
    await waitFor(async () => (await deadOne(handle)) !== undefined, 10_000, 'the job to be dead-lettered');
    assert.is((await deadOne(handle))!.attempts, 3, 'the attempt the SIGKILL cut off, and two failures');
    w.send(P.GRAB_JOB, []);
    assert.is((await w.next()).type, P.NO_JOB, 'no fourth attempt');
    w.close();
    // restarted again, the gateway keeps it among the dead letters, and runs nothing
    await gw.stop();
    gw = await startProcess('gateway', cluster, gatewayEnv(p, 'gw-b'));
    assert.is((await deadOne(handle))!.attempts, 3);
    assert.not.match(gw.logs(), /background jobs restored/);
  } finally {
    await gw.stop();
  }
});

test('the dashboard counts dead letters per gateway and lists them; retry and drop from the page', async () => {
  const handle = await submitBackground(port, 'flaky', 'page-job');
  await waitFor(async () => (await deadOne(handle)) !== undefined, 30_000, 'the job to be dead-lettered');
  // the JSON API as the page uses it: a same-origin JSON POST
  const listed = (await (await fetch(`${dashboardUrl}/api/dead-letters`)).json()) as { replies: DeadLetterReply[]; text: string };
  assert.ok(listed.text.includes(handle), listed.text);
  const form = await fetch(`${dashboardUrl}/api/dead-letters/drop`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `handle=${handle}` });
  assert.is(form.status, 415, 'a form POST (what a foreign page could send) is refused');

  const browser = await puppeteer.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${dashboardUrl}/`, { waitUntil: 'networkidle2' });
    await page.waitForFunction((p: number) => Number(document.querySelector(`#gateways tr td[data-dead]`)?.getAttribute('data-dead')) >= 1 && document.body.textContent!.includes(`:${p}`), { timeout: 10_000 }, port);
    const row = `#dead-letters tr[data-handle="${handle}"]`;
    await page.waitForSelector(row, { timeout: 10_000 });
    writeFileSync(path.join(tmp, 'ok-page-job'), '');
    await page.click(`${row} button[data-verb="dead-retry"]`);
    await page.waitForFunction(() => /^dipsctl dead-letter retry .*\n.*back in the queue/.test(document.querySelector('#result')?.textContent ?? ''), { timeout: 10_000 });
    await waitFor(() => lines('done-page-job') === 1, 10_000, 'the job retried from the page to run');
    await page.waitForFunction((sel: string) => !document.querySelector(sel), { timeout: 10_000 }, row);

    const other = await submitBackground(port, 'delay', phpSerialize({ ms: 'never' }));
    const otherRow = `#dead-letters tr[data-handle="${other}"]`;
    await page.waitForSelector(otherRow, { timeout: 15_000 });
    await page.click(`${otherRow} button[data-verb="dead-drop"]`);
    await page.waitForFunction((sel: string) => !document.querySelector(sel), { timeout: 10_000 }, otherRow);
    assert.is(await deadOne(other), undefined, 'dropped from the page');
  } finally {
    await browser.close();
  }
});

test('a stored job for a function nobody serves is listed (flagged) by dipsctl and the page; dropped from the page, it never runs once a worker comes', async () => {
  const handle = await submitBackground(port, 'orphan', 'orphan-drop');
  const stored = async () => {
    const r = await runDipsctl<{ replies: StoredJobsReply[] }>(cluster, 'stored', 'list', '--json');
    assert.is(r.code, 0, r.err);
    return r.json!.replies.flatMap((g) => g.jobs ?? []);
  };
  await waitFor(async () => (await stored()).some((j) => j.handle === handle), 10_000, 'the job to be listed');
  const listed = (await stored()).find((j) => j.handle === handle)!;
  assert.equal([listed.fn, listed.waitingFor, listed.workers, listed.attempts, listed.bytes], ['orphan', 'worker', 0, 0, 11]);
  const table = await dipsctl('stored', 'list');
  assert.match(table.out, new RegExp(`${handle}\\s+orphan\\s+worker\\s+\\S+\\s+0\\s+0: no worker serves it`), table.out);

  const browser = await puppeteer.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${dashboardUrl}/`, { waitUntil: 'networkidle2' });
    const row = `#stored tr[data-stored-handle="${handle}"]`;
    await page.waitForSelector(`${row}[data-unserved="true"]`, { timeout: 15_000 });
    assert.match(await page.$eval('#stored tr.group[data-stored-function="orphan"]', (tr) => tr.textContent ?? ''), /1 waiting, the oldest for \d+s — no worker serves this function/);
    await page.click(`${row} button[data-verb="stored-drop"]`);
    await page.waitForFunction(() => /^dipsctl stored drop .*\n.*dropped \(waited \d+ s\); it will not run/.test(document.querySelector('#result')?.textContent ?? ''), { timeout: 10_000 });
    await page.waitForFunction((sel: string) => !document.querySelector(sel), { timeout: 10_000 }, row);
  } finally {
    await browser.close();
  }
  assert.not.ok((await stored()).some((j) => j.handle === handle), 'gone from the store');
  const again = await dipsctl('stored', 'drop', handle);
  assert.is(again.code, 1, 'no gateway holds it any more');
  assert.match(again.err, /no gateway holds a waiting stored job/);

  // another one goes to the dead letters instead
  const buried = await submitBackground(port, 'orphan', 'orphan-bury');
  await waitFor(async () => (await stored()).some((j) => j.handle === buried), 10_000, 'the second job to be listed');
  const bury = await dipsctl('stored', 'bury', buried);
  assert.is(bury.code, 0, bury.err);
  assert.match(bury.out, /moved to the dead letters/);
  const dead = await deadOne(buried);
  assert.ok(dead && dead.fn === 'orphan', JSON.stringify(dead));
  assert.match(dead!.lastError, /moved to the dead letters by an operator/);

  // a worker for orphan comes: a job submitted after the dropped one runs, the dropped and buried ones do not
  writeFileSync(path.join(tmp, 'ok-orphan-after'), '');
  startPhpWorker(port, 'orphan');
  await submitBackground(port, 'orphan', 'orphan-after');
  await waitFor(() => lines('done-orphan-after') === 1, 20_000, 'the later job to run');
  assert.is(lines('attempts-orphan-drop'), 0, 'the dropped job never ran');
  assert.is(lines('attempts-orphan-bury'), 0, 'the buried job waits among the dead letters');
});

test.run();
