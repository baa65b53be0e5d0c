/** Queue groups, node loss and drain on a real two-node cluster. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort } from '../src/control/nats-node.js';
import { clientFor, startCluster, startWorker, waitFor, type Cluster } from './harness.js';

let cluster: Cluster;
test.before(async () => {
  cluster = await startCluster();
});
test.after(async () => {
  await cluster?.stop();
});

/** Jobs a worker process has run, from its Prometheus metrics (bounced requests do not count: they never ran). */
async function jobsRun(metricsPort: number, fn: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`dips_worker_jobs_total{function="${fn}",outcome="ok"`));
  return Number(line?.split(' ').pop() ?? 0);
}

test('two workers in one queue group share 100 requests: none lost, none duplicated', async () => {
  const metricsPorts = [await freePort(), await freePort()];
  const workers = await Promise.all(metricsPorts.map((port) => startWorker(cluster, { DIPS_WORKER_FUNCTIONS: 'delay', DIPS_WORKER_METRICS_PORT: String(port) })));
  const dips = clientFor(cluster);
  const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => dips.call('delay', { ms: 5, value: i })));
  await dips.close();
  assert.equal(replies, Array.from({ length: 100 }, (_, i) => i), 'every request answered with its own value');
  const counts = await Promise.all(metricsPorts.map((port) => jobsRun(port, 'delay')));
  assert.is(counts.reduce((a, b) => a + b, 0), 100, 'the workers ran exactly 100 jobs between them');
  assert.ok(counts.every((n) => n > 10), `both workers took a share: ${counts.join(' + ')}`);
  await Promise.all(workers.map((w) => w.stop()));
});

test('with node A down, a worker and a client listing both servers still work', async () => {
  await cluster.nodes[0].stop('SIGKILL');
  const worker = await startWorker(cluster, { DIPS_WORKER_FUNCTIONS: 'echo' });
  const dips = clientFor(cluster);
  const reply = (await dips.call('echo', Buffer.from('still here'))) as Uint8Array;
  assert.is(Buffer.from(reply).toString(), 'still here');
  await dips.close();
  await worker.stop();
  await cluster.restart(0);
});

test('a worker connected to node A keeps serving after A dies (it reconnects to B)', async () => {
  const worker = await startWorker([cluster.servers[0]].concat(cluster.servers[1]), { DIPS_WORKER_FUNCTIONS: 'echo' });
  const dips = clientFor([cluster.servers[1]]);
  assert.is(Buffer.from((await dips.call('echo', Buffer.from('before'))) as Uint8Array).toString(), 'before');
  await cluster.nodes[0].stop('SIGKILL');
  await waitFor(async () => {
    try {
      return Buffer.from((await dips.call('echo', Buffer.from('after'), { timeoutMs: 500 })) as Uint8Array).toString() === 'after';
    } catch {
      return false;
    }
  }, 10_000, 'the worker to serve again through node B');
  await dips.close();
  await worker.stop();
  await cluster.restart(0);
});

test('SIGTERM drains: jobs in flight finish and answer, then the worker exits 0', async () => {
  const worker = await startWorker(cluster, { DIPS_WORKER_FUNCTIONS: 'delay', DIPS_WORKER_CONCURRENCY: '4' });
  const dips = clientFor(cluster);
  const calls = Array.from({ length: 4 }, (_, i) => dips.call('delay', { ms: 600, value: `job ${i}` }));
  await new Promise((r) => setTimeout(r, 200));
  const exit = worker.stop('SIGTERM');
  assert.equal(await Promise.all(calls), ['job 0', 'job 1', 'job 2', 'job 3']);
  assert.is(await exit, 0);
  assert.match(worker.logs(), /"msg":"drained, exiting"/);
  await dips.close();
});

test.run();
