/**
 * The HTTP front door (dips-http) on a real mesh: signatures, every source rule
 * (traversal, encoded slashes, symlinks, an allowed origin redirecting to
 * 127.0.0.1, every special-purpose address, origin prefixes on whole segments),
 * each status code, slow bodies, the output pixel cap, public presets admitting
 * nothing more, format:auto with Vary and 304, presets, HEAD,
 * POST /fn, the probes and metrics; then nginx's proxy_cache in front (a second
 * request never reaches a worker) and headless Chromium loading a page whose
 * <img> tags are signed DIPS URLs.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import puppeteer from 'puppeteer-core';
import { freePort, portOpen, sleep } from '../src/control/nats-node.js';
import { Executables, stopChild } from '../src/control/spawn.js';
import { projectRoot } from '../src/shared/config.js';
import { specialAddress } from '../src/gateway/http/sources.js';
import { buildImagePath, sign, signedUrl, signingKey } from '../src/shared/url-signature.js';
import { chromiumPath, startCluster, startProcess, startWorker, waitFor, type Cluster, type Proc } from './harness.js';

const KEY = '943b421c9eb07c830af81030552c86009268de4e532ba2ee2eab8247c6da0881';
const SALT = '520f986b998545b4785e0defbc4f3c1203f22de2374a3d53cb7a7fe9fea309c5';
const signing = signingKey(KEY, SALT)!;
const API_KEY = 'test-api-key';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'dips-http-'));
const photos = path.join(tmp, 'photos');
let cluster: Cluster;
let worker: Proc;
let gateway: Proc;
let port: number;
let workerMetricsPort: number;
let origin: http.Server;
let pubOrigin: http.Server;
let originPort: number;
let base: string;

/** An HTTP request with the path sent exactly as given (fetch would resolve "..": these tests need it raw). */
function get(urlPath: string, headers: Record<string, string> = {}, method = 'GET', body?: Buffer, to = port): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: to, path: urlPath, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Special-purpose addresses a remote source may not be fetched from (SSRF): each is an allowed
 * origin of the gateway, so only the address rule stands between a URL and the address.
 */
const SPECIAL_HOSTS = [
  '[64:ff9b::a9fe:a9fe]', // NAT64 of 169.254.169.254 (cloud metadata)
  '[64:ff9b::7f00:1]', // NAT64 of 127.0.0.1
  '[64:ff9b:1::a00:1]', // local-use NAT64
  '[64:ff9b::1:a9fe:a9fe]', // NAT64 prefix space outside the well-known /96
  '[::ffff:0:a9fe:a9fe]', // IPv4-translated (SIIT) 169.254.169.254
  '[2002:a9fe:a9fe::1]', // 6to4 of 169.254.169.254
  '[2002:7f00:1::1]', // 6to4 of 127.0.0.1
  '[::a9fe:a9fe]', // IPv4-compatible 169.254.169.254
  '[::ffff:169.254.169.254]', // IPv4-mapped (the URL parser writes it [::ffff:a9fe:a9fe])
  '[::ffff:a00:1]', // IPv4-mapped 10.0.0.1
  '[fec0::1]', // site-local
  '[ff02::1]', // multicast
  '224.0.0.1', '239.255.255.250', // multicast
  '198.18.0.1', '198.19.255.254', // benchmarking
  '240.0.0.1', '255.255.255.255', // reserved, broadcast
  '100.64.0.1', // shared address space (CGNAT)
  '192.0.2.1', '[2001:db8::1]', // documentation
  '[2001::1]', // Teredo (embeds an obfuscated IPv4 address)
  '[100::1]', // discard-only
];

const signed = (p: string) => `/${sign(signing, p)}${p}`;
const errorOf = (body: Buffer) => (JSON.parse(body.toString()) as { error: { status: number; message: string } }).error;

/** What a promise came to, or `fallback` if it took longer than `ms`. */
const within = <T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> => Promise.race([promise, sleep(ms).then(() => fallback)]);

/** A POST whose body trickles in a byte every 100 ms; `answer` is the first line it is answered with. */
function tricklePost(urlPath: string, extraHeaders = ''): { answer: Promise<string>; stop(): void } {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.write(`POST ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n${extraHeaders}\r\n`);
  const timer = setInterval(() => socket.writable && socket.write('x'), 100);
  const answer = new Promise<string>((resolve) => {
    let data = '';
    socket.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (data.includes('\r\n')) resolve(data.split('\r\n')[0]);
    });
    socket.on('close', () => resolve(data.split('\r\n')[0] || 'closed without an answer'));
  });
  return { answer, stop: () => { clearInterval(timer); socket.destroy(); } };
}

