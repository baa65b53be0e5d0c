/** /readyz: ready while NATS is connected and the process says so. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type NatsConnection } from 'nats';
import { natsReadiness } from '../../src/shared/metrics.js';

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

test.run();
