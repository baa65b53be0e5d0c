/** The requester's rules, with no server: waiting by priority, deadlines, no worker, the byte limit, resend only when idempotent. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { headers as natsHeaders } from 'nats';
import { Header } from '../../src/mesh/headers.js';
import { Requester, type Priority } from '../../src/mesh/requester.js';
import { CallError } from '../../src/mesh/call-error.js';
import { noRoomHeaders, PAUSED_NOTICE } from '../../src/mesh/room.js';
import { MAX_GATES, UNSERVED_GATE_IDLE_MS } from '../../src/mesh/timing.js';
import { LoopbackNats } from './loopback-nats.js';

const text = (d: Uint8Array) => Buffer.from(d).toString();
const requester = (nats: LoopbackNats, maxPendingBytes = 1 << 20) => new Requester(nats.asConnection(), { maxPendingBytes, limitName: 'queue.maxWaitingBytes' });

test('with the only slot taken, waiting jobs run HIGH, NORMAL, LOW, first in first out within each', async () => {
  const nats = new LoopbackNats();
  const ran: string[] = [];
  let busy = false;
  // one worker with one slot, reached through its queue group or directly (dips.fn.f.w1)
  const worker = (msg: Parameters<Parameters<LoopbackNats['serve']>[1]>[0], respond: (d: Uint8Array, h?: ReturnType<typeof natsHeaders>) => void) => {
    if (busy) return respond(new Uint8Array(0), noRoomHeaders());
    busy = true;
    setTimeout(() => {
      ran.push(text(msg.data));
      busy = false;
      const h = natsHeaders();
      h.set(Header.worker, 'w1');
      respond(msg.data, h);
    }, 5);
  };
  nats.serve('dips.fn.f', worker);
  nats.serve('dips.fn.f.w1', worker);
  const r = requester(nats);
  const order: Array<[string, Priority]> = [['first', 'normal'], ['L1', 'low'], ['N1', 'normal'], ['H1', 'high'], ['L2', 'low'], ['H2', 'high'], ['N2', 'normal']];
  const calls = order.map(([name, priority]) => r.call('f', Buffer.from(name), { timeoutMs: 5000, priority }));
  await Promise.all(calls);
  assert.equal(ran, ['first', 'H1', 'H2', 'N1', 'N2', 'L1', 'L2']);
  r.close();
});

test('a function nobody serves waits, then fails with "no worker" at the deadline; one that only bounces says no room', async () => {
  const nats = new LoopbackNats();
  const r = requester(nats);
  const started = Date.now();
  const err = await r.call('ghost', Buffer.from('x'), { timeoutMs: 150 }).catch((e: CallError) => e);
  assert.instance(err, CallError);
  assert.equal([(err as CallError).code, (err as CallError).message], [503, 'no worker for ghost: none served it within 150 ms']);
  assert.ok(Date.now() - started >= 140);
  nats.serve('dips.fn.full', (_msg, respond) => respond(new Uint8Array(0), noRoomHeaders()));
  const full = await r.call('full', Buffer.from('x'), { timeoutMs: 120 }).catch((e: CallError) => e);
  assert.equal([(full as CallError).code, (full as CallError).message], [408, 'full: no worker had room within 120 ms']);
  r.close();
});

test('after a worker says an operator paused the function, a call nobody serves fails at once saying so; room clears it', async () => {
  const nats = new LoopbackNats();
  const r = requester(nats);
  let unserve = nats.serve('dips.fn.card', (msg, respond) => respond(msg.data));
  await r.call('card', Buffer.from('a'), { timeoutMs: 1000 }); // the requester now listens on dips.room.card
  unserve();
  nats.publish('dips.room.card', Buffer.from(PAUSED_NOTICE));
  const started = Date.now();
  const err = await r.call('card', Buffer.from('b'), { timeoutMs: 2000 }).catch((e: CallError) => e);
  assert.instance(err, CallError);
  assert.match((err as CallError).message, /^card is paused: no worker takes it until `dipsctl resume --function card`$/);
  assert.ok(Date.now() - started < 500, 'at once, not at the deadline');
  // resumed: a worker announces room, calls wait for and reach it again
  unserve = nats.serve('dips.fn.card', (msg, respond) => respond(msg.data));
  nats.publish('dips.room.card', Buffer.from('1 dips.fn.card'));
  assert.is(text((await r.call('card', Buffer.from('c'), { timeoutMs: 1000 })).data), 'c');
  unserve();
  r.close();
});

test('a job waiting for a worker that appears later runs', async () => {
  const nats = new LoopbackNats();
  const r = requester(nats);
  const call = r.call('late', Buffer.from('hi'), { timeoutMs: 2000 });
  await new Promise((res) => setTimeout(res, 60));
  nats.serve('dips.fn.late', (msg, respond) => respond(msg.data));
  assert.is(text((await call).data), 'hi');
  r.close();
});

test('past the byte limit a call is refused with 503 naming the key; an aborted call is withdrawn', async () => {
  const nats = new LoopbackNats();
  const r = requester(nats, 10);
  const held = r.call('slow', Buffer.alloc(8), { timeoutMs: 200 }).catch(() => 'gone');
  const over = await r.call('slow', Buffer.alloc(8), { timeoutMs: 200 }).catch((e: CallError) => e);
  assert.equal([(over as CallError).code, (over as CallError).message], [503, 'slow: queue full: 8 bytes of jobs already waiting or running here, limit 10 (queue.maxWaitingBytes)']);
  await held;
  const abort = new AbortController();
  const withdrawn = r.call('slow', Buffer.alloc(1), { timeoutMs: 5000, signal: abort.signal }).catch((e: CallError) => e);
  abort.abort();
  assert.is(((await withdrawn) as CallError).code, 409);
  assert.is(r.bytesPending, 0, 'nothing left held');
  r.close();
});

test('a request nobody acknowledges is sent again if the function is idempotent, never if not', async () => {
  const nats = new LoopbackNats();
  let seen = 0;
  nats.serve('dips.fn.lossy', (msg, respond) => {
    if (++seen === 1) return; // the first copy is lost with its worker
    respond(msg.data);
  });
  const r = requester(nats);
  assert.is(text((await r.call('lossy', Buffer.from('again'), { timeoutMs: 5000 })).data), 'again');
  assert.is(seen, 2);
  assert.is(r.resent, 1);
  seen = 0;
  const once = await r.call('lossy', Buffer.from('once'), { timeoutMs: 1600, idempotent: false }).catch((e: CallError) => e);
  assert.is(seen, 1, 'never sent twice');
  assert.is((once as CallError).code, 408);
  r.close();
});

test('a name that cannot be a subject token is refused before it reaches NATS, whatever path it came by', async () => {
  const nats = new LoopbackNats();
  const r = requester(nats);
  for (const fn of ['', 'a\0b', 'x'.repeat(513), '\uFFFD'.repeat(512)]) {
    const err = (await r.call(fn, Buffer.from('x'), { timeoutMs: 1000 }).catch((e: CallError) => e)) as CallError;
    assert.is(err.kind, 'BAD_REQUEST', JSON.stringify(fn.slice(0, 10)));
    assert.match(err.message, /not a function name/);
  }
  assert.is(r.gateCount, 0, 'no gate, no subscription');
  r.close();
});

test('a name no worker ever served loses its gate soon after its last job; past MAX_GATES names at once, the next is refused BUSY', async () => {
  const nats = new LoopbackNats(); // nobody serves anything
  const r = requester(nats);
  const abort = new AbortController();
  const waiting: Array<Promise<unknown>> = [];
  for (let i = 0; i < MAX_GATES; i++) {
    waiting.push(r.call(`made-up-${i}`, Buffer.from('x'), { timeoutMs: 60_000, signal: abort.signal }).catch(() => undefined));
    // now and then a turn, so "no responders" puts each job in its gate's queue: a gate something waits in stays
    if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setImmediate(resolve));
  assert.is(r.gateCount, MAX_GATES);
  const refused = (await r.call('one-more', Buffer.from('x'), { timeoutMs: 1000 }).catch((e: CallError) => e)) as CallError;
  assert.is(refused.kind, 'BUSY');
  assert.match(refused.message, new RegExp(`jobs wait here for ${MAX_GATES} functions already`));
  abort.abort();
  await Promise.all(waiting);
  await new Promise((resolve) => setTimeout(resolve, UNSERVED_GATE_IDLE_MS + 600));
  assert.is(r.gateCount, 0, 'unserved gates go once nothing waits in them');
  assert.is(nats.subscriptionsTo('dips.room.'), 0);
  r.close();
});

test('every function name called leaves no subscription behind: an idle gate is dropped with its room subscription', async () => {
  const nats = new LoopbackNats();
  nats.serve('dips.fn.*', (msg, respond) => respond(msg.data));
  const r = new Requester(nats.asConnection(), { maxPendingBytes: 1 << 20, gateIdleMs: 100 });
  for (let i = 0; i < 50; i++) await r.call(`name-${i}`, Buffer.from('x'), { timeoutMs: 1000 });
  assert.is(r.gateCount, 50);
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.is(r.gateCount, 0, 'idle gates are dropped');
  assert.is(nats.subscriptionsTo('dips.room.'), 0, 'and their room subscriptions closed');
  await r.call('name-0', Buffer.from('x'), { timeoutMs: 1000 }); // a new call makes its gate again
  assert.is(r.gateCount, 1);
  r.close();
});

test.run();
