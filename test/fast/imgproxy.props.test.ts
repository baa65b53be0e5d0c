/**
 * Fuzz tier: imgproxy's URL grammar (src/gateway/http/imgproxy.ts, reached through
 * url.ts's parseImagePath). Round-trips: options and sources generated in
 * imgproxy's grammar parse to the resize step, output and source spec they mean;
 * hostile paths never crash, only 400s naming the problem. DIPS_FUZZ_SEED /
 * DIPS_FUZZ_RUNS: see fuzz.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { expiringCacheControl } from '../../src/gateway/http/imgproxy.js';
import { parseImagePath, type ImageRequest } from '../../src/gateway/http/url.js';
import { DipsError, ErrorCode } from '../../src/shared/errors.js';
import { announce, check } from './fuzz.js';

announce('imgproxy.props.test');

const PRESETS: Readonly<Record<string, string>> = { sharp: 'sh:1', small: 'rs:fit:64:64/q:60', native: 'thumbnail:width=50', loop: 'pr:loop' };
const SOURCE_START = /^(local|https?|b64):/;
const GRAVITY = { no: 'north', so: 'south', ea: 'east', we: 'west', noea: 'northeast', nowe: 'northwest', soea: 'southeast', sowe: 'southwest', ce: 'centre' } as const;
const FORMAT = { jpg: 'jpeg', jpeg: 'jpeg', png: 'png', webp: 'webp', avif: 'avif', gif: 'gif', tiff: 'tiff', tif: 'tiff' } as const;

/** Parse; a refusal must be a DipsError 400 whose message starts "url: " and says something. */
function parseOrRefuse(path: string): ImageRequest | undefined {
  try {
    return parseImagePath(path, PRESETS);
  } catch (err) {
    assert.instance(err, DipsError, `${path}: ${String(err)}`);
    assert.is((err as DipsError).code, ErrorCode.badRequest, path);
    assert.match((err as Error).message, /^url: .{8}/);
    return undefined;
  }
}

const pathPart = fc.string({ unit: fc.constantFrom(...'abc019/:@.%-_=+~AZ'.split('')), maxLength: 20 });
const rootName = fc.constantFrom('photos', 'samples', 'a');
const fileSegment = fc.string({ unit: fc.constantFrom(...'abcé 01._-?#@%&+'.split('')), minLength: 1, maxLength: 10 });
const localUrl = fc.tuple(rootName, fc.array(fileSegment, { minLength: 1, maxLength: 3 })).map(([root, parts]) => ({ url: `local:///${root}/${parts.join('/')}`, root, parts }));

test('rs:<type>:<w>:<h>:<enlarge> with g:, dpr:, q: and @ext or .ext parse to the resize they mean, on the source they name', () => {
  check(
    fc.property(
      fc.constantFrom('fit', 'fill', 'force'),
      fc.integer({ min: 1, max: 4000 }),
      fc.integer({ min: 1, max: 4000 }),
      fc.boolean(),
      fc.constantFrom(...(Object.keys(GRAVITY) as (keyof typeof GRAVITY)[])),
      fc.constantFrom(1, 2, 3, 1.5),
      fc.integer({ min: 0, max: 100 }),
      fc.constantFrom(...(Object.keys(FORMAT) as (keyof typeof FORMAT)[])),
      localUrl,
      fc.boolean(),
      fc.integer({ min: 1, max: 12 }),
      (type, w, h, enlarge, g, dpr, q, ext, local, plain, chunk) => {
        const source = plain
          ? `plain/${encodeURIComponent(local.url)}@${ext}`
          : `${Buffer.from(local.url).toString('base64url').match(new RegExp(`.{1,${chunk}}`, 'g'))!.join('/')}.${ext}`;
        const path = `/rs:${type}:${w}:${h}:${enlarge ? 't' : '0'}/g:${g}/dpr:${dpr}/q:${q}/${source}`;
        const r = parseImagePath(path, PRESETS);
        const fit = { fit: 'inside', fill: 'cover', force: 'fill' }[type];
        const step: Record<string, unknown> = { op: 'resize', width: Math.round(w * dpr), height: Math.round(h * dpr), fit, withoutEnlargement: !enlarge };
        if (type === 'fill') step.position = GRAVITY[g];
        assert.equal(r.steps, [step], path);
        assert.is(r.format, FORMAT[ext]);
        assert.equal(r.output, q > 0 ? { quality: q } : {});
        assert.is(r.source, `local:${local.root}/${local.parts.map(encodeURIComponent).join('/')}`);
        // what Sources decodes is the path the URL named, segment for segment
        assert.equal(r.source.slice(`local:${local.root}/`.length).split('/').map(decodeURIComponent), local.parts);
      },
    ),
    3000,
  );
});

test('http(s) sources, plain (escaped or not) or base64url, become the b64: spec of the same URL', () => {
  check(
    fc.property(fc.webUrl({ withQueryParameters: true }), fc.boolean(), (url, plain) => {
      const path = plain ? `/w:10/plain/${encodeURIComponent(url)}` : `/w:10/${Buffer.from(url).toString('base64url')}`;
      const r = parseImagePath(path, PRESETS);
      assert.is(Buffer.from(r.source.slice(4), 'base64url').toString(), url);
      assert.match(r.source, /^b64:/);
    }),
    2000,
  );
});

