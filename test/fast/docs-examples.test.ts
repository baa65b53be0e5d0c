/** docs/plain-nats.md shows each plain-NATS example exactly as the file test/plain-nats.test.ts runs. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/shared/config.js';

const doc = readFileSync(path.join(projectRoot, 'docs', 'plain-nats.md'), 'utf8');

for (const [file, lang] of [['plain-call.go', 'go'], ['plain-call.py', 'python'], ['plain-call.ts', 'ts']] as const) {
  test(`docs/plain-nats.md quotes docs/examples/${file} whole`, () => {
    const source = readFileSync(path.join(projectRoot, 'docs', 'examples', file), 'utf8').trimEnd();
    assert.ok(doc.includes('```' + lang + '\n' + source + '\n```'), `the ${lang} block is a copy of docs/examples/${file}`);
  });
}

test.run();
