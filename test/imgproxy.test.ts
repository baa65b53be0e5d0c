/**
 * imgproxy's URL grammar on dips-http, against a real mesh: URLs from imgproxy's
 * documentation ("Processing an image": options, plain and base64url sources split
 * by "/", @ext and .ext, presets) render the same image as the native grammar's URL
 * for the same operation (dimensions, format, and the same pixels where it is the
 * same call); signed on a gateway that requires signatures, unsigned where
 * http.allowUnsigned; the source rules of the native grammar hold; every option
 * DIPS cannot do is refused with 400 naming it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { freePort } from '../src/control/nats-node.js';
import { sign, signingKey } from '../src/shared/url-signature.js';
import { startCluster, startProcess, startWorker, type Cluster, type Proc } from './harness.js';

const KEY = '943b421c9eb07c830af81030552c86009268de4e532ba2ee2eab8247c6da0881';
const SALT = '520f986b998545b4785e0defbc4f3c1203f22de2374a3d53cb7a7fe9fea309c5';
const signing = signingKey(KEY, SALT)!;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'dips-imgproxy-'));
const photos = path.join(tmp, 'photos');
let cluster: Cluster;
let worker: Proc;
/** Requires signatures. */
let signedGateway: Proc;
/** Takes unsigned URLs too (http.allowUnsigned). */
let openGateway: Proc;
let signedPort: number;
let openPort: number;
let origin: http.Server;
let originBase: string;
let image: Buffer;

type Answer = { status: number; headers: http.IncomingHttpHeaders; body: Buffer };

