/** The PHP codec on odd input: refused with the position, never a crash (the property tests are in php-codec.props.test.ts). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { phpSerialize, phpUnserialize, PhpSerializeError } from '../../src/mesh/codec/php.js';

test('PHP codec on odd input: truncated, wrong lengths, huge counts, trailing bytes are refused with the position', () => {
  for (const bad of ['s:5:"abc";', 'a:2:{i:0;i:1;}', 'i:12', 's:-1:"";', 'a:99999999999:{}', 'x:1;', 'i:1;junk']) {
    assert.throws(() => phpUnserialize(Buffer.from(bad)), (e: Error) => e instanceof PhpSerializeError && /\d/.test(e.message), bad);
  }
  const odd = { '': 'empty key', '0': 'numeric key', nul: 'a\0b', deep: [[[['x']]]], big: 2 ** 53 - 1, neg: -0.5, bool: false, none: null };
  assert.equal(phpUnserialize(phpSerialize(odd)), odd);
});

test.run();
