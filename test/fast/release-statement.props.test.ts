/**
 * Fuzz tier: a signed release statement (src/control/release/statement.ts)
 * as a hostile holder, peer or man in the middle would alter one. Any change
 * of the statement or the signature, one character or one byte, is refused;
 * a statement naming a trusted key but signed by another is refused; and a
 * statement the trusted key did sign but with odd fields is refused by name
 * or opened to exactly what it says, never a crash or a polluted prototype.
 * DIPS_FUZZ_SEED / DIPS_FUZZ_RUNS: see fuzz.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { keyId, signBytes, type TrustedKey } from '../../src/control/release/keys.js';
import { CHUNK_BYTES, openRelease, ReleaseRefused, signRelease, type Release, type SignedRelease } from '../../src/control/release/statement.js';
import { announce, check } from './fuzz.js';

announce('release-statement.props.test');

const MAX_BUNDLE = 32 * 1024 * 1024;

function keyPair(): { key: KeyObject; trusted: TrustedKey } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pub = createPublicKey(privateKey);
  return { key: privateKey, trusted: { id: keyId(pub), key: pub, file: 'test.pub.pem' } };
}
const ours = keyPair();
const theirs = keyPair();
const TRUSTED = [ours.trusted];

const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
/** Who signed: shown, never trusted, so any text at all (U+FFFD included, the one character two inputs can share). */
const by = fc.oneof(fc.constant(undefined), fc.string({ unit: 'binary', maxLength: 20 }), fc.constant('op\uFFFDerator'));
const release: fc.Arbitrary<Omit<Release, 'kind'>> = fc
  .record({
    name: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/),
    version: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9.+_-]{0,20}$/),
    sha256: hex64,
    size: fc.integer({ min: 1, max: 4 * CHUNK_BYTES }),
    issuedAt: fc.integer({ min: 1, max: 4e12 }),
    by,
  })
  .chain((r) => fc.array(hex64, { minLength: Math.ceil(r.size / CHUNK_BYTES), maxLength: Math.ceil(r.size / CHUNK_BYTES) }).map((chunks) => ({ ...r, chunks })))
  .map(({ by: who, ...r }) => ({ ...r, keyId: ours.trusted.id, ...(who === undefined ? {} : { by: who }) }));

