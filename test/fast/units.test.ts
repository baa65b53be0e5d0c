/** Pure logic, no server: the wait queue, parameter parsing, the PHP codec on odd input, function-name tokens, sealed header blocks. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DipsClient } from '../../src/client/index.js';
import { headers as natsHeaders, MsgHdrsImpl, type NatsConnection } from 'nats';
import { headerValue } from '../../src/shared/headers.js';
import { resultHeaders } from '../../src/shared/replies.js';
import { sealHeaders } from '../../src/shared/sealed-headers.js';
import { TurnBatch } from '../../src/shared/turn-batch.js';
import { natsReadiness } from '../../src/shared/metrics.js';
import { Params } from '../../src/services/params.js';
import { phpSerialize, phpUnserialize, PhpSerializeError } from '../../src/shared/codec/php.js';
import { functionFromToken, functionToken, isValidFunctionName } from '../../src/shared/subjects.js';
import { WaitQueue } from '../../src/shared/wait-queue.js';
import { allowedHosts } from '../../src/control/dashboard/server.js';
import { writePrivateFile } from '../../src/shared/private-file.js';
import { shareFor } from '../../src/control/agent/guest.js';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUILTIN_FUNCTIONS, legacyMayServe } from '../../src/shared/builtin-functions.js';
import { allFunctions } from '../../src/services/functions/index.js';
import { loadConfig } from '../../src/shared/config.js';
import { isInboxSubject, workerOfDirectSubject } from '../../src/shared/subjects.js';

test('wait queue: HIGH, NORMAL, LOW, FIFO within each; a returning job keeps its place', () => {
  const q = new WaitQueue<{ seq: number; priority: 'high' | 'normal' | 'low' }>();
  const jobs = [[1, 'low'], [2, 'normal'], [3, 'high'], [4, 'normal'], [5, 'high']].map(([seq, priority]) => ({ seq: seq as number, priority: priority as 'high' }));
  for (const j of jobs) q.insert(j);
  const first = q.shift()!;
  assert.is(first.seq, 3);
  q.insert(first); // bounced: back to the front of its lane
  assert.equal([...Array(5)].map(() => q.shift()!.seq), [3, 5, 2, 4, 1]);
  assert.is(q.length, 0);
});

test('parameters: names, ranges and fallbacks, with messages that name the problem', () => {
  const p = new Params('thumbnail', { width: '200', fit: 'cover', sharpen: 'yes', bad: -3 });
  assert.is(p.int('width', 1, 16383), 200);
  assert.is(p.int('height', 1, 16383, 0), 0);
  assert.throws(() => p.int('bad', 0, 10), /thumbnail: bad/);
  assert.throws(() => p.int('missing', 0, 10), /thumbnail: missing/);
});

test('PHP codec on odd input: truncated, wrong lengths, huge counts, trailing bytes are refused with the position', () => {
  for (const bad of ['s:5:"abc";', 'a:2:{i:0;i:1;}', 'i:12', 's:-1:"";', 'a:99999999999:{}', 'x:1;', 'i:1;junk']) {
    assert.throws(() => phpUnserialize(Buffer.from(bad)), (e: Error) => e instanceof PhpSerializeError && /\d/.test(e.message), bad);
  }
  const odd = { '': 'empty key', '0': 'numeric key', nul: 'a\0b', deep: [[[['x']]]], big: 2 ** 53 - 1, neg: -0.5, bool: false, none: null };
  assert.equal(phpUnserialize(phpSerialize(odd)), odd);
});

test('function names: any bytes but NUL, up to 512; one reversible subject token', () => {
  for (const name of ['ecard', 'image.resize:v2', 'a/b', 'app thumb', 'snake_case', 'ünï.cødé', '*>.']) {
    const token = functionToken(name);
    assert.match(token, /^[A-Za-z0-9_-]+$/);
    assert.is(functionFromToken(token), name);
  }
  assert.is(functionToken('ecard'), 'ecard');
  assert.not.ok(isValidFunctionName(''));
  assert.not.ok(isValidFunctionName('a\0b'));
  assert.not.ok(isValidFunctionName('x'.repeat(513)));
  assert.ok(isValidFunctionName('x'.repeat(512)));
});

test('DipsClient: explicit options read no DIPS_* variable; DipsClient.fromEnv() does', () => {
  process.env.DIPS_NATS_SERVERS = 'nats://127.0.0.1:1';
  const servers = (c: DipsClient) => (c as unknown as { config: { nats: { servers: string[] } } }).config.nats.servers;
  try {
    assert.equal(servers(new DipsClient({ servers: ['nats://127.0.0.1:4222'] })), ['nats://127.0.0.1:4222']);
    assert.equal(servers(new DipsClient()), ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4223'], 'the built-in default, not the environment');
    assert.equal(servers(DipsClient.fromEnv()), ['nats://127.0.0.1:1']);
  } finally {
    delete process.env.DIPS_NATS_SERVERS;
  }
});

test('readiness: ready while NATS is connected and the process says so; the reason otherwise', async () => {
  let events: Array<{ type: string }> = [];
  let wake = () => {};
  let closed = false;
  const nc = {
    isClosed: () => closed,
    status: async function* () {
      for (;;) {
        while (events.length) yield events.shift()!;
        await new Promise<void>((r) => (wake = r));
      }
    },
  } as unknown as NatsConnection;
  let listening = true;
  const ready = natsReadiness(nc, () => (listening ? true : 'not listening'));
  assert.is(ready(), true);
  listening = false;
  assert.is(ready(), 'not listening');
  listening = true;
  events = [{ type: 'disconnect' }];
  wake();
  await new Promise((r) => setTimeout(r, 0));
  assert.is(ready(), 'NATS disconnected, reconnecting');
  events = [{ type: 'reconnect' }];
  wake();
  await new Promise((r) => setTimeout(r, 0));
  assert.is(ready(), true);
  closed = true;
  assert.is(ready(), 'NATS connection closed');
});


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

test('turn batch: what one turn adds runs together, in order, after the turn\'s microtasks; flush() runs it at once', async () => {
  const ran: string[] = [];
  const batch = new TurnBatch<string>((item) => ran.push(item));
  batch.add('a');
  await Promise.resolve().then(() => batch.add('b')); // a later microtask of the same turn
  batch.add('c');
  assert.equal(ran, [], 'nothing runs inside the turn');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(ran, ['a', 'b', 'c']);
  batch.add('d');
  batch.flush();
  assert.equal(ran, ['a', 'b', 'c', 'd']);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(ran, ['a', 'b', 'c', 'd'], 'the check phase finds nothing left to run');
});


test('built-in function names: the gateway\'s list is the workers\' own; Gearman workers get `*` minus them', () => {
  assert.equal([...BUILTIN_FUNCTIONS].sort(), allFunctions(loadConfig({})).map((d) => d.name).sort());
  assert.ok(legacyMayServe('shout', ['*']));
  assert.not.ok(legacyMayServe('resize', ['*']));
  assert.ok(legacyMayServe('resize', ['*', 'resize']));
  assert.not.ok(legacyMayServe('shout', ['rev']));
});

test('reply subjects: only inboxes; room subjects: only a direct subject of the same function', () => {
  assert.ok(isInboxSubject('_INBOX.abc.1'));
  for (const bad of [undefined, '', '_INBOX.', 'dips.control.scale', 'dips.room.echo', '_INBOX.a.*', '_INBOX.>', '_INBOX.a b', '_INBOXX.a']) assert.not.ok(isInboxSubject(bad), String(bad));
  assert.is(workerOfDirectSubject('echo', 'dips.fn.echo.W1abc'), 'W1abc');
  for (const bad of ['dips.fn.ecard.W1', 'dips.control.stop', 'dips.fn.echo.a.b', 'dips.fn.echo.', 'dips.fn.echo.*']) assert.is(workerOfDirectSubject('echo', bad), undefined, bad);
});

test('dashboard host names: listen address, loopback and the operator\'s dashboard.allowedHosts; nothing else', () => {
  const hosts = allowedHosts('127.0.0.1', ['Dips.Example']);
  for (const h of ['127.0.0.1', 'localhost', '::1', 'dips.example']) assert.ok(hosts.has(h), h);
  assert.not.ok(hosts.has('evil.example'));
});

test('a secret file is private from its first byte, and an existing one is narrowed to 0600 before it is rewritten', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dips-private-'));
  const file = path.join(dir, 'admin.env');
  writeFileSync(file, 'old', { mode: 0o644 });
  writePrivateFile(file, 'DIPS_NATS_PASS=x\n');
  assert.is(statSync(file).mode & 0o777, 0o600);
  writePrivateFile(path.join(dir, 'new.env'), 'y');
  assert.is(statSync(path.join(dir, 'new.env')).mode & 0o777, 0o600);
});

test('guest share: the CPU the host leaves, in tenths; none past agent.guestHostCpuMax, and back only clearly below it', () => {
  assert.is(shareFor(0, 0.8), 1);
  assert.is(shareFor(0.03, 0.8), 1, 'an almost idle host leaves every slot');
  assert.is(shareFor(0.36, 0.8), 0.6);
  assert.is(shareFor(0.8, 0.8), 0);
  assert.is(shareFor(0.75, 0.8, 0), 0, 'a guest that stopped stays stopped near the line');
  assert.is(shareFor(0.66, 0.8, 0), 0.3);
});

test.run();
