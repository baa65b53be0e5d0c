/**
 * Faults under load on a real cluster: each NATS node killed (-9) and
 * restarted in turn, workers killed mid-job, deadlines and overload. Callers
 * (native and PHP through both gateways) must see zero failures.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { freePort } from '../src/control/nats-node.js';
import { phpSerialize } from '../src/mesh/codec/php.js';
import sharp from 'sharp';
import { CallError, DipsClient } from '../src/client/index.js';
import { loadConfig } from '../src/shared/config.js';
import { clientFor, servedByWorker, startCluster, startProcess, startWorker, type Cluster, type Proc } from './harness.js';

let cluster: Cluster;
let workers: Proc[];
let gateways: Proc[];
let ports: number[];
let dips: DipsClient;
const CARD = { pSN: '7', pData: Array.from({ length: 80 }, (_, i) => i % 100) };

test.before(async () => {
  cluster = await startCluster();
  workers = await Promise.all([0, 1, 2].map(() => startWorker(cluster, { DIPS_WORKER_FUNCTIONS: 'ecard,delay,echo' })));
  ports = [await freePort(), await freePort()];
  gateways = await Promise.all(ports.map((port) => startProcess('gateway', cluster, { DIPS_GATEWAY_PORT: String(port) })));
  dips = clientFor(cluster, 30_000);
});
test.after(async () => {
  await dips?.close();
  await Promise.all([...(gateways ?? []), ...(workers ?? [])].map((p) => p.stop('SIGKILL')));
  await cluster?.stop();
});

/** Continuous load until stopped: native ecard and delay callers, and a PHP caller per gateway. */
function startLoad() {
  let running = true;
  const stats = { ok: 0, failed: [] as string[] };
  const loop = (call: () => Promise<unknown>) =>
    (async () => {
      while (running) {
        try {
          await call();
          stats.ok++;
        } catch (err) {
          stats.failed.push((err as Error).message);
        }
      }
    })();
  const native = [
    ...Array.from({ length: 3 }, () => loop(() => dips.call('ecard', CARD))),
    ...Array.from({ length: 3 }, () => loop(() => dips.call('delay', { ms: 150, value: 'v' }))),
  ];
  const stopFile = `/tmp/dips-faults-stop-${process.pid}`;
  const php = ports.map((port) =>
    new Promise<{ ok: number; failed: number; errors: string[] }>((resolve) => {
      const child = spawn('php', ['-r', `
        $c = new GearmanClient(); $c->addServer('127.0.0.1', ${port});
        $payload = ${JSON.stringify(phpSerialize({ ms: 50, value: 'php' }).toString('latin1'))};
        $ok = 0; $failed = 0; $errors = [];
        while (!file_exists('${stopFile}')) {
          $r = @$c->doNormal('delay', $payload);
          if ($r === 's:3:"php";') $ok++; else { $failed++; $errors[] = $c->returnCode() . ' ' . $c->error(); }
        }
        echo json_encode(['ok' => $ok, 'failed' => $failed, 'errors' => array_slice($errors, 0, 5)]);`]);
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('close', () => resolve(out ? JSON.parse(out) : { ok: 0, failed: 1, errors: ['php caller died'] }));
    }),
  );
  return {
    stats,
    async stop() {
      running = false;
      await import('node:fs').then((fs) => fs.writeFileSync(stopFile, ''));
      await Promise.all(native);
      const phpStats = await Promise.all(php);
      (await import('node:fs')).rmSync(stopFile, { force: true });
      return { native: stats, php: phpStats };
    },
  };
}

test('each NATS node killed -9 and restarted in turn under load: zero failed calls, load spreads again', async () => {
  const load = startLoad();
  await new Promise((r) => setTimeout(r, 1500));
  for (const node of [0, 1]) {
    await cluster.nodes[node].stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 2500));
    await cluster.restart(node);
    await new Promise((r) => setTimeout(r, 2500));
  }
  const before = await servedByWorker(cluster.servers);
  await new Promise((r) => setTimeout(r, 1500));
  const after = await servedByWorker(cluster.servers);
  const result = await load.stop();
  assert.equal(result.native.failed, [], 'native callers: zero failures');
  for (const p of result.php) assert.is(p.failed, 0, `PHP caller: ${p.errors.join('; ')}`);
  assert.ok(result.native.ok > 100, `${result.native.ok} native calls`);
  assert.ok(result.php.every((p) => p.ok > 20), 'PHP callers kept going');
  assert.is(after.size, 3, 'all three workers answer discovery');
  for (const [pid, n] of after) assert.ok(n > (before.get(pid) ?? 0), `worker ${pid} takes jobs again after the restarts`);
});

