/** Admission of one worker process: slots, the prefetch budget, and plain callers' held jobs. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { headers as natsHeaders } from 'nats';
import { Admission, type HeldJob } from '../../src/services/admission.js';
import { acceptsOf, REQUESTER_ACCEPT } from '../../src/mesh/accept.js';
import { Header } from '../../src/mesh/headers.js';

const MiB = 1024 * 1024;

const hold = () => {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return { task: () => done, release };
};


test('admission: slots first; a short job may wait within the budget; never behind a job of unknown or long run time', async () => {
  let freed = 0;
  const a = new Admission(2, 10, 2, MiB, () => freed++);
  const long = hold();
  assert.ok(a.tryRun(long.task, 50));
  assert.ok(a.tryRun(hold().task, 0.1));
  assert.not.ok(a.tryRun(hold().task, 0.1), 'behind a 50 ms job a short one does not wait here');
  const b = new Admission(1, 10, 2, MiB);
  const short = hold();
  assert.ok(b.tryRun(short.task, 0.5));
  assert.ok(b.tryRun(hold().task, 0.5), '0.5 + 0.5 ms within the 2 ms budget');
  assert.ok(b.tryRun(hold().task, 0.5));
  assert.not.ok(b.tryRun(hold().task, 0.6), 'past the budget');
  assert.not.ok(b.tryRun(hold().task), 'unknown cost never waits here');
  assert.is(b.queued, 2);
  long.release();
  await new Promise((r) => setTimeout(r, 0));
  assert.is(freed, 1, 'a freed slot is reported');
  assert.is(a.free, 1);
});

test('held jobs: a full worker keeps plain callers\' jobs in priority order, bounded by bytes, before any new job', async () => {
  const a = new Admission(1, 10, 2, 100);
  const first = hold();
  assert.ok(a.tryRun(first.task, 0.1));
  const ran: string[] = [];
  const job = (seq: number, priority: HeldJob['priority'], bytes: number): HeldJob => ({ seq, priority, bytes, run: async () => void ran.push(`${priority}${seq}`) });
  assert.ok(a.hold(job(1, 'low', 30)));
  assert.ok(a.hold(job(2, 'normal', 30)));
  const high = job(3, 'high', 30);
  assert.ok(a.hold(high));
  assert.not.ok(a.hold(job(4, 'high', 11)), 'past maxHeldBytes (100)');
  assert.is(a.bytesHeld, 90);
  assert.is(a.free, 0);
  assert.not.ok(a.tryRun(hold().task, 0.1), 'a bouncing caller\'s job does not pass the held ones by prefetch');
  assert.is(a.roomFor(0.1, 0.1), 0, 'the slot about to free goes to a held job: no room to offer');
  assert.ok(a.release(high), 'a held job can be withdrawn before it runs');
  assert.not.ok(a.release(high), 'once');
  first.release();
  await a.idle();
  assert.equal(ran, ['normal2', 'low1']);
  assert.is(a.bytesHeld, 0);
});

test('Dips-Accept: absent is a plain caller; tokens in any order and case; unknown ones ignored', () => {
  const h = (v?: string) => {
    const x = natsHeaders();
    if (v !== undefined) x.set(Header.accept, v);
    return x;
  };
  assert.equal({ ...acceptsOf(undefined) }, { noRoom: false, events: false });
  assert.equal({ ...acceptsOf(h()) }, { noRoom: false, events: false });
  assert.equal({ ...acceptsOf(h(REQUESTER_ACCEPT)) }, { noRoom: true, events: true });
  assert.equal({ ...acceptsOf(h('EVENTS')) }, { noRoom: false, events: true });
  assert.equal({ ...acceptsOf(h('future-thing, no-room')) }, { noRoom: true, events: false });
});

test.run();
