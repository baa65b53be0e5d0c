/** The control plane on a real cluster: a node agent, dipsctl broadcasts, rolling reload, restarts, metrics. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../src/control/nats-node.js';
import { Executables } from '../src/control/spawn.js';
import type { NodeReply } from '../src/shared/control.js';
import { CallError, type DipsClient } from '../src/client/index.js';
import { clientFor, runDipsctl, startCluster, startProcess, startWorker, waitFor, type Cluster, type Proc } from './harness.js';
import { runPhp } from './php.js';

let cluster: Cluster;
let agent: Proc;
let metricsPort: number;
let dips: DipsClient;
const CARD = { pSN: '42', pData: Array.from({ length: 80 }, (_, i) => i % 100) };

test.before(async () => {
  cluster = await startCluster();
  metricsPort = await freePort();
  agent = await startProcess('agent', cluster, { DIPS_WORKER_PROCESSES: '2', DIPS_AGENT_NODE: 'n1', DIPS_AGENT_METRICS_PORT: String(metricsPort), DIPS_AGENT_RESTART_MIN_MS: '200' }, '"msg":"agent ready"');
  dips = clientFor(cluster);
});
test.after(async () => {
  await dips?.close();
  await agent?.stop();
  await cluster?.stop();
});

const ctl = (...args: string[]) => runDipsctl<{ replies: NodeReply[]; missing: string[] }>(cluster, ...args);

const running = async () => (await ctl('--json', 'status')).json!.replies[0].workers.filter((w) => w.state === 'running');

test('status shows the node and both workers', async () => {
  const r = await ctl('status');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^node\s+pid\s+state\s+functions\s+in-flight\s+done\s+failed\s+p50 ms\s+uptime\s+restarts\s+version/);
  assert.is((r.out.match(/^n1\s+\d+\s+running\s+19\/19/gm) ?? []).length, 2, r.out);
  const ping = await ctl('ping');
  assert.match(ping.out, /^n1\tagent pid \d+/);
  // reads are logged at debug (the dashboard asks every second); the agent logs at info here
  assert.not.match(agent.logs(), /"level":30[^\n]*"verb":"(status|ping)"/);
  assert.ok(r.out.includes('n1: dedicated'), r.out);
});

test('pause a function: requests go to other workers, or wait for one (and say "no worker" at their deadline); resume', async () => {
  const other = await startWorker(cluster, { DIPS_WORKER_FUNCTIONS: 'ecard' });
  const paused = await ctl('pause', '--function', 'ecard');
  assert.is(paused.code, 0, paused.err);
  const before = (await running()).reduce((n, w) => n + (w.done ?? 0), 0);
  for (let i = 0; i < 10; i++) await dips.call('ecard', CARD);
  const after = (await running()).reduce((n, w) => n + (w.done ?? 0), 0);
  assert.is(after, before, 'the paused workers took none of them');
  await other.stop();
  try {
    await dips.call('ecard', CARD, { timeoutMs: 500 });
    assert.unreachable('no worker is left');
  } catch (err) {
    assert.instance(err, CallError);
    assert.is((err as Error).message, 'no worker for ecard: none served it within 500 ms');
  }
  assert.ok((await dips.call('echo', Buffer.from('x'))) instanceof Uint8Array, 'other functions still served');
  // a call made while ecard is paused everywhere waits, and runs once it is resumed
  const waiting = dips.call('ecard', CARD, { timeoutMs: 10_000 });
  await new Promise((r) => setTimeout(r, 300));
  assert.is((await ctl('resume')).code, 0);
  assert.ok((await waiting) instanceof Uint8Array, 'the waiting call ran after resume');
});

test('scale 2 -> 3 -> 1 -> 2', async () => {
  for (const n of [3, 1, 2]) {
    const r = await ctl('scale', '--workers', String(n));
    assert.is(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`n1: scaled to ${n} workers`));
    assert.is((await running()).length, n);
  }
});

test('reload under a continuous stream of ecard calls: every worker replaced, zero failed calls', async () => {
  const pidsBefore = (await running()).map((w) => w.pid);
  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const load = Array.from({ length: 4 }, async () => {
    while (!stop) {
      try {
        await dips.call('ecard', CARD);
        ok++;
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  });
  await new Promise((r) => setTimeout(r, 300));
  const r = await ctl('reload');
  await new Promise((r2) => setTimeout(r2, 300));
  stop = true;
  await Promise.all(load);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /n1: reloaded 2 workers one by one/);
  assert.equal(failures, [], 'zero failed calls');
  assert.ok(ok > 50, `${ok} calls went through during the reload`);
  const pidsAfter = (await running()).map((w) => w.pid);
  assert.is(pidsAfter.length, 2);
  assert.ok(pidsAfter.every((p) => !pidsBefore.includes(p)), 'all new processes');
});

test('4 PHP callers through both gateways, a rolling reload, then a worker SIGKILLed: zero failed calls, none held over 3 s', async () => {
  const ports = [await freePort(), await freePort()];
  const gateways = await Promise.all(ports.map((port) => startProcess('gateway', cluster, { DIPS_GATEWAY_PORT: String(port), DIPS_GATEWAY_DATA_DIR: path.join(os.tmpdir(), `dips-control-gw-${port}`) })));
  try {
    const seconds = 9;
    const callers = ports.flatMap((port) => [port, port]).map((port) =>
      runPhp(`
        $c = new GearmanClient(); $c->addServer('127.0.0.1', ${port}); $c->setTimeout(10000);
        $data = serialize(['pSN' => '1234567890', 'pData' => implode(',', range(10, 89))]);
        $ok = 0; $failed = []; $worst = 0; $end = microtime(true) + ${seconds};
        while (microtime(true) < $end) {
          $t = microtime(true);
          $png = $c->doNormal('ecard', $data);
          $worst = max($worst, microtime(true) - $t);
          if ($c->returnCode() == GEARMAN_SUCCESS && substr($png, 1, 3) === 'PNG') $ok++; else $failed[] = $c->returnCode() . ' ' . $c->error();
        }
        echo json_encode(['ok' => $ok, 'failed' => $failed, 'worst' => $worst]);`, undefined, 60_000),
    );
    await new Promise((r) => setTimeout(r, 1500));
    const reload = await ctl('reload');
    assert.is(reload.code, 0, reload.err);
    const [victim] = await running();
    process.kill(victim.pid, 'SIGKILL');
    const results = await Promise.all(callers);
    for (const r of results) {
      assert.is(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout.toString());
      assert.equal(out.failed, [], 'zero failed calls');
      assert.ok(out.ok > 20, `${out.ok} calls`);
      assert.ok(out.worst < 3, `slowest call ${out.worst.toFixed(2)} s`);
    }
    await waitFor(async () => (await running()).length === 2, 10_000, 'the killed worker to be replaced');
  } finally {
    await Promise.all(gateways.map((g) => g.stop()));
  }
});

test('kill -9 a worker: the agent brings it back and status shows the restart', async () => {
  const [victim] = await running();
  process.kill(victim.pid, 'SIGKILL');
  await waitFor(async () => {
    const rows = await running();
    return rows.length === 2 && rows.some((w) => w.restarts >= 1);
  }, 10_000, 'the worker to be restarted');
});

test('metrics endpoint answers with job counters that move', async () => {
  const read = async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    // one line per worker process (worker="<pid>"): the node's total is their sum
    return [...text.matchAll(/dips_worker_jobs_total\{function="ecard",outcome="ok"[^}]*\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  };
  const before = await read();
  for (let i = 0; i < 5; i++) await dips.call('ecard', CARD);
  assert.is(await read(), before + 5);
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  assert.match(text, /dips_agent_worker_restarts_total\{role="agent"\} 2/);
  assert.match(text, /dips_worker_job_duration_seconds_bucket/);
  // the gauges are read at scrape time: nothing runs between the calls above and this scrape
  assert.match(text, /dips_worker_jobs_in_flight\{[^}]*\} 0\n/);
  const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
  assert.is(health.status, 200);
  const ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
  assert.equal([ready.status, await ready.text()], [200, 'ready\n']);
});

test('a drain whose jobs outlast --wait is an error (exit 1), not "drained"', async () => {
  const slow = dips.call('delay', { ms: 2500, value: 'late' });
  await new Promise((r) => setTimeout(r, 300));
  const drain = await ctl('drain', '--wait', '0.5');
  assert.is(drain.code, 1, drain.out + drain.err);
  assert.match(drain.err, /node n1: drain timed out after 0\.5 s with 1 jobs still in flight; \d+ functions stay paused/);
  assert.not.match(drain.out, /drained/);
  assert.is(await slow, 'late', 'the job itself finishes');
  assert.is((await ctl('drain', '--wait', 'soon')).code, 64);
  assert.is((await ctl('resume')).code, 0);
});

test('drain, stop and start; a targeted node that does not answer exits 69', async () => {
  const drain = await ctl('drain');
  assert.is(drain.code, 0, drain.err);
  assert.match(drain.out, /n1: drained/);
  assert.is((await ctl('resume')).code, 0);
  assert.is((await ctl('stop')).code, 0);
  assert.is((await running()).length, 0);
  assert.is((await ctl('start')).code, 0);
  assert.is((await running()).length, 2);
  const missing = await ctl('status', '--node', 'no-such-node');
  assert.is(missing.code, 69);
  assert.match(missing.err, /node no-such-node did not answer/);
  const help = await ctl('--help');
  assert.is(help.code, 0);
  assert.match(help.out, /reload/);
});

test.run();
