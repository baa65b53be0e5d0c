/** The wait queue: priority order, FIFO within a priority, a returning job keeps its place. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WaitQueue } from '../../src/mesh/wait-queue.js';

test('wait queue: HIGH, NORMAL, LOW, FIFO within each; a returning job keeps its place', () => {
  const q = new WaitQueue<{ seq: number; priority: 'high' | 'normal' | 'low' }>();
  const jobs = [[1, 'low'], [2, 'normal'], [3, 'high'], [4, 'normal'], [5, 'high']].map(([seq, priority]) => ({ seq: seq as number, priority: priority as 'high' }));
  for (const j of jobs) q.insert(j);
  const first = q.shift()!;
  assert.is(first.seq, 3);
  q.insert(first); // bounced: back to the front of its lane
  assert.equal([...Array(5)].map(() => q.shift()!.seq), [3, 5, 2, 4, 1]);
  assert.is(q.length, 0);
});

test.run();
