/** ecard over a real two-node NATS cluster, from native (msgpack) and PHP-serialized callers. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import sharp from 'sharp';
import { connect, headers, type NatsConnection } from 'nats';
import { phpSerialize } from '../src/mesh/codec/php.js';
import { CallError } from '../src/client/index.js';
import { clientFor, SEED_PDATA, startCluster, startWorker, type Cluster, type Proc } from './harness.js';
import { runPhp } from './php.js';

let cluster: Cluster;
let worker: Proc;
let nc: NatsConnection;
const client = () => clientFor(cluster);

test.before(async () => {
  cluster = await startCluster();
  worker = await startWorker(cluster, { DIPS_WORKER_FUNCTIONS: 'ecard,echo' });
  nc = await connect({ servers: cluster.servers });
});
test.after(async () => {
  await nc?.close();
  await worker?.stop();
  await cluster?.stop();
});

const values = Array.from({ length: 80 }, (_, i) => String((i * 37) % 100).padStart(2, '0'));

/** Ink in a card: count of dark pixels inside a rectangle of the decoded image. */
async function darkPixels(png: Uint8Array, left: number, top: number, width: number, height: number): Promise<number> {
  const { data } = await sharp(png).extract({ left, top, width, height }).greyscale().raw().toBuffer({ resolveWithObject: true });
  return data.reduce((n, v) => n + (v < 100 ? 1 : 0), 0);
}

test('msgpack call returns a PNG card of the expected size with ink in every cell', async () => {
  const dips = client();
  const png = (await dips.call('ecard', { pSN: '1234567890', pData: values })) as Uint8Array;
  await dips.close();
  const meta = await sharp(png).metadata();
  assert.is(meta.format, 'png');
  assert.is(meta.width, 465);
  assert.is(meta.height, 313);
  // every data cell (grid starts at 12,48; cells 40 x 28) has drawn digits, and the blank corner cell has none
  for (let r = 1; r <= 8; r++) {
    for (let c = 1; c <= 10; c++) {
      const ink = await darkPixels(png, 12 + c * 40 + 4, 48 + r * 28 + 4, 32, 20);
      assert.ok(ink > 20, `cell ${r},${c} has digits (${ink} dark pixels)`);
    }
  }
  assert.is(await darkPixels(png, 12 + 4, 48 + 4, 32, 20), 0, 'top-left head cell is empty');
});

test('different data gives a different picture; same data the same bytes', async () => {
  const dips = client();
  const a = (await dips.call('ecard', { pSN: '1', pData: values })) as Uint8Array;
  const b = (await dips.call('ecard', { pSN: '1', pData: values })) as Uint8Array;
  const c = (await dips.call('ecard', { pSN: '1', pData: [...values].reverse() })) as Uint8Array;
  await dips.close();
  assert.ok(Buffer.from(a).equals(Buffer.from(b)));
  assert.not.ok(Buffer.from(a).equals(Buffer.from(c)));
});

test("the seed's PHP-serialized payload (from real php) gets the card", async () => {
  const php = await runPhp(`$data['pSN'] = "1234567890"; $data['pData'] = ${JSON.stringify(SEED_PDATA)}; echo serialize($data);`);
  assert.is(php.code, 0, php.stderr);
  // no encoding header: the worker sniffs PHP serialize
  const reply = await nc.request('dips.fn.ecard', php.stdout, { timeout: 10_000 });
  assert.is(reply.headers?.get('Content-Type'), 'image/png');
  const meta = await sharp(reply.data).metadata();
  assert.is(meta.width, 465);
});

test('webp, jpeg and scale options', async () => {
  const dips = client();
  const webp = (await dips.call('ecard', { pSN: '9', pData: values, format: 'webp', scale: 2 })) as Uint8Array;
  const jpeg = (await dips.call('ecard', { pSN: '9', pData: values.join(','), format: 'jpeg' })) as Uint8Array;
  await dips.close();
  const w = await sharp(webp).metadata();
  assert.is(w.format, 'webp');
  assert.is(w.width, 929);
  assert.is((await sharp(jpeg).metadata()).format, 'jpeg');
});