/** A GET with the path sent exactly as given. */
function get(urlPath: string, port: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const signed = (p: string) => get(`/${sign(signing, p)}${p}`, signedPort);
const unsigned = (p: string) => get(`/insecure${p}`, openPort);
const message = (r: Answer) => (JSON.parse(r.body.toString()) as { error: { message: string } }).error.message;

async function ok(r: Answer, what: string): Promise<{ format?: string; width?: number; height?: number; pixels: Buffer }> {
  assert.is(r.status, 200, `${what}: ${r.body.toString().slice(0, 300)}`);
  const meta = await sharp(r.body).metadata();
  return { format: meta.format, width: meta.width, height: meta.height, pixels: await sharp(r.body).raw().toBuffer() };
}

/** Same dimensions, format and pixels. */
async function same(a: Answer, b: Answer, what: string): Promise<{ format?: string; width?: number; height?: number }> {
  const [x, y] = [await ok(a, `${what} (imgproxy)`), await ok(b, `${what} (native)`)];
  assert.equal([x.format, x.width, x.height], [y.format, y.width, y.height], what);
  assert.ok(x.pixels.equals(y.pixels), `${what}: the pixels differ from the native grammar's`);
  return x;
}

const b64 = (s: string) => Buffer.from(s).toString('base64url');
/** A base64url source split into segments of `n` characters, as imgproxy's docs allow. */
const split = (s: string, n: number) => b64(s).match(new RegExp(`.{1,${n}}`, 'g'))!.join('/');

test.before(async () => {
  mkdirSync(photos);
  // a picture with structure (a gradient and a bright disc off-centre) so crops and smart gravity show
  const svgless = Buffer.alloc(640 * 480 * 3);
  for (let y = 0; y < 480; y++) {
    for (let x = 0; x < 640; x++) {
      const i = (y * 640 + x) * 3;
      const disc = (x - 480) ** 2 + (y - 140) ** 2 < 60 ** 2;
      svgless[i] = disc ? 250 : (x * 255) / 640;
      svgless[i + 1] = disc ? 240 : (y * 255) / 480;
      svgless[i + 2] = disc ? 20 : 120;
    }
  }
  image = await sharp(svgless, { raw: { width: 640, height: 480, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  writeFileSync(path.join(photos, 'curiosity.jpg'), image);
  writeFileSync(path.join(photos, 'small.png'), await sharp({ create: { width: 40, height: 30, channels: 3, background: '#336699' } }).png().toBuffer());
  writeFileSync(path.join(tmp, 'outside.jpg'), image);
  symlinkSync(path.join(tmp, 'outside.jpg'), path.join(photos, 'link.jpg'));

  const port = await freePort();
  origin = http.createServer((req, res) => {
    if (req.url === '/images/curiosity.jpg') res.writeHead(200, { 'content-type': 'image/jpeg' }).end(image);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => origin.listen(port, '127.0.0.2', r));
  originBase = `http://127.0.0.2:${port}`;

  cluster = await startCluster();
  worker = await startWorker(cluster, { DIPS_WORKER_CONCURRENCY: '2' });
  const common = {
    DIPS_HTTP_KEY: KEY,
    DIPS_HTTP_SALT: SALT,
    DIPS_HTTP_LOCAL_ROOTS: `photos=${photos}`,
    DIPS_HTTP_ORIGINS: `${originBase}/images/`,
    DIPS_HTTP_ALLOWED_ADDRESSES: '127.0.0.2',
    // imgproxy's documented example uses a preset named sharp; native-grammar presets are refused by pr:
    DIPS_HTTP_PRESETS: JSON.stringify({ sharp: 'sh:1', small: 'rs:fit:64:64/q:60', native: 'thumbnail:width=50' }),
    DIPS_HTTP_TIMEOUT_MS: '20000',
  };
  signedPort = await freePort();
  signedGateway = await startProcess('http', cluster, { ...common, DIPS_HTTP_PORT: String(signedPort) });
  openPort = await freePort();
  openGateway = await startProcess('http', cluster, { ...common, DIPS_HTTP_PORT: String(openPort), DIPS_HTTP_ALLOW_UNSIGNED: 'true' });
});

test.after(async () => {
  await signedGateway?.stop();
  await openGateway?.stop();
  await worker?.stop();
  await cluster?.stop();
  origin?.close();
});

test('the documented example (pr:sharp, rs:fill:300:400:0, g:sm, @png): long names, shortcuts and a split base64url source are the native pipeline\'s image', async () => {
  const url = `${originBase}/images/curiosity.jpg`;
  const native = await signed(`/resize:width=300,height=400,fit=cover,position=attention,withoutEnlargement=true/sharpen:sigma=1/format:png/b64:${b64(url)}`);
  const forms = [
    `/preset:sharp/resize:fill:300:400:0/gravity:sm/plain/${url}@png`,
    `/pr:sharp/rs:fill:300:400:0/g:sm/plain/${url}@png`,
    `/pr:sharp/rs:fill:300:400:0/g:sm/${split(url, 16)}.png`,
    `/pr:sharp/rs:fill:300:400:0/g:sm/plain/${encodeURIComponent(url)}@png`,
  ];
  for (const form of forms) {
    const got = await same(await signed(form), native, form);
    assert.equal([got.format, got.width, got.height], ['png', 300, 400], form);
  }
  // unsigned on the gateway that allows it: the same image
  await same(await unsigned(forms[1]), native, 'unsigned');
});

test('the URLs that answered 400 before: rs:fit:200:0 @webp, w:200, resize:fit:200 with a .webp base64url source — thumbnail:width=200\'s pixels', async () => {
  const native = (format: string) => signed(`/thumbnail:width=200/format:${format}/local:photos/curiosity.jpg`);
  const webp = await same(await signed('/rs:fit:200:0/plain/local:///photos/curiosity.jpg@webp'), await native('webp'), 'rs:fit:200:0');
  assert.equal([webp.format, webp.width, webp.height], ['webp', 200, 150]);
  // no extension: the source's own format, as imgproxy
  const jpeg = await same(await signed('/w:200/plain/local:///photos/curiosity.jpg'), await native('jpeg'), 'w:200');
  assert.equal([jpeg.format, jpeg.width], ['jpeg', 200]);
  await same(await signed(`/resize:fit:200/${split('local:///photos/curiosity.jpg', 7)}.webp`), await native('webp'), 'base64url .webp');
  await same(await unsigned('/width:200/format:webp/plain/local:///photos/curiosity.jpg'), await native('webp'), 'width + format, unsigned');
  // the extension wins over f:, as in imgproxy
  await same(await signed('/f:png/w:200/plain/local:///photos/curiosity.jpg@webp'), await native('webp'), '@ext over f:');
});

test('size, height, dpr, enlarge, quality, force, fill-down with enlarge and gravity map to the same calls as the native grammar', async () => {
  const src = 'plain/local:///photos/curiosity.jpg';
  const pairs: Array<[string, string, [number, number]]> = [
    [`/dpr:2/w:100/${src}@png`, '/thumbnail:width=200/format:png', [200, 150]],
    [`/s:0:120/${src}@png`, '/thumbnail:height=120/format:png', [160, 120]],
    [`/h:120/${src}@png`, '/thumbnail:height=120/format:png', [160, 120]],
    [`/q:40/w:100/${src}@jpg`, '/thumbnail:width=100/format:jpeg,quality=40', [100, 75]],
    [`/rs:force:100:100/${src}@png`, '/resize:width=100,height=100,fit=fill/format:png', [100, 100]],
    [`/rs:fill-down:100:100:1/${src}@png`, '/resize:width=100,height=100,fit=cover/format:png', [100, 100]],
    [`/rs:fill:100:100/g:noea/${src}@png`, '/resize:width=100,height=100,fit=cover,position=northeast/format:png', [100, 100]],
    [`/rs:fit:1000:1000:1/${src}@png`, '/resize:width=1000,height=1000,fit=inside/format:png', [1000, 750]],
    [`/rs:fit:300:300:0:1:so/${src}@png`, '/resize:width=300,height=300,fit=contain,position=south,background=%2300000000/format:png', [300, 300]],
    [`/w:100/bl:2/${src}@png`, '/thumbnail:width=100/blur:sigma=2/format:png', [100, 75]],
  ];
  for (const [imgproxy, native, size] of pairs) {
    const got = await same(await signed(imgproxy), await signed(`${native}/local:photos/curiosity.jpg`), imgproxy);
    assert.equal([got.width, got.height], size, imgproxy);
  }
  // enlarge off by default: a 40 x 30 image asked to fit 400 x 400 stays 40 x 30; fill without enlarge crops to what it has
  assert.equal([(await ok(await signed('/rs:fit:400:400/plain/local:///photos/small.png'), 'fit small')).width], [40]);
  const fill = await ok(await signed('/rs:fill:400:20/plain/local:///photos/small.png'), 'fill small');
  assert.equal([fill.width, fill.height, fill.format], [40, 20, 'png']);
  // no options at all: the image, re-encoded in its own format
  const plain = await ok(await signed('/plain/local:///photos/small.png'), 'no options');
  assert.equal([plain.format, plain.width, plain.height], ['png', 40, 30]);
});

test('presets: pr: takes a preset written in imgproxy\'s grammar (options after it override it); a native-grammar preset is refused naming it', async () => {
  const got = await same(await signed('/pr:small/plain/local:///photos/curiosity.jpg@jpg'), await signed('/thumbnail:width=64,height=64/format:jpeg,quality=60/local:photos/curiosity.jpg'), 'pr:small');
  assert.equal([got.width, got.height], [64, 48]);
  await same(await signed('/pr:small/w:32/plain/local:///photos/curiosity.jpg@jpg'), await signed('/thumbnail:width=32,height=64/format:jpeg,quality=60/local:photos/curiosity.jpg'), 'pr:small then w:32');
  const native = await signed('/pr:native/plain/local:///photos/curiosity.jpg');
  assert.is(native.status, 400);
  assert.match(message(native), /preset "native" .*not in imgproxy's grammar: "thumbnail"/);
  const missing = await signed('/pr:nope/plain/local:///photos/curiosity.jpg');
  assert.is(missing.status, 400);
  assert.match(message(missing), /no preset "nope"; configured: sharp, small, native/);
});

test('expires: a future timestamp is served with caching cut to what is left; a past one is refused', async () => {
  const at = Math.floor(Date.now() / 1000) + 600;
  const r = await signed(`/exp:${at}/w:50/plain/local:///photos/curiosity.jpg`);
  await ok(r, 'exp');
  const maxAge = Number(/max-age=(\d+)/.exec(String(r.headers['cache-control']))?.[1]);
  assert.ok(maxAge > 0 && maxAge <= 600, String(r.headers['cache-control']));
  assert.not.match(String(r.headers['cache-control']), /immutable/);
  const past = await signed(`/expires:${at - 1200}/w:50/plain/local:///photos/curiosity.jpg`);
  assert.is(past.status, 400);
  assert.match(message(past), /expires: the URL expired at/);
});

test('signatures: the signature covers the imgproxy path; tampered or unsigned URLs are refused where signatures are required', async () => {
  const p = '/rs:fit:200:0/plain/local:///photos/curiosity.jpg@webp';
  const sig = sign(signing, p);
  assert.is((await get(`/${sig}${p}`, signedPort)).status, 200);
  assert.is((await get(`/${sig}/rs:fit:2000:0/plain/local:///photos/curiosity.jpg@webp`, signedPort)).status, 403);
  assert.is((await get(`/${sig}${p.replace('@webp', '@png')}`, signedPort)).status, 403);
  for (const placeholder of ['_', 'insecure', 'unsafe']) assert.is((await get(`/${placeholder}${p}`, signedPort)).status, 403, placeholder);
  assert.is((await get(`/unsafe${p}`, openPort)).status, 200);
});

test('source rules are the native grammar\'s: traversal, symlinks out, unknown roots, origins not allowed and private addresses get 403', async () => {
  const refused = [
    '/w:10/plain/local:///photos/../outside.jpg',
    '/w:10/plain/local:///photos/%2E%2E/outside.jpg',
    '/w:10/plain/local:///photos/link.jpg',
    '/w:10/plain/local:///etc/passwd',
    `/w:10/plain/local:///photos/a%5Cb.jpg`,
    `/w:10/${b64('local:///photos/../outside.jpg')}`,
    '/w:10/plain/http://images.example.net/images/curiosity.jpg',
    `/w:10/plain/${originBase}/other/curiosity.jpg`,
    `/w:10/plain/http://127.0.0.1:${signedPort}/images/curiosity.jpg`,
    `/w:10/${b64('http://169.254.169.254/images/a.jpg')}`,
  ];
  for (const p of refused) {
    const r = await signed(p);
    assert.is(r.status, 403, `${p}: ${r.body.toString().slice(0, 200)}`);
    assert.match(message(r), /^source: /, p);
  }
  assert.is((await signed('/w:10/plain/local:///photos/none.jpg')).status, 404);
});

test('what DIPS cannot do is refused with 400 naming the option, never ignored', async () => {
  const src = 'plain/local:///photos/curiosity.jpg';
  const refused: Array<[string, RegExp]> = [
    [`/rs:auto:100:100/${src}`, /resizing type auto is not supported/],
    [`/rs:fill-down:100:100/${src}`, /fill-down without enlarge is not supported/],
    [`/rs:force:100:0/${src}`, /force with a width or height of 0/],
    [`/c:100:100/${src}`, /option c is not supported/],
    [`/crop:100:100/${src}`, /option crop is not supported/],
    [`/bg:ffffff/${src}`, /option bg is not supported/],
    [`/pix:5/${src}`, /option pix is not supported/],
    [`/wm:0.5/${src}`, /option wm is not supported/],
    [`/rot:90/${src}`, /option rot is not supported/],
    [`/z:2/${src}`, /option z is not supported/],
    [`/mw:100/${src}`, /option mw is not supported/],
    [`/raw:1/${src}`, /option raw is not supported/],
    [`/g:fp:0.5:0.5/${src}`, /focus-point gravity \(fp\) is not supported/],
    [`/g:ce:10:10/${src}`, /gravity offsets/],
    [`/g:obj:face/${src}`, /object-oriented gravity/],
    [`/sm:0/${src}`, /sm:0 is not supported: DIPS always strips metadata/],
    [`/el:maybe/w:10/${src}`, /el: "maybe" is not a boolean/],
    [`/w:-1/${src}`, /w: "-1" must be an integer/],
    [`/q:101/${src}`, /q: "101" must be an integer from 0 to 100/],
    [`/f:heic/${src}`, /f: "heic" is not supported: DIPS writes/],
    [`/w:10/${src}@bmp`, /extension: "bmp" is not supported/],
    [`/w:10/${src}@png@webp`, /more than one @/],
    [`/frobnicate:1/${src}`, /"frobnicate" is not an imgproxy processing option/],
    ['/w:10/enc/jwV3wUD9r4VBIzgv/ang3Hbh0vPpcm5cc', /encrypted source URLs \(enc\/\) are not supported/],
    ['/w:10/plain/s3://bucket/key.jpg', /s3: sources are not supported/],
    ['/w:10/plain/images/curiosity.jpg', /not an absolute URL/],
    ['/w:10/plain/local://photos/curiosity.jpg', /local sources are local:\/\/\/<root>\/<path>/],
    ['/w:10/@@@not-base64', /neither plain\/<URL> nor a base64url URL/],
    ['/w:10', /no source/],
  ];
  for (const [p, why] of refused) {
    const r = await signed(p);
    assert.is(r.status, 400, `${p}: ${r.body.toString().slice(0, 200)}`);
    assert.match(message(r), why, p);
  }
});

test.run();
