/**
 * A parameter a function does not take is refused, not ignored: the caller
 * hears its name and the nearest one the function takes — natively, through
 * the Gearman gateway from PHP, and for each step of a pipeline.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort } from '../src/control/nats-node.js';
import { CallError } from '../src/client/index.js';
import { phpSerialize } from '../src/mesh/codec/php.js';
import { clientFor, startCluster, startProcess, startWorker, type Cluster, type Proc } from './harness.js';
import { quadrants } from './images.js';
import { runPhp } from './php.js';

let cluster: Cluster;
let worker: Proc;
let gateway: Proc;
let port: number;

test.before(async () => {
  cluster = await startCluster();
  worker = await startWorker(cluster);
  port = await freePort();
  gateway = await startProcess('gateway', cluster, { DIPS_GATEWAY_PORT: String(port) });
});
test.after(async () => {
  await Promise.all([gateway, worker].filter(Boolean).map((p) => p.stop()));
  await cluster?.stop();
});

async function refusal(fn: string, params: Record<string, unknown>): Promise<CallError> {
  const dips = clientFor(cluster);
  try {
    const err = await dips.call(fn as 'echo', params).then(() => undefined, (e: unknown) => e);
    assert.instance(err, CallError, `${fn} accepted ${JSON.stringify(Object.keys(params))}`);
    return err as CallError;
  } finally {
    await dips.close();
  }
}

test('natively: a misspelt parameter is named with the one meant; a right one still works', async () => {
  const image = await quadrants(64, 64);
  const typo = await refusal('thumbnail', { image, width: 32, qualty: 50 });
  assert.is(typo.code, 400);
  assert.match(typo.message, /thumbnail: unknown parameter "qualty"; did you mean quality\?/);
  const card = Array.from({ length: 80 }, (_, i) => i);
  const ecard = await refusal('ecard', { pSN: '1', pData: card, scael: 2 });
  assert.match(ecard.message, /unknown parameter "scael"; did you mean scale\?/);
  const step = await refusal('pipeline', { image, steps: [{ op: 'resize', widht: 10 }] });
  assert.match(step.message, /step 1 \(resize\): unknown parameter "widht"; did you mean width\?/);
  const unrelated = await refusal('delay', { ms: 1, colour: 'red' });
  assert.match(unrelated.message, /unknown parameter "colour" \(it takes ms, steps, value\)/);
  const dips = clientFor(cluster);
  assert.ok(((await dips.call('thumbnail', { image, width: 32, quality: 50 })) as Uint8Array).length > 0);
  await dips.close();
});

test('from PHP through the gateway: WORK_EXCEPTION names the parameter', async () => {
  const out = await runPhp(`
    $c = new GearmanClient(); $c->addServer('127.0.0.1', ${port});
    $c->setExceptionCallback(function ($t) { echo 'exception: ' . $t->data(); });
    $c->addTask('ecard', ${JSON.stringify(phpSerialize({ pSN: '1', pData: Array.from({ length: 80 }, (_, i) => i).join(','), sclae: 2 }).toString('latin1'))});
    $c->runTasks();`);
  assert.match(out.stdout.toString(), /exception: ecard: unknown parameter "sclae"; did you mean scale\?/, out.stdout.toString() + out.stderr.toString());
});

test.run();
