/** DipsClient options: explicit options read no DIPS_* variable; fromEnv() does. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DipsClient } from '../../src/client/index.js';

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

test.run();
