/** Payload codecs against real PHP serialize()/unserialize() output. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encode as msgpackEncode } from '@msgpack/msgpack';
import { decodeBody, encodeBody, sniffEncoding } from '../src/mesh/codec/index.js';
import { phpSerialize, phpUnserialize } from '../src/mesh/codec/php.js';
import { runPhp } from './php.js';

const BLOB = Buffer.from(Array.from({ length: 256 }, (_, i) => i)); // every byte value, incl. NUL, quotes, ';', '}'

test('decodes real PHP serialize() output byte-exact: binary, multibyte, nested, scalars', async () => {
  const php = await runPhp(`
    $blob = '';
    for ($i = 0; $i < 256; $i++) $blob .= chr($i);
    $nested = ['a' => [1, 2, [3.5, -7]], 'empty' => [], 'text' => '金山', 'blob' => $blob];
    echo json_encode(['nested' => base64_encode(serialize($nested)), 'all' => base64_encode(serialize([
      'pSN' => '1234567890',
      'title' => '金山密码保护卡',
      'blob' => $blob,
      'nested' => ['a' => [1, 2, [3.5, -7]], 'empty' => []],
      7 => true, 'f' => false, 'n' => null, 'neg' => -42, 'big' => 9007199254740991,
      'inf' => INF, 'list' => ['x', 'y'],
    ]))]);`);
  assert.is(php.code, 0, php.stderr);
  const out = JSON.parse(php.stdout.toString());
  const all = Buffer.from(out.all, 'base64');
  const nested = Buffer.from(out.nested, 'base64');
  const value = phpUnserialize(all) as Record<string, any>;
  assert.is(value.pSN, '1234567890');
  assert.is(value.title, '金山密码保护卡');
  assert.ok(Buffer.isBuffer(value.blob));
  assert.ok(BLOB.equals(value.blob), 'binary string comes back byte for byte');
  assert.equal(value.nested, { a: [1, 2, [3.5, -7]], empty: [] });
  assert.is(value['7'], true);
  assert.is(value.f, false);
  assert.is(value.n, null);
  assert.is(value.neg, -42);
  assert.is(value.big, 9007199254740991);
  assert.is(value.inf, Infinity);
  assert.equal(value.list, ['x', 'y']);
  // and the same bytes come back out of our serializer (JS objects reorder integer keys, so a map without them)
  assert.ok(phpSerialize(phpUnserialize(nested)).equals(nested), 'phpSerialize reproduces PHP byte for byte');
});

test('PHP unserialize()s what we serialize', async () => {
  const ours = phpSerialize({ format: 'png', width: 200, ratio: 0.5, ok: true, none: null, text: '密保卡', bytes: BLOB, list: [1, 'two'] });
  const php = await runPhp(`
    $v = unserialize(file_get_contents('php://stdin'));
    if ($v === false) { fwrite(STDERR, 'unserialize failed'); exit(1); }
    $blob = ''; for ($i = 0; $i < 256; $i++) $blob .= chr($i);
    echo json_encode([$v['format'], $v['width'], $v['ratio'], $v['ok'], $v['none'], $v['text'], $v['bytes'] === $blob, $v['list']], JSON_UNESCAPED_UNICODE);`, ours);
  assert.is(php.code, 0, php.stderr);
  assert.equal(JSON.parse(php.stdout.toString()), ['png', 200, 0.5, true, null, '密保卡', true, [1, 'two']]);
});

test('malformed PHP serialize data is refused with the position', () => {
  for (const bad of ['s:5:"abc";', 'a:2:{i:0;i:1;}', 'i:12', 'x:1;', 's:3:"abc"', 'a:1:{i:0;i:1;}junk', 'a:99999999:{']) {
    assert.throws(() => phpUnserialize(Buffer.from(bad)), /PHP serialized data: .* at byte \d+/, bad);
  }
  assert.throws(() => phpUnserialize(Buffer.from('a:1:{i:0;'.repeat(100) + 'N;' + '}'.repeat(100))), /deeper than/);
});

test('sniffs the encoding of a body without a header', () => {
  assert.is(sniffEncoding(msgpackEncode({ a: 1 })), 'msgpack');
  assert.is(sniffEncoding(phpSerialize({ a: 1 })), 'php');
  assert.is(sniffEncoding(Buffer.from('{"a":1}')), 'json');
  assert.is(sniffEncoding(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'raw');
  assert.is(sniffEncoding(Buffer.from([0x89, 0x50, 0x4e, 0x47])), 'raw');
});

test('structured bodies round-trip through every encoding', () => {
  const value = { pSN: '42', pData: [1, 2, 3], nested: { ok: true } };
  for (const enc of ['msgpack', 'php', 'json'] as const) assert.equal(decodeBody(encodeBody(value, enc), enc), value, enc);
});

test.run();
