/** Configuration: defaults, files, DIPS_* overrides, and clear refusals. */
import { test } from 'uvu';
import { readFileSync } from 'node:fs';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeConfig, loadConfig, ConfigError } from '../src/shared/config.js';
import { CONFIG_DOC, renderConfigDoc } from '../src/shared/config-docs.js';
import { Executables } from '../src/control/spawn.js';

test('defaults: both NATS nodes, 16 MiB payloads, gateway on 4730', () => {
  const config = loadConfig({ argv: [], env: {} });
  assert.equal(config.nats.servers, ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4223']);
  assert.is(config.nats.maxPayloadBytes, 16 * 1024 * 1024);
  assert.is(config.gateway.port, 4730);
});

test('a file named by --config, then DIPS_* variables, override defaults', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dips-conf-'));
  const file = path.join(dir, 'site.json');
  writeFileSync(file, JSON.stringify({ gateway: { port: 5730 }, worker: { concurrency: 3 } }));
  const config = loadConfig({ argv: ['--config', file], env: { DIPS_WORKER_CONCURRENCY: '7', DIPS_NATS_SERVERS: 'nats://10.0.0.1:4222, nats://10.0.0.2:4222' } });
  assert.is(config.gateway.port, 5730);
  assert.is(config.worker.concurrency, 7, 'env beats file');
  assert.equal(config.nats.servers, ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222']);
  assert.ok(Object.isFrozen(config.nats), 'configuration is frozen');
});

test('bad values are refused naming the key and the expected format', () => {
  assert.throws(() => loadConfig({ argv: [], env: { DIPS_GATEWAY_PORT: 'eighty' } }), (e: Error) => e instanceof ConfigError && /gateway\.port/.test(e.message));
  assert.throws(() => loadConfig({ argv: [], env: { DIPS_NATS_SERVERS: 'http://x' } }), /nats\.servers: must be a list of nats:\/\/host:port URLs/);
  assert.throws(() => loadConfig({ argv: [], env: { DIPS_GATEWAY_MAX_PACKET_BYTES: String(64 * 1024 * 1024) } }), /gateway\.maxPacketBytes .* must not exceed nats\.maxPayloadBytes/);
  assert.throws(() => loadConfig({ argv: ['--config', '/nonexistent.json'], env: {} }), /does not exist/);
});

test('docs/configuration.md lists every key as the schema has it (`npm run docs` rewrites it)', () => {
  const doc = readFileSync(CONFIG_DOC, 'utf8');
  assert.is(doc, renderConfigDoc(doc), 'docs/configuration.md differs from the schema: run `npm run docs`');
});

test('every key is documented with its env var', () => {
  const lines = describeConfig();
  assert.ok(lines.length >= 15);
  for (const line of lines) assert.match(line, /^[a-zA-Z.]+ \(DIPS_[A-Z_]+, default .*\): \S/);
});

test('a worker with a bad value exits 78 with one clear line; --help works', () => {
  const bad = spawnSync(process.execPath, [Executables.worker], { env: { ...process.env, DIPS_WORKER_CONCURRENCY: '-1' }, encoding: 'utf8' });
  assert.is(bad.status, 78);
  assert.match(bad.stderr, /invalid configuration: worker\.concurrency/);
  for (const exe of [Executables.worker, Executables.cli]) {
    const help = spawnSync(process.execPath, [exe, '--help'], { encoding: 'utf8' });
    assert.is(help.status, 0);
    assert.match(help.stdout, /Usage:/);
  }
});

test.run();
