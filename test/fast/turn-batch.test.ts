/** TurnBatch: what one turn adds runs together, in order. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TurnBatch } from '../../src/mesh/turn-batch.js';

test('turn batch: what one turn adds runs together, in order, after the turn\'s microtasks; flush() runs it at once', async () => {
  const ran: string[] = [];
  const batch = new TurnBatch<string>((item) => ran.push(item));
  batch.add('a');
  await Promise.resolve().then(() => batch.add('b')); // a later microtask of the same turn
  batch.add('c');
  assert.equal(ran, [], 'nothing runs inside the turn');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(ran, ['a', 'b', 'c']);
  batch.add('d');
  batch.flush();
  assert.equal(ran, ['a', 'b', 'c', 'd']);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(ran, ['a', 'b', 'c', 'd'], 'the check phase finds nothing left to run');
});

test.run();
