/** Secret files are private from their first byte. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writePrivateFile } from '../../src/shared/private-file.js';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

test('a secret file is private from its first byte, and an existing one is narrowed to 0600 before it is rewritten', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dips-private-'));
  const file = path.join(dir, 'admin.env');
  writeFileSync(file, 'old', { mode: 0o644 });
  writePrivateFile(file, 'DIPS_NATS_PASS=x\n');
  assert.is(statSync(file).mode & 0o777, 0o600);
  writePrivateFile(path.join(dir, 'new.env'), 'y');
  assert.is(statSync(path.join(dir, 'new.env')).mode & 0o777, 0o600);
});

test.run();
