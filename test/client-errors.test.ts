/**
 * Errors for programs (issue 29), against a real cluster and worker: every
 * CallError says which failure it is (`kind`) and whether the same call may
 * succeed if sent again (`retryable`); an aborted call rejects with the
 * signal's reason, as fetch() does.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, headers, type NatsConnection } from 'nats';
import { CallError, type DipsClient } from '../src/client/index.js';
import { clientFor, servedByWorker, startCluster, startWorker, waitFor, type Cluster, type Proc } from './harness.js';

let cluster: Cluster;
let worker: Proc;
let nc: NatsConnection;
let dips: DipsClient;

test.before(async () => {
  cluster = await startCluster();
  // one slot and nothing held beyond it: a second job waits for room at its caller
  worker = await startWorker(cluster, { DIPS_WORKER_FUNCTIONS: 'ecard,delay', DIPS_WORKER_CONCURRENCY: '1', DIPS_WORKER_MAX_QUEUED: '0' });
  nc = await connect({ servers: cluster.servers });
  dips = clientFor(cluster);
});
test.after(async () => {
  await dips?.close();
  await nc?.close();
  await worker?.stop();
  await cluster?.stop();
});

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('the call succeeded');
}

/** Requests the workers have taken so far, every function (the NATS service API's count). */
const servedTotal = async () => [...(await servedByWorker(cluster.servers)).values()].reduce((a, b) => a + b, 0);

const shape = (e: unknown) => {
  assert.instance(e, CallError, String(e));
  const c = e as CallError;
  return { code: c.code, kind: c.kind, retryable: c.retryable };
};

test('a worker refusing the parameters: BAD_REQUEST, not retryable; the code stays 400', async () => {
  const err = await failure(dips.call('ecard', { pSN: '1', pData: '1,2' }));
  assert.equal(shape(err), { code: 400, kind: 'BAD_REQUEST', retryable: false });
  assert.is((err as CallError).kind, ((err as CallError).cause as CallError).kind, "the surfaced error keeps the requester's kind");
});

test('a function nobody serves: NO_WORKER, retryable (503 as before)', async () => {
  const err = await failure(dips.call('nosuchfunction', { a: 1 }, { timeoutMs: 300 }));
  assert.equal(shape(err), { code: 503, kind: 'NO_WORKER', retryable: true });
});

test('out of time while running: TIMEOUT, not retryable; out of time waiting for room: TIMEOUT, retryable', async () => {
  const before = await servedTotal();
  // observed from the start: on a busy machine it may fail before the waiting call below has
  const running = failure(dips.call('delay', { ms: 3000 }, { timeoutMs: 2500 }));
  // the one slot is taken once the worker has the job: then this one waits for room and never runs
  await waitFor(async () => (await servedTotal()) > before, 5000, 'the worker to take the running job');
  const waiting = await failure(dips.call('delay', { ms: 10 }, { timeoutMs: 300 }));
  assert.equal(shape(waiting), { code: 408, kind: 'TIMEOUT', retryable: true });
  assert.equal(shape(await running), { code: 408, kind: 'TIMEOUT', retryable: false });
  await waitFor(() => dips.call('delay', { ms: 1 }, { timeoutMs: 500 }).then(() => true, () => false), 10_000, 'the slot to free');
});

test("a worker's error reply carries Dips-Error-Kind for plain NATS callers too", async () => {
  const h = headers();
  h.set('Dips-Encoding', 'json');
  const reply = await nc.request('dips.fn.ecard', new TextEncoder().encode(JSON.stringify({ pSN: '1', pData: '1,2' })), { timeout: 5000, headers: h });
  assert.is(reply.headers?.get('Nats-Service-Error-Code'), '400');
  assert.is(reply.headers?.get('Dips-Error-Kind'), 'BAD_REQUEST');
});

test("an aborted call rejects with the signal's reason: the object given to abort(), an AbortError, a TimeoutError", async () => {
  const why = new Error('the user left');
  const given = new AbortController();
  const call = failure(dips.call('delay', { ms: 2000 }, { signal: given.signal }));
  setTimeout(() => given.abort(why), 100);
  assert.is(await call, why, 'the very reason object');

  const plain = new AbortController();
  const plainCall = failure(dips.call('delay', { ms: 2000 }, { signal: plain.signal }));
  setTimeout(() => plain.abort(), 100);
  const aborted = await plainCall;
  assert.is((aborted as Error).name, 'AbortError', String(aborted));
  assert.not.instance(aborted, CallError);

  const timedOut = await failure(dips.call('delay', { ms: 2000 }, { signal: AbortSignal.timeout(150) }));
  assert.is((timedOut as Error).name, 'TimeoutError', String(timedOut));

  // already aborted: rejected at once, nothing sent
  const before = new AbortController();
  before.abort('no thanks');
  assert.is(await failure(dips.call('delay', { ms: 10 }, { signal: before.signal })), 'no thanks');

  // stream() throws the reason from its loop
  const streamed = new AbortController();
  setTimeout(() => streamed.abort(why), 100);
  const thrown = await failure(
    (async () => {
      for await (const item of dips.stream('delay', { ms: 2000, steps: 4 }, { signal: streamed.signal })) void item;
    })(),
  );
  assert.is(thrown, why);
  await new Promise((r) => setTimeout(r, 2000)); // the withdrawn jobs' slot frees
});

test('leaving a stream() loop before its result withdraws the call: nothing stays under way', async () => {
  await waitFor(() => dips.pending === 0, 10_000, 'no call under way before');
  const kinds: string[] = [];
  for await (const item of dips.stream('delay', { ms: 3000, steps: 6 })) {
    kinds.push(item.kind);
    break; // the first status event is enough
  }
  assert.equal(kinds, ['status']);
  // withdrawn at once: the call no longer waits for the 3 s job it left
  await waitFor(() => dips.pending === 0, 1500, 'the left call withdrawn');
  await waitFor(() => dips.call('delay', { ms: 1 }, { timeoutMs: 500 }).then(() => true, () => false), 10_000, 'the slot to free');
});

test('a client closed while a call is outstanding: UNAVAILABLE, retryable', async () => {
  const own = clientFor(cluster);
  await own.call('delay', { ms: 1 });
  const outstanding = failure(own.call('delay', { ms: 1000 }));
  await new Promise((r) => setTimeout(r, 100));
  await own.close();
  assert.equal(shape(await outstanding), { code: 503, kind: 'UNAVAILABLE', retryable: true });
});

test.run();