async function workerJobs(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${workerMetricsPort}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith('dips_worker_jobs_total{')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

test.before(async () => {
  mkdirSync(photos);
  await sharp({ create: { width: 640, height: 480, channels: 3, background: '#3a6ea5' } }).jpeg().toFile(path.join(photos, 'a.jpg'));
  writeFileSync(path.join(photos, 'corrupt.jpg'), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(500, 7)]));
  writeFileSync(path.join(photos, 'big.jpg'), Buffer.alloc(300_000, 1));
  writeFileSync(path.join(tmp, 'outside.jpg'), await sharp({ create: { width: 10, height: 10, channels: 3, background: '#000' } }).jpeg().toBuffer());
  symlinkSync(path.join(tmp, 'outside.jpg'), path.join(photos, 'link.jpg'));

  // a remote origin on 127.0.0.2 (allowed by address); "localhost" is an allowed origin too, but resolves to 127.0.0.1
  const image = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#a53a3a' } }).png().toBuffer();
  originPort = await freePort();
  const serve = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url === '/b.png' || req.url === '/pub/b.png' || req.url === '/pub-private/b.png') res.writeHead(200, { 'content-type': 'image/png' }).end(image);
    else if (req.url === '/to-localhost') res.writeHead(302, { location: `http://localhost:${originPort}/b.png` }).end();
    else if (req.url === '/to-elsewhere') res.writeHead(302, { location: 'http://images.example.net/b.png' }).end();
    else if (req.url === '/to-same') res.writeHead(301, { location: '/b.png' }).end();
    else res.writeHead(404).end();
  };
  origin = http.createServer(serve);
  await new Promise<void>((r) => origin.listen(originPort, '127.0.0.2', r));
  base = `http://127.0.0.2:${originPort}`;
  // the same origin on 127.0.0.3, allowed only under the prefix /pub (no trailing slash)
  pubOrigin = http.createServer(serve);
  await new Promise<void>((r) => pubOrigin.listen(originPort, '127.0.0.3', r));

  cluster = await startCluster();
  workerMetricsPort = await freePort();
  worker = await startWorker(cluster, { DIPS_WORKER_METRICS_PORT: String(workerMetricsPort), DIPS_WORKER_CONCURRENCY: '4' });
  port = await freePort();
  gateway = await startProcess('http', cluster, {
    DIPS_HTTP_PORT: String(port),
    DIPS_HTTP_KEY: KEY,
    DIPS_HTTP_SALT: SALT,
    DIPS_HTTP_LOCAL_ROOTS: `photos=${photos}`,
    DIPS_HTTP_ORIGINS: [`${base}/`, `http://localhost:${originPort}/`, `http://127.0.0.3:${originPort}/pub`, ...SPECIAL_HOSTS.map((h) => `http://${h}/`)].join(','),
    DIPS_HTTP_ALLOWED_ADDRESSES: '127.0.0.2,127.0.0.3',
    DIPS_HTTP_SOURCE_TIMEOUT_MS: '1000',
    DIPS_HTTP_SOURCE_MAX_BYTES: '200000',
    DIPS_HTTP_PRESETS: JSON.stringify({ thumb: 'thumbnail:width=50/format:auto', square: 'resize:width=64,height=64,fit=cover' }),
    DIPS_HTTP_API_KEY: API_KEY,
    DIPS_HTTP_TIMEOUT_MS: '1500',
    DIPS_HTTP_MAX_CONCURRENT: '6',
  });
});

test.after(async () => {
  await gateway?.stop();
  await worker?.stop();
  await cluster?.stop();
  origin?.close();
  pubOrigin?.close();
});

test('an unknown parameter in a URL gets 400 naming it and the nearest one the operation takes', async () => {
  const typo = await get(signed('/thumbnail:width=200,qualty=5/local:photos/a.jpg'));
  assert.is(typo.status, 400, typo.body.toString().slice(0, 200));
  // in a URL, quality is an output option (format:webp,quality=5): the thumbnail step names what it takes
  const message = (r: { body: Buffer }) => (JSON.parse(r.body.toString()) as { error: { message: string } }).error.message;
  assert.match(message(typo), /thumbnail\): unknown parameter "qualty" \(it takes enlarge, height, op, width\)/);
  const step = await get(signed('/resize:widht=200/local:photos/a.jpg'));
  assert.is(step.status, 400);
  assert.match(message(step), /unknown parameter "widht"; did you mean width\?/);
});

