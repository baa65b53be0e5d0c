/** The gateway's budget of unread answers over all connections: only a real excess closes the biggest holder. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UnreadBudget, type UnreadHolder } from '../../src/gateway/unread-budget.js';

class Holder implements UnreadHolder {
  closed = false;
  constructor(public unreadBytes: number) {}
  destroy(): void {
    this.closed = true;
  }
}

test('counts a socket flushed without telling are taken again before anything is closed', () => {
  const budget = new UnreadBudget(100, () => undefined);
  const readers = Array.from({ length: 5 }, () => new Holder(40));
  for (const r of readers) {
    budget.update(r);
    r.unreadBytes = 0; // its client read it all; no 'drain' says so
  }
  assert.ok(readers.every((r) => !r.closed), 'no reader is closed for answers it has read');
  const silent = new Holder(90);
  const other = new Holder(30);
  budget.update(silent);
  budget.update(other);
  assert.ok(silent.closed, 'the biggest holder goes once the real total is over');
  assert.not.ok(other.closed);
});

test.run();
