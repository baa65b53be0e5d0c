/** A guest's share of its slots from the CPU its host leaves. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { shareFor } from '../../src/control/agent/guest.js';

test('guest share: the CPU the host leaves, in tenths; none past agent.guestHostCpuMax, and back only clearly below it', () => {
  assert.is(shareFor(0, 0.8), 1);
  assert.is(shareFor(0.03, 0.8), 1, 'an almost idle host leaves every slot');
  assert.is(shareFor(0.36, 0.8), 0.6);
  assert.is(shareFor(0.8, 0.8), 0);
  assert.is(shareFor(0.75, 0.8, 0), 0, 'a guest that stopped stays stopped near the line');
  assert.is(shareFor(0.66, 0.8, 0), 0.3);
});

test.run();