test('a signed URL gives the image; tampered, missing, wrong-salt and unsigned ones get 403', async () => {
  const good = await get(signed('/thumbnail:width=120/local:photos/a.jpg'));
  assert.is(good.status, 200, good.body.toString().slice(0, 200));
  assert.is(good.headers['content-type'], 'image/jpeg');
  assert.is(Number(good.headers['content-length']), good.body.length);
  assert.is((await sharp(good.body).metadata()).width, 120);

  const sig = sign(signing, '/thumbnail:width=120/local:photos/a.jpg');
  const refused = [
    `/${sig}/thumbnail:width=1200/local:photos/a.jpg`, // tampered
    '/thumbnail:width=120/local:photos/a.jpg', // missing
    `/${sign(signingKey(KEY, 'aa')!, '/thumbnail:width=120/local:photos/a.jpg')}/thumbnail:width=120/local:photos/a.jpg`, // wrong salt
    '/_/thumbnail:width=120/local:photos/a.jpg', // unsigned, not allowed
  ];
  for (const p of refused) {
    const r = await get(p);
    assert.is(r.status, 403, p);
    assert.match(errorOf(r.body).message, /signature|unsigned/);
  }
});

test('imgproxy-compatible signatures: the step-by-step example of imgproxy\'s "Signing a URL" page gives its signature', () => {
  // key "secret", salt "hello", hex-encoded as IMGPROXY_KEY / IMGPROXY_SALT
  const p = '/rs:fill:300:400:0/g:sm/aHR0cDovL2V4YW1w/bGUuY29tL2ltYWdl/cy9jdXJpb3NpdHku/anBn.png';
  assert.is(sign(signingKey('736563726574', '68656C6C6F')!, p), 'oKfUtW34Dvo2BGQehJFR4Nr0_rIjOtdtzJ3QFsUcXH8');
});

test('local sources: traversal, encoded slashes, symlinks out, unknown roots refused; missing 404; too large 413', async () => {
  const cases: Array<[string, number]> = [
    ['/thumbnail:width=50/local:photos/../outside.jpg', 403],
    ['/thumbnail:width=50/local:photos/..%2Foutside.jpg', 403],
    ['/thumbnail:width=50/local:photos%2F..%2Foutside.jpg', 403],
    ['/thumbnail:width=50/local:photos/link.jpg', 403],
    ['/thumbnail:width=50/local:etc/passwd', 403],
    ['/thumbnail:width=50/local:photos/nope.jpg', 404],
    ['/thumbnail:width=50/local:photos/big.jpg', 413],
  ];
  for (const [p, status] of cases) {
    const r = await get(signed(p));
    assert.is(r.status, status, `${p}: ${r.body.toString()}`);
    assert.ok(errorOf(r.body).message.length > 10, 'the error names the problem');
  }
});

test('remote sources: allowed origin served; a redirect to 127.0.0.1 (SSRF), off the list, or a disallowed origin refused; 404 passed on', async () => {
  const ok = await get(signed(`/resize:width=30/${base}/b.png`));
  assert.is(ok.status, 200, ok.body.toString());
  assert.is((await sharp(ok.body).metadata()).width, 30);
  const viaRedirect = await get(signed(`/resize:width=30/${base}/to-same`));
  assert.is(viaRedirect.status, 200, 'a redirect within the allowed origin is followed');
  const b64 = await get(signed(`/resize:width=30/b64:${Buffer.from(`${base}/b.png`).toString('base64url')}`));
  assert.is(b64.status, 200, 'b64: sources');

  const toLocalhost = await get(signed(`/resize:width=30/${base}/to-localhost`));
  assert.is(toLocalhost.status, 403);
  assert.match(errorOf(toLocalhost.body).message, /127\.0\.0\.1|::1/);
  const direct = await get(signed(`/resize:width=30/http://localhost:${originPort}/b.png`));
  assert.is(direct.status, 403, 'an allowed origin name that resolves to loopback');
  assert.is((await get(signed(`/resize:width=30/${base}/to-elsewhere`))).status, 403);
  assert.is((await get(signed('/resize:width=30/http://127.0.0.1:1/b.png'))).status, 403);
  assert.is((await get(signed(`/resize:width=30/${base}/missing.png`))).status, 404);
});

