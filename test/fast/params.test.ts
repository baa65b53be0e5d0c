/** Parameters (src/services/params.ts): names, ranges and fallbacks, with messages that name the problem. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Params } from '../../src/services/params.js';

test('parameters: names, ranges and fallbacks, with messages that name the problem', () => {
  const p = new Params('thumbnail', { width: '200', fit: 'cover', sharpen: 'yes', bad: -3 });
  assert.is(p.int('width', 1, 16383), 200);
  assert.is(p.int('height', 1, 16383, 0), 0);
  assert.throws(() => p.int('bad', 0, 10), /thumbnail: bad/);
  assert.throws(() => p.int('missing', 0, 10), /thumbnail: missing/);
});

test.run();
