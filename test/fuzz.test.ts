/**
 * Hostile input: random and mutated Gearman frames, huge declared sizes and
 * slow senders against the gateway; random bytes as images, payloads and
 * parameters against a worker. Nothing crashes, errors are clear, other
 * traffic carries on, memory stays bounded.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { connect, headers, type NatsConnection } from 'nats';
import sharp from 'sharp';
import { freePort } from '../src/control/nats-node.js';
import { PacketType as P, REQ_MAGIC } from '../src/gateway/protocol/constants.js';
import { encodeRequest, header } from '../src/gateway/protocol/encoder.js';
import { phpSerialize } from '../src/mesh/codec/php.js';
import { clientFor, startCluster, startProcess, startWorker, type Cluster, type Proc, rss } from './harness.js';
import { WireClient } from './gearman-wire.js';
import { quadrants } from './images.js';

let cluster: Cluster;
let worker: Proc;
let gateway: Proc;
let port: number;
let nc: NatsConnection;

const alive = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;

test.before(async () => {
  cluster = await startCluster();
  worker = await startWorker(cluster);
  port = await freePort();
  gateway = await startProcess('gateway', cluster, { DIPS_GATEWAY_PORT: String(port), DIPS_GATEWAY_IDLE_TIMEOUT_MS: '1500', DIPS_GATEWAY_MAX_PACKET_BYTES: String(1024 * 1024) });
  nc = await connect({ servers: cluster.servers });
});
test.after(async () => {
  await nc?.close();
  await Promise.all([gateway, worker].filter(Boolean).map((p) => p.stop()));
  await cluster?.stop();
});

const frame = encodeRequest;

/** A good client making echo calls the whole time; returns its worst latency. */
function goodTraffic() {
  let running = true;
  let worst = 0;
  let calls = 0;
  const done = (async () => {
    const c = await WireClient.connect(port);
    while (running) {
      const t = performance.now();
      c.send(P.SUBMIT_JOB, ['echo', '', `call ${calls}`]);
      assert.is((await c.next()).type, P.JOB_CREATED);
      const r = await c.next();
      assert.is(r.args[1].toString(), `call ${calls}`);
      worst = Math.max(worst, performance.now() - t);
      calls++;
    }
    c.close();
  })();
  return { stop: async () => ((running = false), await done, { worst, calls }) };
}

test('random, mutated, oversized and trickled frames: the gateway survives, others are served, memory bounded', async () => {
  const good = goodTraffic();
  const before = rss(gateway);
  const valid = frame(P.SUBMIT_JOB, [Buffer.from('echo'), Buffer.from(''), Buffer.from('payload')]);
  for (let round = 0; round < 60; round++) {
    const c = await WireClient.connect(port);
    const kind = round % 4;
    if (kind === 0) c.raw(randomBytes(1 + Math.floor(Math.random() * 4096)));
    else if (kind === 1) {
      const mutated = Buffer.from(valid);
      for (let i = 0; i < 3; i++) mutated[Math.floor(Math.random() * mutated.length)] = Math.floor(Math.random() * 256);
      c.raw(mutated);
    } else if (kind === 2) {
      c.raw(header(REQ_MAGIC, P.SUBMIT_JOB, 0x7fffffff + Math.floor(Math.random() * 1000)));
    } else {
      // a frame declaring 1 MiB that never finishes: held by the limit, reaped when idle
      c.raw(Buffer.concat([header(REQ_MAGIC, P.SUBMIT_JOB, 1024 * 1024), Buffer.from('echo\0\0')]));
    }
    setTimeout(() => c.close(), 2500);
  }
  // a slow but honest sender, one byte at a time, is served
  const slow = await WireClient.connect(port);
  for (const byte of valid) {
    slow.raw(Buffer.from([byte]));
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.is((await slow.next()).type, P.JOB_CREATED);
  assert.is((await slow.next()).args[1].toString(), 'payload');
  slow.close();
  // a half-sent frame that stalls is reaped by the idle timer
  const stalled = await WireClient.connect(port);
  stalled.raw(valid.subarray(0, 7));
  assert.ok(await stalled.waitClosed(4000), 'the stalled connection was closed');
  const { worst, calls } = await good.stop();
  assert.ok(alive(gateway), 'the gateway is alive');
  assert.ok(calls > 20, `${calls} good calls meanwhile`);
  assert.ok(worst < 1000, `good client never stalled (worst ${worst.toFixed(0)} ms)`);
  assert.ok(rss(gateway) - before < 100 * 1024 * 1024, `gateway memory bounded (+${((rss(gateway) - before) / 2 ** 20).toFixed(0)} MiB)`);
});

test('random bytes as images, payloads and parameters: clear 4xx errors, never a crash', async () => {
  const codes = new Map<string, number>();
  const image = await quadrants();
  const jpeg = await sharp(image).jpeg().toBuffer();
  const request = async (fn: string, body: Uint8Array, encoding?: string) => {
    const h = headers();
    if (encoding) h.set('Dips-Encoding', encoding);
    const reply = await nc.request(`dips.fn.${fn}`, body, { timeout: 10_000, headers: h });
    const code = reply.headers?.get('Nats-Service-Error-Code') || 'ok';
    codes.set(code, (codes.get(code) ?? 0) + 1);
    if (code !== 'ok') assert.match(reply.headers?.get('Nats-Service-Error') ?? '', new RegExp(`^(${fn}|pipeline)`), `the message names the function: ${reply.headers?.get('Nats-Service-Error')}`);
    return code;
  };
  const functions = ['thumbnail', 'resize', 'crop', 'watermark', 'convert', 'info', 'pipeline', 'ecard', 'blur', 'modulate', 'extend'];
  for (let i = 0; i < 80; i++) {
    const fn = functions[i % functions.length];
    const mutant = Buffer.from(jpeg);
    for (let k = 0; k < 20; k++) mutant[200 + Math.floor(Math.random() * (mutant.length - 200))] = Math.floor(Math.random() * 256);
    await request(fn, randomBytes(64 + Math.floor(Math.random() * 2048)));
    await request(fn, randomBytes(256), ['msgpack', 'php', 'json'][i % 3]);
    await request(fn, phpSerialize({ image: i % 2 ? mutant : randomBytes(300), width: 50, height: 40 }), 'php');
    await request(fn, phpSerialize({ image: jpeg, width: ['x', -1, 1e9, null, [1], { a: 1 }][i % 6], height: 'NaN', angle: 'spin', sigma: [], steps: 'all', text: 5, format: 'exe' }), 'php');
  }
  assert.not.ok(codes.has('500'), `no internal errors: ${JSON.stringify([...codes])}`);
  for (const code of codes.keys()) assert.ok(['ok', '400', '413', '422'].includes(code), `code ${code}`);
  assert.ok(alive(worker), 'the worker is alive');
  const dips = clientFor(cluster);
  assert.ok((await dips.call('thumbnail', { image, width: 10 })) instanceof Uint8Array, 'and still serving');
  await dips.close();
});

test.run();