const badInputs: Array<[string, Record<string, unknown>, RegExp]> = [
  ['79 values', { pSN: '1', pData: values.slice(1) }, /^ecard: pData has 79 values, expected 80$/],
  ['81 values', { pSN: '1', pData: [...values, '01'] }, /^ecard: pData has 81 values, expected 80$/],
  ['non-digits', { pSN: '1', pData: [...values.slice(1), 'x7'] }, /^ecard: pData value 80 must be a number from 00 to 99, got "x7"$/],
  ['three digits', { pSN: '1', pData: values.slice(1).join(',') + ',100' }, /pData value 80 must be a number from 00 to 99, got "100"/],
  ['missing pData', { pSN: '1' }, /^ecard: pData is required/],
  ['missing pSN', { pData: values }, /^ecard: pSN is required/],
  ['bad pSN', { pSN: '<script>', pData: values }, /^ecard: pSN must be a serial of 1 to 32 letters, digits or dashes, got "<script>"$/],
  ['absurd scale', { pSN: '1', pData: values, scale: 400 }, /^ecard: scale must be an integer from 1 to 4, got 400$/],
  ['bad format', { pSN: '1', pData: values, format: 'bmp' }, /^ecard: format must be one of png, webp, jpeg, got "bmp"$/],
];

for (const [name, params, message] of badInputs) {
  test(`bad input (${name}) answers 400 with the service-API error headers`, async () => {
    const h = headers();
    h.set('Dips-Encoding', 'php');
    const reply = await nc.request('dips.fn.ecard', phpSerialize(params), { timeout: 5000, headers: h });
    assert.is(reply.headers?.get('Nats-Service-Error-Code'), '400');
    assert.match(reply.headers?.get('Nats-Service-Error') ?? '', message);
  });
}

test('a payload that is not a map of parameters is refused clearly', async () => {
  const h = headers();
  h.set('Dips-Encoding', 'json');
  const notJson = await nc.request('dips.fn.ecard', Buffer.from('{"pSN": '), { timeout: 5000, headers: h });
  assert.match(notJson.headers?.get('Nats-Service-Error') ?? '', /^ecard: cannot decode json body/);
  const list = await nc.request('dips.fn.ecard', Buffer.from('[1,2]'), { timeout: 5000 });
  assert.is(list.headers?.get('Nats-Service-Error'), 'ecard: the payload must be a map of parameters, got a list of 2');
});

test('the client raises CallError with code and message; a function nobody serves waits, then says "no worker"', async () => {
  const dips = client();
  try {
    await dips.call('ecard', { pSN: '1', pData: values.slice(1) });
    assert.unreachable('should fail');
  } catch (err) {
    assert.instance(err, CallError);
    assert.is((err as CallError).code, 400);
    assert.is((err as CallError).message, 'ecard: pData has 79 values, expected 80');
    assert.instance((err as CallError).cause, CallError, 'what the requester saw is the cause');
    assert.match((err as Error).stack ?? '', /ecard\.test\.js/, "the caller's stack");
  }
  try {
    await dips.call('nosuchfunction', {}, { timeoutMs: 400 });
    assert.unreachable('should fail');
  } catch (err) {
    assert.is((err as CallError).code, 503);
    assert.is((err as CallError).message, 'no worker for nosuchfunction: none served it within 400 ms');
  }
  await dips.close();
});

test('service discovery: $SRV.PING and $SRV.INFO list the worker and its endpoints', async () => {
  const replies: any[] = [];
  const sub = nc.subscribe('_INBOX.srvtest', { max: 2, timeout: 3000 });
  const done = (async () => {
    for await (const m of sub) replies.push(m.json());
  })();
  nc.publish('$SRV.INFO.dips', undefined, { reply: '_INBOX.srvtest' });
  await done.catch(() => undefined);
  const subjects = replies.flatMap((r) => r.endpoints.map((e: any) => `${e.subject}/${e.queue_group}`)).sort();
  assert.equal(subjects, ['dips.fn.ecard/ecard', 'dips.fn.echo/echo']);
});

test.run();
