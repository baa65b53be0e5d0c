/**
 * Fuzz tier: the HTTP gateway's URL parser (src/gateway/http/url.ts) and URL
 * signatures (src/shared/url-signature.ts). DIPS_FUZZ_SEED / DIPS_FUZZ_RUNS:
 * see fuzz.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { parseImagePath, toCall, typed, type ImageRequest } from '../../src/gateway/http/url.js';
import { buildImagePath, sign, signingKey, verify, type SigningKey } from '../../src/shared/url-signature.js';
import { DipsError, ErrorCode } from '../../src/shared/errors.js';
import { announce, check } from './fuzz.js';

announce('url.props.test');

const OP_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const FORMATS = ['jpeg', 'png', 'webp', 'avif', 'gif', 'tiff', 'auto'];
const SOURCE_START = /^(local|https?|b64):/;
const PRESETS: Readonly<Record<string, string>> = { thumb: 'thumbnail:width=200/format:auto', small: 'resize:width=64,height=64', info: 'info', bad: 'Nope!' };

// ---- signatures ----------------------------------------------------------------

const hex = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((b) => Buffer.from(b).toString('hex'));
const signing: fc.Arbitrary<SigningKey> = fc.tuple(hex(1, 64), hex(0, 32)).map(([k, s]) => signingKey(k, s) as SigningKey);
/**
 * Path characters: mostly what URLs carry, sometimes any code point. Whole code
 * points, never a lone surrogate: a request's path is decoded from bytes and
 * cannot hold one (two lone surrogates both sign as U+FFFD).
 */
const pathChar = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...'abcxyz019/:=,.-_%~+ABZ'.split('')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);
const signedPath = fc.array(pathChar, { minLength: 1, maxLength: 80 }).map((cs) => ['/', ...cs]);

test('sign → verify round-trips; a signature is 43 base64url characters', () => {
  check(
    fc.property(signing, signedPath, (key, chars) => {
      const path = chars.join('');
      const signature = sign(key, path);
      assert.match(signature, /^[A-Za-z0-9_-]{43}$/);
      assert.ok(verify(key, path, signature));
    }),
    3000,
  );
});

test('any one-character change to a signed path (replaced, removed or added) fails verification', () => {
  check(
    fc.property(signing, signedPath, fc.nat(), pathChar, fc.constantFrom('replace', 'remove', 'insert'), (key, chars, at, c, how) => {
      const path = chars.join('');
      const signature = sign(key, path);
      const i = at % chars.length;
      const mutated = [...chars];
      if (how === 'replace') mutated[i] = c;
      else if (how === 'remove') mutated.splice(i, 1);
      else mutated.splice(i, 0, c);
      fc.pre(mutated.join('') !== path); // a replacement by the same character is no change
      assert.not.ok(verify(key, mutated.join(''), signature), `${JSON.stringify(path)} → ${JSON.stringify(mutated.join(''))}`);
    }),
    5000,
  );
});

test('a changed signature, or another key or salt, fails verification', () => {
  const b64url = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split(''));
  check(
    fc.property(signing, signing, signedPath, fc.nat(), b64url, (key, other, chars, at, c) => {
      const path = chars.join('');
      const signature = sign(key, path);
      const i = at % signature.length;
      if (signature[i] !== c) assert.not.ok(verify(key, path, signature.slice(0, i) + c + signature.slice(i + 1)));
      assert.not.ok(verify(key, path, signature.slice(0, i)), 'a truncated signature');
      const same = other.key.equals(key.key) && other.salt.equals(key.salt);
      // HMAC(key, salt + path): another key, or a salt moved across into the path, signs differently
      if (!same) assert.not.ok(verify(other, path, signature));
    }),
    3000,
  );
});

// ---- the URL parser -------------------------------------------------------------

