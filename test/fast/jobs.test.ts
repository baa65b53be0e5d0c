/** The gateway's job table, with no server: coalescing, unique "-", priorities, status, cancel, maxqueue, the byte limit, handles. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { eventHeaders, WORKING } from '../../src/mesh/events.js';
import { createLogger } from '../../src/shared/log.js';
import { Requester } from '../../src/mesh/requester.js';
import { handlePrefix, JobLimitError, Jobs, type Job, type JobNotice, type JobListener, type JobSpec } from '../../src/gateway/jobs.js';
import type { JobStore } from '../../src/gateway/store.js';
import { LoopbackNats } from './loopback-nats.js';

function table(nats: LoopbackNats, maxBytes = 1 << 20, store?: JobStore) {
  const requester = new Requester(nats.asConnection(), { maxPendingBytes: maxBytes });
  return new Jobs(requester, { timeoutMs: 2000, backgroundMaxAgeMs: 0, retries: 1, maxBytes, handleHost: 'test-host', log: createLogger('test', 'silent'), store });
}

/** A store whose writes end when the test says (the real one, lmdb, ends them in batches it chooses). */
function heldStore() {
  const writes = new Map<string, () => void>();
  const store = { add: (job: { data: Uint8Array }) => new Promise<void>((resolve) => writes.set(Buffer.from(job.data).toString(), resolve)), remove: async () => true, setAttempts: async () => true };
  return { store: store as unknown as JobStore, finishWrite: (data: string) => writes.get(data)!() };
}

class Recorder implements JobListener {
  static next = 1;
  readonly id = Recorder.next++;
  readonly events: string[] = [];
  jobNotice(job: Job, event: JobNotice): void {
    this.events.push(`${event.kind}${event.kind === 'done' ? `:${Buffer.from(event.data).toString()}` : ''}`);
  }
  ended(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (this.events.some((e) => e.startsWith('done') || e === 'failed') ? resolve() : setTimeout(check, 2));
      check();
    });
  }
}

const spec = (data: string, more: Partial<JobSpec> = {}): JobSpec => ({ fn: 'echo', unique: '', data: Buffer.from(data), priority: 'normal', background: false, ...more });

test('same function and unique id: one job, every submission answered; "-" hashes the data; empty never coalesces', async () => {
  const nats = new LoopbackNats();
  let runs = 0;
  nats.serve('dips.fn.echo', (msg, respond) => setTimeout(() => (runs++, respond(msg.data)), 10));
  const jobs = table(nats);
  const a = new Recorder();
  const [j1, j2] = [await jobs.submit(spec('x', { unique: 'u1' }), a), await jobs.submit(spec('x', { unique: 'u1' }), a)];
  assert.is(j1, j2);
  assert.is(j1.listeners.length, 2, 'the same client twice: told twice');
  const [d1, d2, d3] = [await jobs.submit(spec('same', { unique: '-' }), a), await jobs.submit(spec('same', { unique: '-' }), a), await jobs.submit(spec('other', { unique: '-' }), a)];
  assert.is(d1, d2);
  assert.is.not(d1, d3);
  assert.match(d1.unique, /^[0-9a-f]{40}$/);
  const [e1, e2] = [await jobs.submit(spec('e'), a), await jobs.submit(spec('e'), a)];
  assert.is.not(e1, e2);
  await new Promise((r) => setTimeout(r, 100));
  assert.is(runs, 5, 'u1 once, "-" twice, empty twice');
  assert.is(a.events.filter((e) => e.startsWith('done')).length, 7, 'one answer per submission');
});

test('GET_STATUS fields: waiting, then running once a worker says so; handles fit 63 bytes', async () => {
  const nats = new LoopbackNats();
  nats.serve('dips.fn.slow', (msg, respond) => {
    setTimeout(() => respond(new Uint8Array(0), eventHeaders(WORKING)), 20); // "I hold it"
    setTimeout(() => respond(msg.data), 60);
  });
  const jobs = table(nats);
  const job = await jobs.submit(spec('s', { fn: 'slow', background: true }), null);
  assert.is(job.state, 'waiting');
  await new Promise((r) => setTimeout(r, 40));
  assert.is(job.state, 'running', 'running once the worker said it holds the job');
  assert.ok(job.handle.startsWith('H:test-host:'));
  assert.ok(Buffer.byteLength(handlePrefix('h'.repeat(300)) + Number.MAX_SAFE_INTEGER) <= 63);
  await new Promise((r) => setTimeout(r, 100));
  assert.is(jobs.get(job.handle), undefined, 'forgotten once finished');
});

test('cancel: the waiting client gets a plain failure; maxqueue per priority; the byte limit', async () => {
  const nats = new LoopbackNats(); // nobody serves anything: jobs wait
  const jobs = table(nats, 100);
  const a = new Recorder();
  const job = await jobs.submit(spec('c', { fn: 'nobody' }), a);
  assert.ok(jobs.cancel(job.handle));
  await a.ended();
  assert.equal(a.events, ['failed']);
  jobs.setMaxQueue('capped', [1, 2, 0]);
  const outcomes: string[] = [];
  for (const priority of ['high', 'high', 'normal', 'normal', 'normal', 'low', 'low'] as const) {
    outcomes.push(await Promise.resolve().then(() => jobs.submit(spec('q', { fn: 'capped', priority, background: true }), null)).then(() => 'ok', (e: Error) => (e instanceof JobLimitError ? 'full' : e.message)));
  }
  assert.equal(outcomes, ['ok', 'full', 'ok', 'ok', 'full', 'ok', 'ok']);
  const big = await Promise.resolve().then(() => jobs.submit(spec('x'.repeat(99), { fn: 'nobody', background: true }), null)).catch((e: Error) => e.message);
  assert.match(String(big), /^Queue full: \d+ bytes of jobs held by this gateway, limit 100 bytes \(queue\.maxWaitingBytes\)$/);
});

test('jobs read together reach workers highest priority first, whichever background write ends first', async () => {
  const nats = new LoopbackNats();
  const arrived: string[] = [];
  nats.serve('dips.fn.echo', (msg, respond) => {
    arrived.push(Buffer.from(msg.data).toString());
    respond(msg.data);
  });
  const { store, finishWrite } = heldStore();
  const jobs = table(nats, 1 << 20, store);
  const a = new Recorder();
  // what libgearman writes for php-gearman's gearman_tasks_integration_test_001 (its tasks, reversed), in one read
  const read: Array<[string, JobSpec['priority'], boolean]> = [['lowbg', 'low', true], ['low', 'low', false], ['highbg', 'high', true], ['high', 'high', false], ['normalbg', 'normal', true], ['normal', 'normal', false]];
  for (const [data, priority, background] of read) void jobs.submit(spec(data, { priority, background }), background ? null : a);
  const turn = () => new Promise((r) => setImmediate(r));
  await turn();
  finishWrite('lowbg'); // the LOW job's write ends first
  await turn();
  await turn();
  finishWrite('normalbg');
  await turn();
  await turn();
  assert.equal(arrived, [], 'nothing handed out while a higher priority job read beside it is being written');
  finishWrite('highbg');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(arrived, ['highbg', 'high', 'normalbg', 'normal', 'lowbg', 'low'], 'gearmand\'s order');
});

test.run();
