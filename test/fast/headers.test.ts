/** Sealed header blocks and headerValue, against what nats.js encodes and reads. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { headers as natsHeaders, MsgHdrsImpl } from 'nats';
import { headerValue } from '../../src/mesh/headers.js';
import { resultHeaders } from '../../src/mesh/replies.js';
import { sealHeaders } from '../../src/mesh/sealed-headers.js';

test('sealed headers: encoded as nats.js encodes the same block, changes refused, values still validated; result blocks shared', () => {
  const plain = natsHeaders();
  plain.set('Dips-Worker', 'w-1');
  plain.set('Content-Type', 'image/png');
  const sealed = sealHeaders(['Dips-Worker', 'w-1'], ['Content-Type', 'image/png']);
  const encode = (h: unknown) => Buffer.from((h as MsgHdrsImpl).encode());
  assert.equal(encode(sealed), encode(plain));
  assert.equal(encode(sealed), encode(sealed), 'the cached encoding is the same bytes');
  assert.throws(() => sealed.set('Dips-Room', '2'), /sealed/);
  assert.throws(() => sealed.delete('Content-Type'), /sealed/);
  assert.is(sealed.get('Content-Type'), 'image/png');
  assert.throws(() => sealHeaders(['Dips-Error', 'two\r\nlines']), /invalid header value/);

  assert.equal(encode(resultHeaders('w-1', 1, 'image/png')), encode(plain), 'room 1 is the default and not sent');
  assert.is(resultHeaders('w-1', 1, 'image/png'), resultHeaders('w-1', 1, 'image/png'));
  assert.is.not(resultHeaders('w-1', 2, 'image/png'), resultHeaders('w-1', 1, 'image/png'));
  const structured = resultHeaders('w-1', 3, 'application/msgpack', 'msgpack');
  assert.equal([structured.get('Dips-Room'), structured.get('Content-Type'), structured.get('Dips-Encoding')], ['3', 'application/msgpack', 'msgpack']);
  assert.is(resultHeaders('w-1', 1e6, 'image/png').get('Dips-Room'), '1000000', 'an odd room is still sent, just not kept');
});

test('headerValue reads what MsgHdrs.get() reads, from a decoded block and from a built one', () => {
  const built = natsHeaders();
  built.set('Dips-Worker', 'w-1');
  built.append('Dips-Worker', 'w-2');
  built.set('Content-Type', 'image/png');
  const decoded = MsgHdrsImpl.decode((built as MsgHdrsImpl).encode());
  for (const h of [built, decoded]) {
    for (const name of ['Dips-Worker', 'Content-Type', 'content-type', 'Dips-Room']) assert.is(headerValue(h, name), h.get(name), name);
  }
  assert.is(headerValue(undefined, 'Dips-Worker'), '');
});

test.run();