const word = (chars: string, min: number, max: number) => fc.array(fc.constantFrom(...chars.split('')), { minLength: min, maxLength: max }).map((cs) => cs.join(''));
/** A parameter value: words, numbers, booleans, percent escapes valid and broken, any text percent-encoded. */
const paramValue = fc.oneof(
  word('abcxyz', 0, 6),
  fc.integer({ min: -100000, max: 100000 }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map(String),
  fc.constantFrom('true', 'false', '%20', '%E2%82%AC', '%', '%E0%A4%A', '%ZZ', '%C0%80', '1.', '.5', '-0', '00012'),
  fc.string({ unit: 'binary', maxLength: 8 }).map(encodeURIComponent),
);
/**
 * Parameter keys. "op" and "steps" are left out: both override what the parser
 * built (the skipped findings below).
 */
const paramKey = word('abcdefghiklmnoprstuvwxyz', 1, 6).filter((k) => k !== 'op' && k !== 'steps');
const pairs = fc.array(fc.oneof({ weight: 6, arbitrary: fc.tuple(paramKey, paramValue).map(([k, v]) => `${k}=${v}`) }, { weight: 1, arbitrary: fc.constantFrom('', '=', '=x', 'novalue', 'a==b') }), { maxLength: 4 });
const opName = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('thumbnail', 'resize', 'crop', 'rotate', 'blur', 'watermark', 'x', 'a-b_c9') }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }) });
/** Preset names: configured ones, unknown ones, and Object.prototype's (which once reached the prototype). */
const presetName = fc.oneof(fc.constantFrom(...Object.keys(PRESETS)), word('abcxyz', 0, 5), fc.constantFrom(...Object.getOwnPropertyNames(Object.prototype)));
const segment = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(opName, pairs).map(([n, ps]) => (ps.length ? `${n}:${ps.join(',')}` : n)) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('format', 'f'), fc.oneof(fc.constantFrom(...FORMATS, 'jpg'), word('abcjpegnw', 0, 5)), pairs).map(([f, fmt, ps]) => [`${f}:${fmt}`, ...ps].join(',')) },
  { weight: 1, arbitrary: fc.constantFrom('info', 'info:x=1', '', 'format', 'f:') },
  { weight: 1, arbitrary: presetName.map((n) => `p/${n}`) },
  { weight: 1, arbitrary: fc.constant('p') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 10 }) },
);
const source = fc.oneof(
  fc.constantFrom('local:photos/a.jpg', 'https://images.example.com/a.jpg', 'http://x/y', 'b64:aHR0cHM6Ly94L3k', 'local:', 'b64:'),
  fc.string({ maxLength: 12 }),
);
const imagePath = fc.tuple(fc.array(segment, { maxLength: 5 }), source).map(([segs, src]) => `/${[...segs, src].join('/')}`);

/** What a parsed request must hold whatever the input (the grammar in url.ts's header). */
function assertWithinLimits(r: ImageRequest): void {
  assert.match(r.source, SOURCE_START);
  assert.ok(r.format === undefined || FORMATS.includes(r.format), `format ${r.format}`);
  if (r.info) assert.ok(r.steps.length === 0 && r.format === undefined, 'info with other operations');
  else assert.ok(r.steps.length > 0 || r.format !== undefined, 'no operation');
  for (const step of r.steps) {
    assert.ok(typeof step.op === 'string' && OP_NAME.test(step.op), `step op ${JSON.stringify(step.op)}`);
    for (const [k, v] of Object.entries(step)) if (k !== 'op') assert.ok(k.length > 0 && ['string', 'number', 'boolean'].includes(typeof v), `${k}=${String(v)}`);
  }
  for (const [k, v] of Object.entries(r.output)) assert.ok(k.length > 0 && ['string', 'number', 'boolean'].includes(typeof v), `${k}=${String(v)}`);
  const call = toCall(r, r.format === 'auto' ? 'webp' : r.format);
  if (call.fn === 'pipeline') assert.is(call.params.steps, r.steps, 'the call carries the parsed steps');
}

/** Parse; a refusal must be the parser's own: DipsError 400 whose message starts "url: ". */
function parseOrRefuse(path: string): ImageRequest | undefined {
  try {
    return parseImagePath(path, PRESETS);
  } catch (err) {
    assert.instance(err, DipsError, `${path}: ${String(err)}`);
    assert.is((err as DipsError).code, ErrorCode.badRequest);
    assert.match((err as Error).message, /^url: ./);
    return undefined;
  }
}

test('URL paths built from the grammar: parsed within the limits, or refused with a 400 DipsError', () => {
  check(
    fc.property(imagePath, (path) => {
      const r = parseOrRefuse(path);
      if (r) assertWithinLimits(r);
    }),
    5000,
  );
});

test('arbitrary text as a path: parsed within the limits, or refused with a 400 DipsError', () => {
  check(
    fc.property(fc.string({ unit: 'binary', maxLength: 60 }).map((s) => `/${s}`), (path) => {
      const r = parseOrRefuse(path);
      if (r) assertWithinLimits(r);
    }),
    3000,
  );
});