test('workers killed -9 mid-job under load: zero failed calls', async () => {
  const load = startLoad();
  await new Promise((r) => setTimeout(r, 1000));
  workers[0].child.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 1500));
  workers[1].child.kill('SIGKILL');
  workers.push(await startWorker(cluster, { DIPS_WORKER_FUNCTIONS: 'ecard,delay,echo' }));
  await new Promise((r) => setTimeout(r, 4000));
  const result = await load.stop();
  assert.equal(result.native.failed, [], 'native callers: zero failures');
  for (const p of result.php) assert.is(p.failed, 0, `PHP caller: ${p.errors.join('; ')}`);
});

test('a function whose last worker died: calls wait for a new one, or say "no worker" at their deadline', async () => {
  const solo = await startWorker(cluster, { DIPS_WORKER_FUNCTIONS: 'info' });
  solo.child.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  try {
    await dips.call('info', Buffer.from('x'), { timeoutMs: 500 });
    assert.unreachable();
  } catch (err) {
    assert.is((err as Error).message, 'no worker for info: none served it within 500 ms');
  }
  const waiting = dips.call('info', await sharp({ create: { width: 3, height: 2, channels: 3, background: 'red' } }).png().toBuffer(), { timeoutMs: 20_000 });
  const again = await startWorker(cluster, { DIPS_WORKER_FUNCTIONS: 'info' });
  assert.is(((await waiting) as { width: number }).width, 3, 'the waiting call ran on the new worker');
  await again.stop();
});

test('a worker skips jobs whose caller gave up; a flood waits and all of it runs; past the byte limit calls are refused naming it', async () => {
  const cluster2 = cluster;
  // a worker that keeps up to 4 jobs waiting inside it (a generous prefetch budget), so that it holds abandoned ones
  const narrow = await startWorker(cluster2, { DIPS_WORKER_FUNCTIONS: 'delay', DIPS_WORKER_CONCURRENCY: '1', DIPS_WORKER_MAX_QUEUED: '4', DIPS_WORKER_PREFETCH_MS: '60000' });
  const only = clientFor(cluster2, 30_000);
  // take the other delay workers out of the way: this one must be alone
  const others = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
  await Promise.all(others.map((w) => w.stop()));
  await only.call('delay', { ms: 0 }); // it learns what a delay job costs
  const started = Date.now();
  const first = only.call('delay', { ms: 1000, value: 'first' });
  await new Promise((r) => setTimeout(r, 50));
  const abandoned = Array.from({ length: 4 }, () => only.call('delay', { ms: 1000 }, { timeoutMs: 300 }).catch((e: CallError) => e.message));
  assert.equal(await Promise.all(abandoned), Array(4).fill('delay: no reply within 300 ms'));
  assert.is(await first, 'first');
  assert.is(await only.call('delay', { ms: 0, value: 'next' }), 'next');
  assert.ok(Date.now() - started < 2000, `abandoned jobs were skipped (${Date.now() - started} ms, not 5 s)`);
  const flood = await Promise.all(Array.from({ length: 12 }, () => only.call('delay', { ms: 100 }).then(() => 'ok', (e: CallError) => e.message)));
  assert.equal(flood, Array(12).fill('ok'), 'every call of the flood ran');
  await only.close();
  // memory, not bursts, is what refuses: a client allowed 64 bytes of jobs at once
  const small = new DipsClient({ config: loadConfig({ argv: [], overrides: { nats: { servers: cluster2.servers }, queue: { maxWaitingBytes: 64 } } }) });
  const held = small.call('delay', { ms: 300, value: 'x'.repeat(20) });
  try {
    await small.call('delay', { ms: 300, value: 'y'.repeat(40) });
    assert.unreachable('over the byte limit');
  } catch (err) {
    assert.is((err as CallError).code, 503);
    assert.match((err as Error).message, /^delay: queue full: \d+ bytes of jobs already waiting or running here, limit 64 \(queue\.maxWaitingBytes\)$/);
  }
  await held;
  await small.close();
  await narrow.stop();
});

test.run();
