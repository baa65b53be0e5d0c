/** DipsClient options: explicit options read no DIPS_* variable; fromEnv() does. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DipsClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/shared/config.js';

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

test('DipsClient: plain options start from the config loader\'s defaults; nats.* settings go over them; bad servers are named', () => {
  const config = (c: DipsClient) => (c as unknown as { config: { nats: object; gateway: object; queue: object } }).config;
  const loaded = loadConfig({ argv: [], env: {} });
  assert.equal(config(new DipsClient()), { nats: loaded.nats, gateway: { retries: loaded.gateway.retries }, queue: { maxWaitingBytes: loaded.queue.maxWaitingBytes } });
  const secure = config(new DipsClient({ servers: ['tls://10.0.0.1:4222'], nats: { user: 'dips-caller', pass: 'secret', tls: { ca: '/etc/dips/tls/ca.pem' } } }));
  assert.equal(secure.nats, { ...loaded.nats, servers: ['tls://10.0.0.1:4222'], user: 'dips-caller', pass: 'secret', tls: { ...loaded.nats.tls, ca: '/etc/dips/tls/ca.pem' } });
  assert.throws(() => new DipsClient({ servers: ['http://10.0.0.1'] }), (e: Error) => e instanceof TypeError && e.message === 'DipsClient: servers must be a list of nats://host:port URLs, got "http://10.0.0.1"');
  assert.throws(() => new DipsClient({ servers: [] }), /DipsClient: servers must be a non-empty/);
});

test.run();
