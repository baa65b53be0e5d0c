/** What docs/ shows is what runs: each plain-NATS example exactly as test/plain-nats.test.ts runs it, the shipped config templates valid. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, projectRoot } from '../../src/shared/config.js';

const doc = readFileSync(path.join(projectRoot, 'docs', 'plain-nats.md'), 'utf8');

for (const [file, lang] of [['plain-call.go', 'go'], ['plain-call.py', 'python'], ['plain-call.ts', 'ts']] as const) {
  test(`docs/plain-nats.md quotes docs/examples/${file} whole`, () => {
    const source = readFileSync(path.join(projectRoot, 'docs', 'examples', file), 'utf8').trimEnd();
    assert.ok(doc.includes('```' + lang + '\n' + source + '\n```'), `the ${lang} block is a copy of docs/examples/${file}`);
  });
}

test('config/web-server.json, the web server\'s local gateway docs/faults.md ships, is a valid configuration', () => {
  const config = loadConfig({ argv: [], env: { DIPS_CONFIG: path.join(projectRoot, 'config', 'web-server.json') } });
  assert.is(config.gateway.host, '127.0.0.1');
  assert.is(config.gateway.port, 4730);
  assert.is(config.nats.servers.length, 2);
});

test.run();