function refused(signed: unknown, trusted: TrustedKey[] = TRUSTED, why?: RegExp): void {
  let opened: Release | undefined;
  try {
    opened = openRelease(signed, trusted, MAX_BUNDLE);
  } catch (err) {
    assert.ok(err instanceof ReleaseRefused, `expected a ReleaseRefused, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    if (why) assert.match(err.message, why);
    return;
  }
  assert.unreachable(`accepted: ${JSON.stringify(opened)}`);
}

test('a signed release opens to exactly what was signed', () => {
  check(
    fc.property(release, (r) => {
      assert.equal(openRelease(signRelease(r, ours.key), TRUSTED, MAX_BUNDLE), { kind: 'dips-release/1', ...r });
    }),
    300,
  );
});

const anyChar = fc.oneof(fc.constantFrom(...'{}[]":,0123456789abcdef-xyz \\'.split('')), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), fc.constantFrom('\uD800', '\uDC00', '\uFFFD', '\0'));
const b64Char = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n.'.split(''));

function mutate(text: string, at: number, c: string, how: 'replace' | 'remove' | 'insert'): string {
  const chars = [...text.split('')];
  const i = at % (chars.length + (how === 'insert' ? 1 : 0));
  if (how === 'replace') chars[i] = c;
  else if (how === 'remove') chars.splice(i, 1);
  else chars.splice(i, 0, c);
  return chars.join('');
}

test('any one-character change of the statement (replaced, removed, added; lone surrogates too) is refused', () => {
  check(
    fc.property(release, fc.nat(), anyChar, fc.constantFrom('replace', 'remove', 'insert' as const), (r, at, c, how) => {
      const signed = signRelease(r, ours.key);
      const statement = mutate(signed.statement, at, c, how);
      fc.pre(statement !== signed.statement);
      refused({ ...signed, statement });
    }),
    3000,
  );
});

test('any one-byte change of the statement as it travels (UTF-8 in a JSON message) is refused', () => {
  check(
    fc.property(release, fc.nat(), fc.integer({ min: 0, max: 255 }), (r, at, byte) => {
      const signed = signRelease(r, ours.key);
      const wire = Buffer.from(JSON.stringify(signed), 'utf8');
      const i = at % wire.length;
      fc.pre(wire[i] !== byte);
      const altered = Buffer.from(wire);
      altered[i] = byte;
      let parsed: unknown;
      try {
        parsed = JSON.parse(altered.toString('utf8'));
      } catch {
        return; // not JSON any more: the agent drops it before openRelease
      }
      const p = parsed as Partial<SignedRelease> | null;
      // a change to the JSON's syntax alone (an escape spelt otherwise, a space) is the same release
      if (p && p.statement === signed.statement && p.signature === signed.signature) return;
      refused(parsed);
    }),
    3000,
  );
});

test('any one-character change of the signature (base64 spelt otherwise, padding, whitespace included) is refused', () => {
  check(
    fc.property(release, fc.nat(), b64Char, fc.constantFrom('replace', 'remove', 'insert' as const), (r, at, c, how) => {
      const signed = signRelease(r, ours.key);
      const signature = mutate(signed.signature, at, c, how);
      fc.pre(signature !== signed.signature);
      refused({ ...signed, signature });
    }),
    3000,
  );
});

test("a statement naming a trusted key but signed by another is refused; so is one naming a key no one trusts", () => {
  check(
    fc.property(release, (r) => {
      refused(signRelease(r, theirs.key), TRUSTED, /does not verify/);
      refused(signRelease({ ...r, keyId: theirs.trusted.id }, theirs.key), TRUSTED, /does not trust/);
      // signed by our key, but claiming theirs (which is also trusted): the signature must be checked with the key named
      refused(signRelease({ ...r, keyId: theirs.trusted.id }, ours.key), [ours.trusted, theirs.trusted], /does not verify/);
    }),
    100,
  );
  refused(signRelease({ name: 'a', version: '1', sha256: 'a'.repeat(64), size: 1, chunks: ['b'.repeat(64)], issuedAt: 1, keyId: ours.trusted.id }, ours.key), [], /trusts no deploy key/);
});

/** Sign any statement text with our (trusted) key, as a careless or compromised signer might. */
const signText = (statement: string): SignedRelease => ({ statement, signature: signBytes(ours.key, Buffer.from(statement, 'utf8')) });
const good = (): Record<string, unknown> => ({ kind: 'dips-release/1', name: 'hello', version: '1.0.0', sha256: 'a'.repeat(64), size: 10, chunks: ['b'.repeat(64)], issuedAt: 1700000000000, keyId: ours.trusted.id });

test('a statement with two keyId fields (the regex reads the first, JSON.parse keeps the last) is refused', () => {
  const text = JSON.stringify(good()).replace(/}$/, `,"keyId":"${theirs.trusted.id}"}`);
  refused(signText(text), [ours.trusted, theirs.trusted], /keyId/);
});

test('signed statements with odd fields are refused by name, or open without a crash and without touching any prototype', () => {
  const odd: Array<[string, (r: Record<string, unknown>) => string]> = [
    ['__proto__ key', (r) => JSON.stringify(r).replace(/^\{/, '{"__proto__":{"polluted":true},')],
    ['constructor.prototype key', (r) => JSON.stringify({ constructor: { prototype: { polluted: true } }, ...r })],
    ['negative size', (r) => JSON.stringify({ ...r, size: -10 })],
    ['float size', (r) => JSON.stringify({ ...r, size: 10.5 })],
    ['size as a string', (r) => JSON.stringify({ ...r, size: '10' })],
    ['size 1e300', (r) => JSON.stringify({ ...r, size: 1e300 })],
    ['size past maxBundleBytes', (r) => JSON.stringify({ ...r, size: MAX_BUNDLE + 1, chunks: Array.from({ length: Math.ceil((MAX_BUNDLE + 1) / CHUNK_BYTES) }, () => 'b'.repeat(64)) })],
    ['more chunks than the size needs', (r) => JSON.stringify({ ...r, chunks: ['b'.repeat(64), 'c'.repeat(64)] })],
    ['no chunks', (r) => JSON.stringify({ ...r, chunks: [] })],
    ['a huge chunk array', (r) => JSON.stringify({ ...r, chunks: Array.from({ length: 3000 }, () => 'b'.repeat(64)) })],
    ['chunks as an object', (r) => JSON.stringify({ ...r, chunks: { length: 1, 0: 'b'.repeat(64) } })],
    ['a chunk in capitals', (r) => JSON.stringify({ ...r, chunks: ['B'.repeat(64)] })],
    ['float issuedAt', (r) => JSON.stringify({ ...r, issuedAt: 1.5 })],
    ['negative issuedAt', (r) => JSON.stringify({ ...r, issuedAt: -1 })],
    ['name with a slash', (r) => JSON.stringify({ ...r, name: '../etc' })],
    ['version ..', (r) => JSON.stringify({ ...r, version: '..' })],
    ['name with a NUL', (r) => JSON.stringify({ ...r, name: 'a\0b' })],
    ['wrong kind', (r) => JSON.stringify({ ...r, kind: 'dips-release/2' })],
    ['an array', () => '[1,2,3]'],
    ['null', () => 'null'],
    ['a number', () => '42'],
    ['not JSON', () => '{"keyId":"' + ours.trusted.id + '", nope'],
    ['extra fields', (r) => JSON.stringify({ ...r, extra: { deep: [1, 2, 3] }, toString: 'x', hasOwnProperty: 1 })],
  ];
  for (const [label, make] of odd) {
    const text = make(good());
    try {
      const r = openRelease(signText(text), TRUSTED, MAX_BUNDLE);
      // what opens satisfies every rule the agent builds paths and fetches from
      assert.match(r.name, /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, label);
      assert.match(r.version, /^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$/, label);
      assert.ok(Number.isSafeInteger(r.size) && r.size > 0 && r.chunks.length === Math.ceil(r.size / CHUNK_BYTES), label);
      assert.ok(typeof r.toString === 'function' || label === 'extra fields', label);
    } catch (err) {
      assert.ok(err instanceof ReleaseRefused, `${label}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
    assert.is(({} as Record<string, unknown>).polluted, undefined, `${label} polluted Object.prototype`);
  }
});

test('anything at all in place of a signed release is refused, never a crash', () => {
  check(
    fc.property(fc.oneof(fc.anything(), fc.record({ statement: fc.anything(), signature: fc.anything() }), fc.record({ statement: fc.string(), signature: fc.base64String() })), (v) => {
      refused(v);
    }),
    2000,
  );
  refused({ statement: 'x'.repeat(300 * 1024), signature: '' }, TRUSTED, /larger than/);
});

test.run();
