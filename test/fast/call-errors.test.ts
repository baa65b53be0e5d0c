/** CallError's kind and retryable flag, as the requester chooses them where each failure is made, with no server. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { headers as natsHeaders } from 'nats';
import { ErrorCode } from '../../src/shared/errors.js';
import { Header } from '../../src/mesh/headers.js';
import { Requester } from '../../src/mesh/requester.js';
import { CallError, workerError } from '../../src/mesh/call-error.js';
import { noRoomHeaders, PAUSED_NOTICE } from '../../src/mesh/room.js';
import { LoopbackNats } from './loopback-nats.js';

const requester = (nats: LoopbackNats, maxPendingBytes = 1 << 20) => new Requester(nats.asConnection(), { maxPendingBytes, limitName: 'queue.maxWaitingBytes' });
const failure = (p: Promise<unknown>): Promise<CallError> =>
  p.then(
    () => {
      throw new Error('the call succeeded');
    },
    (e: unknown) => e as CallError,
  );
const shape = (e: CallError) => ({ code: e.code, kind: e.kind, retryable: e.retryable, name: e.name });

test('a CallError made with a code alone gets the code\'s kind and that kind\'s retryable flag; an explicit kind wins', () => {
  assert.equal(shape(new CallError(400, 'x')), { code: 400, kind: 'BAD_REQUEST', retryable: false, name: 'CallError' });
  assert.equal(shape(new CallError(503, 'x')), { code: 503, kind: 'UNAVAILABLE', retryable: true, name: 'CallError' });
  assert.equal(shape(new CallError(408, 'x')), { code: 408, kind: 'TIMEOUT', retryable: false, name: 'CallError' });
  assert.equal(shape(new CallError(599, 'x')), { code: 599, kind: 'INTERNAL', retryable: false, name: 'CallError' });
  assert.equal(shape(new CallError(503, 'x', { kind: 'BUSY' })), { code: 503, kind: 'BUSY', retryable: true, name: 'CallError' });
  assert.equal(shape(new CallError(408, 'x', { kind: 'TIMEOUT', retryable: true })), { code: 408, kind: 'TIMEOUT', retryable: true, name: 'CallError' });
  const cause = new Error('under');
  assert.is(new CallError(500, 'x', { cause }).cause, cause);
});

test("a worker's error reply: Dips-Error-Kind and Dips-Error-Retryable when sent and known, else the code's kind", () => {
  const reply = (entries: Array<[string, string]>) => {
    const h = natsHeaders();
    for (const [k, v] of entries) h.set(k, v);
    return h;
  };
  assert.equal(shape(workerError(reply([[Header.serviceErrorCode, '503'], [Header.errorKind, 'NO_WORKER']]), 'm')), { code: 503, kind: 'NO_WORKER', retryable: true, name: 'CallError' });
  assert.equal(shape(workerError(reply([[Header.serviceErrorCode, '503'], [Header.errorKind, 'BUSY']]), 'm')), { code: 503, kind: 'BUSY', retryable: true, name: 'CallError' });
  assert.equal(shape(workerError(reply([[Header.serviceErrorCode, '408'], [Header.errorKind, 'TIMEOUT'], [Header.errorRetryable, 'true']]), 'm')), { code: 408, kind: 'TIMEOUT', retryable: true, name: 'CallError' });
  // an older worker, or a header that names no kind: the code decides
  assert.equal(shape(workerError(reply([[Header.serviceErrorCode, '413']]), 'm')), { code: 413, kind: 'TOO_LARGE', retryable: false, name: 'CallError' });
  assert.equal(shape(workerError(reply([[Header.serviceErrorCode, '503'], [Header.errorKind, 'PLEASE_RETRY']]), 'm')), { code: 503, kind: 'UNAVAILABLE', retryable: true, name: 'CallError' });
  assert.equal(shape(workerError(reply([[Header.serviceErrorCode, 'x']]), 'm')), { code: ErrorCode.internal, kind: 'INTERNAL', retryable: false, name: 'CallError' });
});

test('the requester names each 503 and timeout: NO_WORKER, paused, BUSY (byte limit), UNAVAILABLE (closed), TIMEOUT waiting vs sent, CANCELLED', async () => {
  const nats = new LoopbackNats();
  const r = requester(nats, 10);
  assert.equal(shape(await failure(r.call('ghost', Buffer.from('x'), { timeoutMs: 100 }))), { code: 503, kind: 'NO_WORKER', retryable: true, name: 'CallError' });

  nats.serve('dips.fn.full', (_msg, respond) => respond(new Uint8Array(0), noRoomHeaders()));
  assert.equal(shape(await failure(r.call('full', Buffer.from('x'), { timeoutMs: 100 }))), { code: 408, kind: 'TIMEOUT', retryable: true, name: 'CallError' }, 'it never ran');

  nats.serve('dips.fn.silent', () => undefined);
  assert.equal(shape(await failure(r.call('silent', Buffer.from('x'), { timeoutMs: 100, idempotent: false }))), { code: 408, kind: 'TIMEOUT', retryable: false, name: 'CallError' }, 'it was sent: it may have run');

  const held = r.call('silent', Buffer.alloc(8), { timeoutMs: 300 }).catch(() => 'gone');
  assert.equal(shape(await failure(r.call('silent', Buffer.alloc(8), { timeoutMs: 300 }))), { code: 503, kind: 'BUSY', retryable: true, name: 'CallError' });
  await held;

  const abort = new AbortController();
  const withdrawn = failure(r.call('silent', Buffer.alloc(1), { timeoutMs: 5000, signal: abort.signal }));
  abort.abort();
  // the requester's own callers (the gateway) get CANCELLED; DipsClient turns it into the signal's reason
  assert.equal(shape(await withdrawn), { code: 409, kind: 'CANCELLED', retryable: false, name: 'CallError' });

  const open = failure(r.call('silent', Buffer.alloc(1), { timeoutMs: 5000 }));
  r.close();
  assert.equal(shape(await open), { code: 503, kind: 'UNAVAILABLE', retryable: true, name: 'CallError' });
});

test('a paused function is NO_WORKER, retryable (after dipsctl resume)', async () => {
  const nats = new LoopbackNats();
  const r = requester(nats);
  const unserve = nats.serve('dips.fn.card', (msg, respond) => respond(msg.data));
  await r.call('card', Buffer.from('a'), { timeoutMs: 1000 });
  unserve();
  nats.publish('dips.room.card', Buffer.from(PAUSED_NOTICE));
  const err = await failure(r.call('card', Buffer.from('b'), { timeoutMs: 2000 }));
  assert.equal(shape(err), { code: 503, kind: 'NO_WORKER', retryable: true, name: 'CallError' });
  r.close();
});

test.run();
