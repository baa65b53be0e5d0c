/**
 * Nothing runs twice unasked: a job of a function that is not known to be
 * idempotent (a Gearman worker's, by default) is not sent again when the NATS
 * node it went through dies; its caller hears the result or why it was lost,
 * and the Gearman worker ran it once. A function an operator names in
 * gateway.idempotentFunctions is sent again as before.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../src/control/nats-node.js';
import { PacketType as P } from '../src/gateway/protocol/constants.js';
import { startCluster, startProcess, waitFor, type Cluster, type Proc } from './harness.js';
import { WireClient } from './gearman-wire.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'dips-once-'));
const WORKER = `<?php
$w = new GearmanWorker();
$w->addServer('127.0.0.1', (int)$argv[1]);
$w->addFunction($argv[2], function (GearmanJob $job) use ($argv) {
  file_put_contents($argv[3], $job->workload() . "\\n", FILE_APPEND | LOCK_EX);
  usleep(1500 * 1000);
  return 'ran';
});
while ($w->work());
`;
writeFileSync(path.join(tmp, 'worker.php'), WORKER);

async function scenario(idempotentFunctions: string): Promise<{ runs: number; answer: number }> {
  const cluster: Cluster = await startCluster();
  const procs: Proc[] = [];
  let php: ChildProcess | undefined;
  try {
    const [a, b] = cluster.servers;
    const callerPort = await freePort();
    const workerPort = await freePort();
    const env = { DIPS_GATEWAY_IDEMPOTENT_FUNCTIONS: idempotentFunctions };
    // the caller's gateway goes through node a; the Gearman worker's gateway through node b only
    procs.push(await startProcess('gateway', [a, b], { ...env, DIPS_GATEWAY_PORT: String(callerPort) }));
    procs.push(await startProcess('gateway', [b], { ...env, DIPS_GATEWAY_PORT: String(workerPort) }));
    const file = path.join(tmp, `runs-${idempotentFunctions || 'none'}`);
    php = spawn('php', [path.join(tmp, 'worker.php'), String(workerPort), 'once-fn', file], { stdio: 'ignore' });
    const c = await WireClient.connect(callerPort);
    // the Gearman worker has registered once a job of its function is served
    await waitFor(async () => {
      c.send(P.SUBMIT_JOB, ['once-fn', '', 'warm-up']);
      for (;;) {
        const r = await c.next(10_000);
        if (r.type === P.WORK_COMPLETE) return true;
        if (r.type === P.WORK_FAIL || r.type === P.ERROR) return false;
      }
    }, 20_000, 'the Gearman worker');
    await new Promise((r) => setTimeout(r, 1500)); // the caller's gateway has looked the function up (service discovery)
    c.send(P.SUBMIT_JOB, ['once-fn', '', 'warm-up']); // ...and looks again if it had not seen it yet
    while ((await c.next(10_000)).type !== P.WORK_COMPLETE);
    c.send(P.SUBMIT_JOB, ['once-fn', '', 'the-job']);
    assert.is((await c.next()).type, P.JOB_CREATED);
    await new Promise((r) => setTimeout(r, 500)); // running on the worker now
    await cluster.nodes[0].stop('SIGKILL');
    let answer = -1;
    while (answer < 0) {
      const r = await c.next(15_000);
      if (r.type === P.WORK_COMPLETE || r.type === P.WORK_FAIL) answer = r.type;
    }
    await new Promise((r) => setTimeout(r, 3500)); // time for a second run, if one was sent
    c.close();
    return { runs: readFileSync(file, 'utf8').split('\n').filter((l) => l === 'the-job').length, answer };
  } finally {
    php?.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await cluster.stop();
  }
}

test('a Gearman worker\'s function is not sent again when its NATS node dies: it ran once, the caller heard', async () => {
  const { runs: n, answer } = await scenario('');
  assert.is(n, 1, `the job ran ${n} times`);
  assert.ok(answer === P.WORK_COMPLETE || answer === P.WORK_FAIL);
});

test('named in gateway.idempotentFunctions, it is sent again and the caller gets its result', async () => {
  const { answer } = await scenario('once-fn');
  assert.is(answer, P.WORK_COMPLETE);
});

test.run();