test('the native grammar is untouched: a path with a native source is parsed as before', () => {
  const r = parseImagePath('/thumbnail:width=200/format:webp/local:photos/a.jpg', PRESETS);
  assert.equal(r.steps, [{ width: 200, op: 'thumbnail' }]);
  assert.is(r.format, 'webp');
  assert.is(r.source, 'local:photos/a.jpg');
});

test('options made of imgproxy\'s option names and hostile arguments: parsed within the limits, or a 400 naming the problem', () => {
  const names = fc.constantFrom('rs', 'resize', 's', 'size', 'rt', 'w', 'h', 'el', 'ex', 'g', 'dpr', 'q', 'f', 'ext', 'bl', 'sh', 'exp', 'cb', 'sm', 'ar', 'pr', 'c', 'bg', 'z', 'wm', 'fn', 'x', '__proto__', 'constructor', 'toString');
  const arg = fc.oneof(fc.constantFrom('', '0', '1', 't', 'fit', 'fill', 'fill-down', 'auto', 'force', 'sm', 'fp', 'ce', 'webp', 'jpg', 'best', '-1', '1e9', '99999999999', 'NaN', 'Infinity', '0.5', 'sharp', 'loop', 'native', '__proto__'), pathPart);
  const option = fc.tuple(names, fc.array(arg, { minLength: 1, maxLength: 5 })).map(([n, a]) => [n, ...a].join(':'));
  const source = fc.oneof(
    fc.constantFrom('plain/local:///photos/a.jpg', 'plain/local:///photos/a.jpg@webp', 'plain/http://x.example/a.png@@', 'bG9jYWw6Ly8vcGhvdG9zL2EuanBn.png', 'enc/abc', 'plain/', 'plain', 'plain/s3://b/k', '..', '%', 'plain/%E0%A4%A'),
    pathPart,
  );
  check(
    fc.property(fc.array(option, { maxLength: 6 }), source, (options, src) => {
      const path = `/${[...options, src].join('/')}`;
      const r = parseOrRefuse(path);
      if (!r) return;
      assert.match(r.source, SOURCE_START, path);
      assert.ok(r.steps.length > 0 || r.format !== undefined, `${path}: no operation`);
      for (const step of r.steps) {
        assert.ok(['resize', 'blur', 'sharpen', 'extend'].includes(step.op), `${path}: step ${step.op}`);
        for (const v of Object.values(step)) assert.ok(['string', 'number', 'boolean'].includes(typeof v) && (typeof v !== 'number' || Number.isFinite(v)), `${path}: ${String(v)}`);
      }
      if (r.expires !== undefined) assert.ok(r.expires * 1000 >= Date.now() - 1000, path);
    }),
    5000,
  );
});

test('arbitrary text after plain/ or as a base64url source: parsed or a 400, never a crash', () => {
  check(
    fc.property(fc.string({ unit: 'binary', maxLength: 60 }), fc.constantFrom('/w:10/plain/', '/w:10/', '/'), (text, prefix) => {
      const r = parseOrRefuse(prefix + text);
      if (r) assert.match(r.source, SOURCE_START);
    }),
    3000,
  );
});

test('every refusal names what it refuses', () => {
  const cases: Array<[string, RegExp]> = [
    ['/rs:auto:10:10/plain/local:///p/a.jpg', /auto/],
    ['/crop:10:10/plain/local:///p/a.jpg', /option crop is not supported/],
    ['/pr:native/plain/local:///p/a.jpg', /preset "native".*"thumbnail"/],
    ['/pr:loop/plain/local:///p/a.jpg', /uses itself \(loop → loop\)/],
    ['/pr:__proto__/plain/local:///p/a.jpg', /no preset "__proto__"/],
    ['/w:10/plain/local:///p/a.jpg@png@webp', /more than one @/],
    ['/exp:1/plain/local:///p/a.jpg', /exp: the URL expired at 1970/],
    ['/g:sm:1/rs:fill:1:1/plain/local:///p/a.jpg', /sm takes no offsets/],
    ['/ex:1:sm/rs:fit:1:1/plain/local:///p/a.jpg', /sm is not a gravity here/],
    ['/ex:1/rs:fill:1:1/plain/local:///p/a.jpg', /extend is supported with resizing type fit/],
  ];
  for (const [path, why] of cases) {
    try {
      parseImagePath(path, PRESETS);
      assert.unreachable(path);
    } catch (err) {
      assert.instance(err, DipsError, path);
      assert.match((err as Error).message, why, path);
    }
  }
});

test('expiringCacheControl: max-age cut to what is left, immutable dropped, other directives kept', () => {
  check(
    fc.property(fc.integer({ min: 0, max: 10 ** 8 }), fc.integer({ min: -1000, max: 10 ** 8 }), fc.boolean(), (maxAge, left, sMax) => {
      const now = 1_700_000_000_000;
      const cc = `public, max-age=${maxAge}, immutable${sMax ? `, s-maxage=${maxAge}` : ''}`;
      const out = expiringCacheControl(cc, now / 1000 + left, now);
      const expected = Math.min(maxAge, Math.max(0, left));
      assert.is(out, `public, max-age=${expected}${sMax ? `, s-maxage=${expected}` : ''}`);
    }),
    1000,
  );
  assert.is(expiringCacheControl('no-store', 2_000_000_000, 1_700_000_000_000), 'no-store');
});

test.run();