test('SSRF: NAT64, 6to4, IPv4-compatible and -mapped, site-local, multicast, benchmarking, reserved, CGNAT, documentation and Teredo addresses are refused', async () => {
  const results = await Promise.all(SPECIAL_HOSTS.map(async (h) => [h, await get(signed(`/resize:width=30/b64:${Buffer.from(`http://${h}/b.png`).toString('base64url')}`))] as const));
  for (const [h, r] of results) {
    assert.is(r.status, 403, `${h}: ${r.status} ${r.body.toString()}`);
    assert.match(errorOf(r.body).message, /http\.allowPrivateNetworks/, `${h}: the error names the rule`);
  }
  assert.match(errorOf(results[0][1].body).message, /NAT64 \(64:ff9b::\/96\) of 169\.254\.169\.254, link-local/, 'the error says what the address leads to');
  // the ranges that carry an IPv4 address are as public as that address: an IPv6-only host reaches IPv4 origins by NAT64
  for (const address of ['8.8.8.8', '2606:4700:4700::1111', '64:ff9b::808:808', '2002:808:808::1', '::ffff:8.8.8.8', '::ffff:808:808']) {
    assert.is(specialAddress(address), undefined, address);
  }
  for (const address of ['::', '::1', '::ffff:127.0.0.1', 'fe80::1%eth0', '169.254.169.254', 'not-an-address']) assert.ok(specialAddress(address), address);
});

test('an origin prefix without a trailing slash matches whole path segments only', async () => {
  const pub = `http://127.0.0.3:${originPort}/pub`;
  const ok = await get(signed(`/resize:width=30/b64:${Buffer.from(`${pub}/b.png`).toString('base64url')}`));
  assert.is(ok.status, 200, ok.body.toString());
  for (const href of [`http://127.0.0.3:${originPort}/pub-private/b.png`, `${pub}/%2e%2e/pub-private/b.png`, `${pub}/..%2Fpub-private/b.png`, `${pub}%2F..%2Fpub-private/b.png`]) {
    const r = await get(signed(`/resize:width=30/b64:${Buffer.from(href).toString('base64url')}`));
    assert.is(r.status, 403, `${href}: ${r.status} ${r.body.toString().slice(0, 200)}`);
    assert.match(errorOf(r.body).message, /http\.origins/, href);
  }
});

test('status codes: 400 bad parameter, 415 undecodable input, 408 deadline, 503 over the concurrency limit', async () => {
  const bad = await get(signed('/thumbnail:width=abc/local:photos/a.jpg'));
  assert.is(bad.status, 400, `${bad.status}: ${bad.body.toString()}`);
  assert.match(errorOf(bad.body).message, /width/);
  assert.is((await get(signed('/nosuchop/local:photos/a.jpg'))).status, 400);
  assert.is((await get(signed('/local:photos/a.jpg'))).status, 400, 'no operation');
  const corrupt = await get(signed('/thumbnail:width=50/local:photos/corrupt.jpg'));
  assert.is(corrupt.status, 415, corrupt.body.toString());

  const auth = { 'x-api-key': API_KEY, 'content-type': 'application/json' };
  const slow = await get('/fn/delay', auth, 'POST', Buffer.from(JSON.stringify({ ms: 3000 })));
  assert.is(slow.status, 408, slow.body.toString());

  const burst = await Promise.all(Array.from({ length: 9 }, () => get('/fn/delay', auth, 'POST', Buffer.from(JSON.stringify({ ms: 600 })))));
  const statuses = burst.map((r) => r.status).sort();
  assert.ok(statuses.includes(503), `some of 9 requests over http.maxConcurrent=6 get 503: ${statuses}`);
  assert.ok(statuses.filter((s) => s === 200).length >= 6, `the first six complete: ${statuses}`);
  assert.is(burst.find((r) => r.status === 503)!.headers['retry-after'], '1');
});

test('slow request bodies: POSTs without the API key are refused before their bodies are read and hold no slot; a keyed body slower than http.timeoutMs is cut off (408)', async () => {
  const unkeyed = Array.from({ length: 6 }, () => tricklePost('/fn/echo')); // as many as http.maxConcurrent
  try {
    await sleep(300);
    const image = await get(signed('/thumbnail:width=40/local:photos/a.jpg'));
    assert.is(image.status, 200, `a GET is served while unkeyed bodies trickle in: ${image.status} ${image.body.toString().slice(0, 200)}`);
    for (const s of unkeyed) assert.match(await within(s.answer, 2000, 'no answer within 2 s'), /^HTTP\/1\.1 403/);
  } finally {
    for (const s of unkeyed) s.stop();
  }
  const keyed = tricklePost('/fn/echo', `X-Api-Key: ${API_KEY}\r\n`);
  const started = Date.now();
  try {
    const answer = await within(keyed.answer, 6000, 'no answer within 6 s');
    assert.match(answer, /^HTTP\/1\.1 408/, `${answer} after ${Date.now() - started} ms`);
    assert.ok(Date.now() - started < 4000, `cut off ${Date.now() - started} ms after it began (http.timeoutMs=1500)`);
  } finally {
    keyed.stop();
  }
  assert.is((await get(signed('/thumbnail:width=40/local:photos/a.jpg'))).status, 200, 'the cut-off request gave its slot back');
});

test('output pixels are capped after every step (images.maxPixels): resize, extend and rotate past it get 413 naming the limit', async () => {
  const tooBig = [
    '/resize:width=16383,height=16383/extend:all=8000/format:jpeg/local:photos/a.jpg',
    '/resize:width=16383,height=16383/local:photos/a.jpg',
    '/extend:all=16383/local:photos/a.jpg',
    '/resize:width=7000,height=7000/rotate:angle=45/local:photos/a.jpg',
  ];
  for (const p of tooBig) {
    const r = await get(signed(p));
    assert.is(r.status, 413, `${p}: ${r.status} ${r.body.toString().slice(0, 300)}`);
    assert.match(errorOf(r.body).message, /images\.maxPixels/, p);
  }
  const photo = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#0a0' } }).png().toBuffer();
  const posted = await get('/fn/resize?width=16383&height=16383', { 'x-api-key': API_KEY, 'content-type': 'image/png' }, 'POST', photo);
  assert.is(posted.status, 413, posted.body.toString());
  // a thumbnail does not enlarge: a huge width asks for nothing near the cap
  const thumb = await get(signed('/thumbnail:width=16383/local:photos/a.jpg'));
  assert.is(thumb.status, 200, thumb.body.toString().slice(0, 300));
  assert.is((await sharp(thumb.body).metadata()).width, 640);
  const rotated = await get(signed('/resize:width=300,height=200/rotate:angle=30/local:photos/a.jpg'));
  assert.is(rotated.status, 200, rotated.body.toString().slice(0, 300));
});

test('http.publicPresets admits exactly /p/<preset>/<source>: more operations need a signature; unknown and prototype names get 400/403, never 500', async () => {
  for (const n of ['__proto__', 'constructor', 'prototype', 'toString']) {
    const preset = await get(signed(`/p/${n}/local:photos/a.jpg`));
    assert.is(preset.status, 400, `signed preset ${n}: ${preset.status} ${preset.body.toString()}`);
    assert.match(errorOf(preset.body).message, /no preset/);
    const root = await get(signed(`/thumbnail:width=50/local:${n}/a.jpg`));
    assert.is(root.status, 403, `local root ${n}: ${root.status} ${root.body.toString()}`);
    assert.match(errorOf(root.body).message, /no local root/);
  }
  const publicPort = await freePort();
  const open = await startProcess('http', cluster, {
    DIPS_HTTP_PORT: String(publicPort), DIPS_HTTP_KEY: KEY, DIPS_HTTP_SALT: SALT, DIPS_HTTP_LOCAL_ROOTS: `photos=${photos}`,
    DIPS_HTTP_PRESETS: JSON.stringify({ thumb: 'thumbnail:width=50/format:auto' }), DIPS_HTTP_PUBLIC_PRESETS: 'true',
  });
  const at = (p: string) => get(p, {}, 'GET', undefined, publicPort);
  try {
    const ok = await at('/p/thumb/local:photos/a.jpg');
    assert.is(ok.status, 200, ok.body.toString());
    assert.is((await sharp(ok.body).metadata()).width, 50);
    for (const p of ['/p/thumb/resize:width=16383,height=16383/extend:all=8000/local:photos/a.jpg', '/p/thumb/format:png/local:photos/a.jpg', '/p/thumb/p/thumb/local:photos/a.jpg', '/p/thumb']) {
      const r = await at(p);
      assert.is(r.status, 403, `${p}: ${r.status} ${r.body.toString().slice(0, 200)}`);
      assert.match(errorOf(r.body).message, /signature/);
    }
    const signedMore = await at(signed('/p/thumb/format:png/local:photos/a.jpg'));
    assert.is(signedMore.status, 200, 'a signed URL may add to a preset');
    assert.is(signedMore.headers['content-type'], 'image/png');
    for (const n of ['__proto__', 'constructor', 'prototype', 'toString', 'nope']) {
      const r = await at(`/p/${n}/local:photos/a.jpg`);
      assert.ok(r.status === 400 || r.status === 404, `preset ${n}: ${r.status} ${r.body.toString()}`);
      assert.match(errorOf(r.body).message, /no preset/);
      const root = await at(`/p/thumb/local:${n}/a.jpg`);
      assert.ok(root.status >= 400 && root.status < 500, `root ${n}: ${root.status} ${root.body.toString()}`);
      assert.match(errorOf(root.body).message, /no local root/);
    }
  } finally {
    await open.stop();
  }
});

test('format:auto negotiates AVIF, WebP or the source format with Vary: Accept; If-None-Match gives 304 without work', async () => {
  const p = signed('/thumbnail:width=80/format:auto/local:photos/a.jpg');
  const avif = await get(p, { accept: 'image/avif,image/webp,*/*' });
  const webp = await get(p, { accept: 'image/webp,*/*' });
  const plain = await get(p, { accept: 'image/jpeg,*/*;q=0.8' });
  assert.is(avif.headers['content-type'], 'image/avif');
  assert.is(webp.headers['content-type'], 'image/webp');
  assert.is(plain.headers['content-type'], 'image/jpeg');
  for (const r of [avif, webp, plain]) assert.is(r.headers.vary, 'Accept');
  assert.not.equal(avif.headers.etag, webp.headers.etag);
  assert.match(String(webp.headers.etag), /^"[A-Za-z0-9_-]{32}"$/);
  assert.is(webp.headers['cache-control'], 'public, max-age=31536000, immutable');

  const before = await workerJobs();
  const again = await get(p, { accept: 'image/webp,*/*', 'if-none-match': String(webp.headers.etag) });
  assert.is(again.status, 304);
  assert.is(again.body.length, 0);
  assert.is(again.headers.etag, webp.headers.etag);
  assert.is(await workerJobs(), before, 'a 304 costs no job');
});

test('presets, pipelines, info, HEAD', async () => {
  const preset = await get(signed('/p/thumb/local:photos/a.jpg'), { accept: 'image/webp' });
  assert.is(preset.status, 200);
  assert.is(preset.headers['content-type'], 'image/webp');
  assert.is((await sharp(preset.body).metadata()).width, 50);
  assert.is((await get(signed('/p/nope/local:photos/a.jpg'))).status, 400);
  assert.is((await get('/p/thumb/local:photos/a.jpg')).status, 403, 'presets need a signature unless http.publicPresets');

  const pipeline = await get(signed('/p/square/grayscale/format:png/local:photos/a.jpg'));
  assert.is(pipeline.status, 200, pipeline.body.toString());
  const meta = await sharp(pipeline.body).metadata();
  assert.equal([meta.format, meta.width, meta.height], ['png', 64, 64]);

  const info = await get(signed('/info/local:photos/a.jpg'));
  assert.equal(JSON.parse(info.body.toString()).width, 640);

  const head = await get(signed('/thumbnail:width=120/local:photos/a.jpg'), {}, 'HEAD');
  assert.is(head.status, 200);
  assert.is(head.body.length, 0);
  assert.ok(Number(head.headers['content-length']) > 100);
  assert.is(head.headers['content-type'], 'image/jpeg');
});

test('POST /fn: API key required; an image body with query parameters; a JSON body', async () => {
  const photo = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#0a0' } }).png().toBuffer();
  assert.is((await get('/fn/thumbnail?width=40', { 'content-type': 'image/png' }, 'POST', photo)).status, 403);
  const thumb = await get('/fn/thumbnail?width=40&format=webp', { authorization: `Bearer ${API_KEY}`, 'content-type': 'image/png' }, 'POST', photo);
  assert.is(thumb.status, 200, thumb.body.toString());
  assert.is(thumb.headers['content-type'], 'image/webp');
  assert.is((await sharp(thumb.body).metadata()).width, 40);
  const card = await get('/fn/ecard', { 'x-api-key': API_KEY, 'content-type': 'application/json' }, 'POST', Buffer.from(JSON.stringify({ pSN: '1234567890', pData: Array.from({ length: 80 }, (_, i) => String(i).padStart(2, '0')).join(', ') })));
  assert.is(card.status, 200, card.body.toString());
  assert.is(card.headers['content-type'], 'image/png');
});

test('probes and metrics; the request id is the job id workers log', async () => {
  assert.is((await get('/healthz')).status, 200);
  const ready = await get('/readyz');
  assert.is(ready.status, 200, ready.body.toString());
  // a name no worker answered is a caller's word: it gets no series of its own
  const madeUp = await Promise.all(Array.from({ length: 20 }, (_, i) => get(`/fn/made-up-${i}`, { 'x-api-key': API_KEY }, 'POST', Buffer.from('x'))));
  assert.ok(madeUp.every((r) => r.status >= 400), madeUp.map((r) => r.status).join(','));
  const metrics = (await get('/metrics')).body.toString();
  assert.not.match(metrics, /function="made-up-/);
  assert.match(metrics, /function="\(other\)"/);
  assert.match(metrics, /dips_http_requests_total\{status="200",function="thumbnail"/);
  assert.match(metrics, /dips_http_request_duration_seconds_bucket/);
  assert.match(metrics, /dips_http_response_bytes_total\{function="thumbnail",role="http"\} [1-9]\d*/);
  const logs = gateway.logs();
  const reqId = /"reqId":"([0-9a-f-]{36})"/.exec(logs)?.[1];
  assert.ok(reqId, 'requests are logged with an id');
});

/** nginx in front: proxy_cache for the DIPS URLs and a static page whose <img> tags point at them. */
async function startNginx(pageHtml: string): Promise<{ port: number; child: ChildProcess }> {
  const dir = path.join(tmp, 'nginx');
  mkdirSync(path.join(dir, 'www'), { recursive: true });
  writeFileSync(path.join(dir, 'www', 'index.html'), pageHtml);
  const nginxPort = await freePort();
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `${process.getuid?.() === 0 ? 'user root;\n' : ''}daemon off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents { worker_connections 256; }\nhttp {\n` +
      `  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n  fastcgi_temp_path ${dir}/fcgi;\n  uwsgi_temp_path ${dir}/uwsgi;\n  scgi_temp_path ${dir}/scgi;\n` +
      // docs/http.md's block, with this test's ports and paths
      `  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=dips:10m max_size=1g inactive=7d use_temp_path=off;\n` +
      `  server {\n    listen 127.0.0.1:${nginxPort};\n    root ${dir}/www;\n` +
      `    location /img/ {\n      proxy_pass http://127.0.0.1:${port}/;\n      proxy_cache dips;\n      proxy_cache_key "$uri|$http_accept";\n` +
      `      proxy_cache_valid 200 304 7d;\n      proxy_cache_lock on;\n      add_header X-Cache-Status $upstream_cache_status;\n    }\n  }\n}\n`,
  );
  const child = spawn('nginx', ['-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitFor(() => portOpen('127.0.0.1', nginxPort), 5000, 'nginx listening');
  return { port: nginxPort, child };
}

test('nginx proxy_cache in front: the second request is served from the cache and runs no job; Chromium shows the page', async () => {
  const urls = [
    signedUrl('/img', signing, buildImagePath('thumbnail', { width: 160, format: 'auto' }, 'local:photos/a.jpg')),
    signedUrl('/img', signing, buildImagePath('resize', { width: 90, height: 60, fit: 'cover', format: 'auto' }, `${base}/b.png`)),
    signedUrl('/img', signing, '/p/thumb/local:photos/a.jpg'),
  ];
  const page = `<!doctype html><html><body>${urls.map((u, i) => `<img id="i${i}" src="${u}">`).join('\n')}</body></html>`;
  const nginx = await startNginx(page);
  let browser: Awaited<ReturnType<typeof puppeteer.launch>> | undefined;
  try {
    const first = await fetch(`http://127.0.0.1:${nginx.port}${urls[0]}`, { headers: { accept: 'image/webp' } });
    assert.is(first.status, 200, `${urls[0]}: ${await first.clone().text()}`);
    assert.is(first.headers.get('x-cache-status'), 'MISS');
    await first.arrayBuffer();
    const jobs = await workerJobs();
    const second = await fetch(`http://127.0.0.1:${nginx.port}${urls[0]}`, { headers: { accept: 'image/webp' } });
    assert.is(second.headers.get('x-cache-status'), 'HIT');
    assert.is(second.headers.get('content-type'), 'image/webp');
    assert.ok((await second.arrayBuffer()).byteLength > 100);
    assert.is(await workerJobs(), jobs, 'the cached answer ran no job');

    browser = await puppeteer.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    const tab = await browser.newPage();
    const types: string[] = [];
    tab.on('response', (r) => {
      if (r.url().includes('/img/')) types.push(r.headers()['content-type'] ?? '');
    });
    await tab.goto(`http://127.0.0.1:${nginx.port}/index.html`, { waitUntil: 'networkidle0' });
    const sizes = await tab.evaluate(() => [...document.images].map((img) => [img.complete, img.naturalWidth, img.naturalHeight]));
    assert.equal(sizes, [[true, 160, 120], [true, 90, 60], [true, 50, 38]]);
    assert.is(types.length, 3);
    assert.ok(types.every((t) => t === 'image/avif' || t === 'image/webp'), `Chromium negotiated AVIF or WebP: ${types}`);
  } finally {
    await browser?.close();
    await stopChild(nginx.child, 'SIGQUIT', 3000);
  }
});

test('http.placeholder: an <img> caller gets the placeholder image with the error status and a Dips-Error header', async () => {
  const file = path.join(tmp, 'placeholder.png');
  writeFileSync(file, await sharp({ create: { width: 8, height: 8, channels: 3, background: '#ccc' } }).png().toBuffer());
  const otherPort = await freePort();
  const other = await startProcess('http', cluster, { DIPS_HTTP_PORT: String(otherPort), DIPS_HTTP_KEY: KEY, DIPS_HTTP_SALT: SALT, DIPS_HTTP_LOCAL_ROOTS: `photos=${photos}`, DIPS_HTTP_PLACEHOLDER: file });
  try {
    const res = await fetch(`http://127.0.0.1:${otherPort}${signed('/thumbnail:width=50/local:photos/nope.jpg')}`);
    assert.is(res.status, 404);
    assert.is(res.headers.get('content-type'), 'image/png');
    assert.match(res.headers.get('dips-error') ?? '', /does not exist/);
    assert.is((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).width, 8);
  } finally {
    await other.stop();
  }
});

test('URLs made by `dips url` and by docs/http.md\'s PHP snippet are served', async () => {
  const env = { ...process.env, DIPS_CONFIG: '', DIPS_HTTP_KEY: KEY, DIPS_HTTP_SALT: SALT, DIPS_HTTP_PUBLIC_URL: `http://127.0.0.1:${port}` };
  const cli = spawnSync(process.execPath, [Executables.cli, 'url', 'thumbnail', 'width=70', 'format=webp', '--source', 'local:photos/a.jpg'], { env, encoding: 'utf8' });
  assert.is(cli.status, 0, cli.stderr);
  const fromCli = await get(new URL(cli.stdout.trim()).pathname);
  assert.is(fromCli.status, 200, fromCli.body.toString());
  assert.is((await sharp(fromCli.body).metadata()).width, 70);

  const readme = readFileSync(path.join(projectRoot, 'docs', 'http.md'), 'utf8');
  const snippet = /```php\n(<\?php\n\/\/ sign a DIPS image URL[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(snippet, 'docs/http.md has the PHP signing snippet');
  const php = spawnSync('php', ['-r', snippet.replace(/^<\?php\n/, '')], { env, encoding: 'utf8' });
  assert.is(php.status, 0, php.stderr);
  const src = /src="([^"]+)"/.exec(php.stdout)?.[1];
  assert.ok(src, php.stdout);
  const fromPhp = await get(new URL(src.replace(/&amp;/g, '&')).pathname, { accept: 'image/webp' });
  assert.is(fromPhp.status, 200, fromPhp.body.toString());
  assert.is(fromPhp.headers['content-type'], 'image/webp');
});

test('SIGTERM: a request in flight finishes, then the gateway exits 0', async () => {
  const auth = { 'x-api-key': API_KEY, 'content-type': 'application/json' };
  const inFlight = get('/fn/delay', auth, 'POST', Buffer.from(JSON.stringify({ ms: 500, value: 'done' })));
  await sleep(150);
  const exited = gateway.stop('SIGTERM');
  const r = await inFlight;
  assert.is(r.status, 200);
  assert.is(JSON.parse(r.body.toString()), 'done');
  assert.is(await exited, 0);
});


test.run();
