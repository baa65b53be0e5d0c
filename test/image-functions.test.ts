/** Every image function through a real worker on a real cluster, checked by decoding the output. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import sharp from 'sharp';
import { CallError, type DipsClient } from '../src/client/index.js';
import { clientFor, startCluster, startWorker, type Cluster, type Proc, rss } from './harness.js';
import { alphaPng, animatedGif, bombPng, cmykJpeg, near, pixel, quadrants, sixteenBitPng, withOrientation } from './images.js';

let cluster: Cluster;
let worker: Proc;
let dips: DipsClient;
let base: Buffer;

test.before(async () => {
  cluster = await startCluster();
  worker = await startWorker(cluster);
  dips = clientFor(cluster);
  base = await quadrants();
});
test.after(async () => {
  await dips?.close();
  await worker?.stop();
  await cluster?.stop();
});

const call = async (fn: string, params: Record<string, unknown>) => Buffer.from((await dips.call(fn, params)) as Uint8Array);
const meta = (b: Buffer) => sharp(b).metadata();

async function refused(fn: string, params: Record<string, unknown> | Uint8Array, message: RegExp, code?: number): Promise<void> {
  try {
    await dips.call(fn, params);
  } catch (err) {
    assert.instance(err, CallError);
    assert.match((err as Error).message, message);
    if (code) assert.is((err as CallError).code, code, (err as Error).message);
    return;
  }
  assert.unreachable(`${fn} should have been refused`);
}

test('EXIF orientations 1-8 all come out upright (thumbnail)', async () => {
  for (let o = 1; o <= 8; o++) {
    const input = await withOrientation(base, o);
    const out = await call('thumbnail', { image: input, width: 30, format: 'png' });
    const m = await meta(out);
    assert.is(`${m.width}x${m.height}`, '30x20', `orientation ${o} size`);
    assert.ok(near(await pixel(out, 4, 4), [255, 0, 0]), `orientation ${o}: top-left is red`);
    assert.ok(near(await pixel(out, 25, 4), [0, 255, 0]), `orientation ${o}: top-right is green`);
    assert.ok(near(await pixel(out, 4, 15), [0, 0, 255]), `orientation ${o}: bottom-left is blue`);
    assert.is(m.orientation, undefined, 'no orientation tag left');
  }
});

test('thumbnail never enlarges unless asked; strips metadata; keeps format by default', async () => {
  const same = await call('thumbnail', { image: base, width: 600 });
  assert.is((await meta(same)).width, 60);
  assert.is((await meta(same)).format, 'png');
  const big = await call('thumbnail', { image: base, width: 120, enlarge: true, format: 'jpeg', quality: 70 });
  assert.is((await meta(big)).width, 120);
  assert.is((await meta(big)).format, 'jpeg');
  const withExif = await sharp(base).withMetadata({ orientation: 1 }).jpeg().toBuffer();
  assert.is((await meta(await call('thumbnail', { image: withExif, width: 30 }))).exif, undefined);
});

test('CMYK input comes out as sRGB with the right colour', async () => {
  const out = await call('thumbnail', { image: await cmykJpeg(), width: 20, format: 'png' });
  const m = await meta(out);
  assert.is(m.space, 'srgb');
  assert.ok(near(await pixel(out, 10, 10), [255, 0, 0], 60), `${await pixel(out, 10, 10)}`);
});

test('alpha is kept where the format has it; 16-bit input works', async () => {
  const webp = await call('convert', { image: await alphaPng(), format: 'webp' });
  assert.is((await meta(webp)).hasAlpha, true);
  const jpeg = await call('convert', { image: await alphaPng(), format: 'jpeg' });
  assert.is((await meta(jpeg)).hasAlpha, false);
  const sixteen = await call('thumbnail', { image: await sixteenBitPng(), width: 16 });
  assert.is((await meta(sixteen)).width, 16);
});

test('animation is kept for gif and webp targets', async () => {
  const gif = await animatedGif(3);
  const webp = await call('convert', { image: gif, format: 'webp' });
  assert.is((await meta(webp)).pages, 3);
  const thumb = await call('thumbnail', { image: gif, width: 20 });
  const m = await meta(thumb);
  assert.is(m.pages, 3);
  assert.is(m.width, 20);
  const png = await call('convert', { image: gif, format: 'png' });
  assert.is((await meta(png)).pages, undefined, 'png: first frame only');
});

test('resize: fits, background, positions, kernels, withoutEnlargement', async () => {
  const contain = await call('resize', { image: base, width: 100, height: 100, fit: 'contain', background: '#ff00ff', format: 'png' });
  assert.is(`${(await meta(contain)).width}x${(await meta(contain)).height}`, '100x100');
  assert.ok(near(await pixel(contain, 50, 2), [255, 0, 255]), 'letterbox in the background colour');
  const fill = await meta(await call('resize', { image: base, width: 30, height: 30, fit: 'fill' }));
  assert.is(`${fill.width}x${fill.height}`, '30x30');
  const inside = await meta(await call('resize', { image: base, width: 30, height: 30, fit: 'inside' }));
  assert.is(`${inside.width}x${inside.height}`, '30x20');
  const outside = await meta(await call('resize', { image: base, width: 30, height: 30, fit: 'outside' }));
  assert.is(`${outside.width}x${outside.height}`, '45x30');
  const west = await call('resize', { image: base, width: 20, height: 40, fit: 'cover', position: 'west', kernel: 'nearest', format: 'png' });
  assert.ok(near(await pixel(west, 5, 5), [255, 0, 0]), 'west keeps the left (red) side');
  const east = await call('resize', { image: base, width: 20, height: 40, fit: 'cover', position: 'east', format: 'png' });
  assert.ok(near(await pixel(east, 15, 5), [0, 255, 0]), 'east keeps the right (green) side');
  for (const position of ['attention', 'entropy']) {
    const m = await meta(await call('resize', { image: base, width: 20, height: 20, position }));
    assert.is(m.width, 20);
  }
  const noBigger = await meta(await call('resize', { image: base, width: 600, withoutEnlargement: true }));
  assert.is(noBigger.width, 60);
});

test('crop: a rectangle, and a smart crop', async () => {
  const rect = await call('crop', { image: base, left: 30, top: 0, width: 30, height: 20, format: 'png' });
  assert.is(`${(await meta(rect)).width}x${(await meta(rect)).height}`, '30x20');
  assert.ok(near(await pixel(rect, 10, 10), [0, 255, 0]), 'the top-right (green) quarter');
  const smart = await meta(await call('crop', { image: base, width: 25, height: 25, strategy: 'entropy' }));
  assert.is(`${smart.width}x${smart.height}`, '25x25');
  await refused('crop', { image: base, left: 50, top: 0, width: 30, height: 20 }, /crop: left\/top\/width\/height must be a rectangle inside the 60 x 40 image/, 400);
});

test('watermark: text and image, opacity, gravity, angle, tiled', async () => {
  const white = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#ffffff' } }).png().toBuffer();
  const text = await call('watermark', { image: white, text: 'DIPS ©', size: 40, color: '#000000', opacity: 1, gravity: 'southeast', margin: 10, format: 'png' });
  const { data } = await sharp(text).greyscale().raw().toBuffer({ resolveWithObject: true });
  const dark = (x0: number, y0: number, x1: number, y1: number) => {
    let n = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (data[y * 300 + x] < 128) n++;
    return n;
  };
  assert.ok(dark(150, 130, 300, 200) > 100, 'ink in the south-east corner');
  assert.is(dark(0, 0, 150, 100), 0, 'none in the north-west');
  const faint = await call('watermark', { image: white, text: 'DIPS', size: 60, color: '#000000', opacity: 0.2, gravity: 'center', format: 'png' });
  const faintMin = Math.min(...(await sharp(faint).greyscale().raw().toBuffer()));
  assert.ok(faintMin > 150, `opacity 0.2 stays light (darkest ${faintMin})`);
  const logo = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#ff0000' } }).png().toBuffer();
  const tiled = await call('watermark', { image: white, watermark: logo, scale: 0.1, opacity: 1, tiled: true, format: 'png' });
  assert.ok(near(await pixel(tiled, 2, 2), [255, 0, 0]) && near(await pixel(tiled, 292, 192), [255, 0, 0], 60), 'logo tiled over the whole image');
  const rotated = await meta(await call('watermark', { image: white, text: 'diagonal', angle: 30, format: 'png' }));
  assert.is(rotated.width, 300, 'the base keeps its size');
  await refused('watermark', { image: white }, /watermark: text or watermark must be given/, 400);
});

test('convert to every format, with options', async () => {
  for (const [format, expected] of [['jpeg', 'jpeg'], ['jpg', 'jpeg'], ['png', 'png'], ['webp', 'webp'], ['avif', 'heif'], ['gif', 'gif'], ['tiff', 'tiff']]) {
    const m = await meta(await call('convert', { image: base, format }));
    assert.is(m.format, expected, format);
  }
  const progressive = await meta(await call('convert', { image: base, format: 'jpeg', progressive: true, quality: 50 }));
  assert.is(progressive.isProgressive, true);
  const palette = await meta(await call('convert', { image: base, format: 'png', palette: true }));
  assert.is(palette.isPalette, true);
  const lossless = await call('convert', { image: base, format: 'webp', lossless: true, effort: 1 });
  assert.ok(near(await pixel(lossless, 4, 4), [255, 0, 0], 0), 'lossless keeps exact pixels');
  await refused('convert', { image: base, format: 'bmp' }, /^convert: format must be one of jpeg, png, webp, avif, gif, tiff, got "bmp"$/, 400);
});

test('rotate, flip, flop, blur, sharpen, grayscale, modulate, trim, extend', async () => {
  const r = await call('rotate', { image: base, angle: 90, format: 'png' });
  assert.is(`${(await meta(r)).width}x${(await meta(r)).height}`, '40x60');
  assert.ok(near(await pixel(r, 35, 5), [255, 0, 0]), 'rotated clockwise: red now top-right');
  assert.ok(near(await pixel(await call('flip', { image: base, format: 'png' }), 4, 4), [0, 0, 255]), 'flip: blue on top');
  assert.ok(near(await pixel(await call('flop', { image: base, format: 'png' }), 4, 4), [0, 255, 0]), 'flop: green on the left');
  const blurred = await pixel(await call('blur', { image: base, sigma: 5, format: 'png' }), 30, 20);
  assert.ok(!near(blurred, [255, 255, 255], 10) && !near(blurred, [0, 0, 255], 10), 'blur mixes the quadrants at the centre');
  assert.is((await meta(await call('sharpen', { image: base, sigma: 1 }))).width, 60);
  const g = await pixel(await call('grayscale', { image: base, format: 'png' }), 4, 4);
  assert.ok(g.every((v) => Math.abs(v - g[0]) <= 1), 'grey');
  const dim = await pixel(await call('modulate', { image: base, brightness: 0.5, format: 'png' }), 50, 30);
  assert.ok(dim[0] < 200, `brightness 0.5 darkens white (${dim})`);
  const framed = await sharp(base).extend({ top: 10, bottom: 10, left: 10, right: 10, background: '#000000' }).png().toBuffer();
  const trimmed = await meta(await call('trim', { image: framed, threshold: 10 }));
  assert.is(`${trimmed.width}x${trimmed.height}`, '60x40');
  const ext = await call('extend', { image: base, all: 5, right: 20, background: '#00ffff', format: 'png' });
  assert.is(`${(await meta(ext)).width}x${(await meta(ext)).height}`, '85x50');
  assert.ok(near(await pixel(ext, 80, 25), [0, 255, 255]));
  await refused('modulate', { image: base }, /modulate: brightness or saturation or hue or lightness must be given/, 400);
});

test('info: displayed size after orientation, colour facts; a PHP-style structured reply', async () => {
  const rotated = await withOrientation(base, 6);
  const info = (await dips.call('info', { image: rotated }));
  assert.equal(
    { format: info.format, width: info.width, height: info.height, orientation: info.orientation, channels: info.channels, pages: info.pages, hasAlpha: info.hasAlpha, space: info.space, depth: info.depth },
    { format: 'jpeg', width: 60, height: 40, orientation: 6, channels: 3, pages: 1, hasAlpha: false, space: 'srgb', depth: 'uchar' },
  );
  assert.is(info.bytes, rotated.length);
  const gif = (await dips.call('info', { image: await animatedGif(4) }));
  assert.is(gif.pages, 4);
  const cmyk = (await dips.call('info', { image: await cmykJpeg() }));
  assert.is(cmyk.space, 'cmyk');
});

test('pipeline: ordered steps in as few passes as possible', async () => {
  const out = await call('pipeline', {
    image: base,
    steps: [{ op: 'crop', left: 0, top: 0, width: 30, height: 40 }, { op: 'resize', width: 15 }, { op: 'flip' }, { op: 'extend', all: 2, background: '#ffffff' }, { op: 'grayscale' }],
    format: 'png',
  });
  const m = await meta(out);
  assert.is(`${m.width}x${m.height}`, '19x24');
  const top = await pixel(out, 7, 5);
  const bottom = await pixel(out, 7, 18);
  assert.ok(top[0] < bottom[0], 'flipped: the (darker) blue half is on top, grey red below');
  // order matters: resize then crop differs from crop then resize
  const resizeThenCrop = await meta(await call('pipeline', { image: base, steps: [{ op: 'resize', width: 30 }, { op: 'crop', left: 0, top: 0, width: 10, height: 10 }] }));
  assert.is(`${resizeThenCrop.width}x${resizeThenCrop.height}`, '10x10');
  await refused('pipeline', { image: base, steps: [{ op: 'explode' }] }, /^pipeline: step 1: op must be one of /, 400);
  await refused('pipeline', { image: base, steps: [{ op: 'resize', width: -5 }] }, /^pipeline: step 1 \(resize\): width must be an integer from 1 to 16383, got -5$/, 400);
  await refused('pipeline', { image: base }, /pipeline: steps must be a list/, 400);
});

test('raw image body with parameters in the Dips-Params header', async () => {
  const out = Buffer.from((await dips.call('thumbnail', base, { params: { width: 10 } })) as Uint8Array);
  assert.is((await meta(out)).width, 10);
  const info = (await dips.call('info', base));
  assert.is(info.width, 60);
});

test('parameters are validated with the name, the value and what is expected', async () => {
  await refused('resize', { image: base, width: -5 }, /^resize: width must be an integer from 1 to 16383, got -5$/, 400);
  await refused('resize', { image: base }, /^resize: width or height must be given/, 400);
  await refused('resize', { image: base, width: 10, fit: 'squash' }, /^resize: fit must be one of cover, contain, fill, inside, outside, got "squash"$/, 400);
  await refused('resize', { image: base, width: 10, background: 'url(http://x)' }, /^resize: background must be a colour/, 400);
  await refused('blur', { image: base, sigma: 0 }, /^blur: sigma must be a number from 0.3 to 1000, got 0$/, 400);
  await refused('thumbnail', { width: 10 }, /^thumbnail: image is required/, 400);
});

test('corrupt, truncated, foreign and gigantic images are refused clearly, and the worker carries on', async () => {
  const jpeg = await sharp(base).jpeg().toBuffer();
  await refused('thumbnail', { image: jpeg.subarray(0, Math.floor(jpeg.length / 2)), width: 10 }, /^thumbnail: cannot (read|process) the image/, 422);
  await refused('thumbnail', { image: Buffer.from('this is not an image at all') , width: 10 }, /^thumbnail: cannot read the image/, 422);
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="file:///etc/passwd"/></svg>');
  await refused('thumbnail', { image: svg, width: 10 }, /^thumbnail: unsupported image format svg/, 422);
  const rssBefore = rss(worker);
  const started = performance.now();
  await refused('thumbnail', { image: bombPng(50000, 50000), width: 10 }, /^thumbnail: image is 50000 x 50000 = 2500\.0 megapixels, above the limit of 50\.0$/, 413);
  const ms = performance.now() - started;
  assert.ok(ms < 500, `refused in ${ms.toFixed(0)} ms`);
  assert.ok(rss(worker) - rssBefore < 50 * 1024 * 1024, 'worker memory stays flat');
  await refused('info', bombPng(50000, 50000), /above the limit/, 413);
  // still serving
  assert.is((await meta(await call('thumbnail', { image: base, width: 10 }))).width, 10);
});

test.run();