test('buildImagePath (what `dips url` signs) → parseImagePath → toCall gives back the function and parameters', () => {
  const stepFn = word('abcdefghilmnorstuwz', 1, 10).filter((f) => OP_NAME.test(f) && !['info', 'convert', 'format', 'f', 'p'].includes(f));
  const params = fc.dictionary(paramKey.filter((k) => k !== 'format'), fc.oneof(word('abcxyz', 1, 6), fc.integer().map(String), fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }), fc.constantFrom('true', 'false', '1.5')), { maxKeys: 4 });
  const src = fc.oneof(fc.constantFrom('local:photos/a.jpg', 'local:cards/x y.png'), fc.webUrl({ validSchemes: ['https', 'http'] }));
  const fn = fc.oneof(stepFn, fc.constant('convert'), fc.constant('info'));
  check(
    fc.property(fn, params, fc.option(fc.constantFrom(...FORMATS)), src, (f, ps, format, source) => {
      if (f === 'convert' && format === null) format = 'jpeg'; // convert names a format (buildImagePath drops its pairs otherwise)
      const all: Record<string, unknown> = format === null ? { ...ps } : { ...ps, format };
      const path = buildImagePath(f, f === 'info' ? {} : all, source);
      const r = parseImagePath(path, {});
      assertWithinLimits(r);
      const typedPs = Object.fromEntries(Object.entries(ps).map(([k, v]) => [k, typed(v)]));
      const call = toCall(r, r.format);
      const b64 = /^https?:\/\//.test(source) ? `b64:${Buffer.from(source).toString('base64url')}` : source;
      assert.is(r.source, b64);
      if (f === 'info') assert.equal(call, { fn: 'info', params: {} });
      else if (f === 'convert') assert.equal(call, { fn: 'convert', params: { ...typedPs, format } });
      else assert.equal(call, { fn: 'pipeline', params: { steps: [{ op: f, ...typedPs }], ...(format === null ? {} : { format }) } });
    }),
    3000,
  );
});

/*
 * Found by this tier, fixed: a parameter named "op" replaces the
 * step's operation, since url.ts builds a step as { op: name, ...params }. The
 * op is then neither the name the URL gave nor checked against the op-name
 * rule, nor even a string. Counterexample: "/thumbnail:op=evil/local:a/b.jpg"
 * → steps [{ op: 'evil' }]; "/thumbnail:op=5/local:a" → { op: 5 };
 * "/thumbnail:op=..%2F..%2Fx/local:a" → { op: '../../x' }.
 */
test('a step\'s op is the name in the URL, whatever its parameters: a parameter named op is refused', () => {
  check(
    fc.property(fc.constantFrom('thumbnail', 'resize'), paramValue, (name, v) => {
      assert.is(parseOrRefuse(`/${name}:op=${v}/local:a/b.jpg`), undefined);
      assert.is(parseImagePath(`/${name}:width=1/local:a/b.jpg`, {}).steps[0].op, name);
    }),
    500,
  );
});

/*
 * Found by this tier, fixed: an output option named "steps" replaces the pipeline's
 * steps, since toCall builds { steps: request.steps, ...output }.
 * Counterexample: "/thumbnail:width=1/format:png,steps=evil/local:a/b.jpg" →
 * toCall → { fn: 'pipeline', params: { steps: 'evil', format: 'png' } }.
 */
test('the pipeline call carries the parsed steps, whatever the output options: an option named steps is refused', () => {
  check(
    fc.property(paramValue, (v) => {
      assert.is(parseOrRefuse(`/thumbnail:width=1/format:png,steps=${v}/local:a/b.jpg`), undefined);
      const r = parseOrRefuse(`/thumbnail:width=1/format:png,quality=${v}/local:a/b.jpg`);
      if (r) assert.is(toCall(r, r.format).params.steps, r.steps);
    }),
    500,
  );
});

/*
 * A preset named after an Object.prototype member once crashed the parser
 * with a TypeError (a 500; with http.publicPresets, unsigned): presets[name]
 * found the inherited member. Fixed in 4649a46 (own keys only).
 */
test('a preset named after an Object.prototype member is refused with a 400 DipsError, like any unknown one', () => {
  check(
    fc.property(fc.constantFrom(...Object.getOwnPropertyNames(Object.prototype)), fc.constantFrom('local:photos/a.jpg', 'b64:aHR0cHM6Ly94L3k'), (name, src) => {
      assert.is(parseOrRefuse(`/p/${name}/${src}`), undefined, `preset ${name} was found`);
    }),
    500,
  );
});

/*
 * Found by this tier, fixed: typed() turns any run of digits into a number, so
 * a long one becomes Infinity (a parameter JSON would send as null).
 * Counterexample: "/resize:width=<400 nines>/local:a" → { width: Infinity }.
 */
test('numbers parsed from a URL are finite', () => {
  check(
    fc.property(fc.integer({ min: 1, max: 1000 }), (n) => {
      const width = parseImagePath(`/resize:width=${'9'.repeat(n)}/local:a`, {}).steps[0].width;
      assert.ok(typeof width !== 'number' || Number.isFinite(width), String(width));
    }),
    500,
  );
});

test.run();
