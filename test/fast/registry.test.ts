/** The one error registry and docs/errors.md agree: every error code, CallError kind, Gearman ERROR name and exit code is listed. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/shared/config.js';
import { ERROR_CODES, ERROR_KINDS, ErrorCode, EXIT_CODES, ExitCode, GEARMAN_ERRORS, ErrorName, isRetryable, kindOfCode, retryableText } from '../../src/shared/errors.js';

const section = readFileSync(path.join(projectRoot, 'docs', 'errors.md'), 'utf8');
const rows = new Set(section.split('\n').filter((l) => l.startsWith('| ')).map((l) => l.split('|')[1].trim()));

test('every DIPS error code is in the registry once and in docs/errors.md with what Gearman and HTTP callers get', () => {
  const codes = new Set(Object.values(ErrorCode));
  assert.equal(new Set(ERROR_CODES.map((e) => e.code)), codes, 'the registry describes every code');
  for (const e of ERROR_CODES) {
    assert.ok(rows.has(String(e.code)), `docs/errors.md lists ${e.code}`);
    assert.ok(section.includes(`| ${e.code} | ${e.meaning} | ${e.gearman} | ${e.http} |`), `docs/errors.md row for ${e.code} is the registry's`);
  }
});

test('every CallError kind is in the registry once, has a registered code, and is in docs/errors.md with its retryable flag', () => {
  const kinds = ERROR_KINDS.map((e) => e.kind);
  assert.is(new Set(kinds).size, kinds.length, 'each kind once');
  const codes = new Set<number>(Object.values(ErrorCode));
  for (const e of ERROR_KINDS) {
    assert.ok(codes.has(e.code), `${e.kind}'s code ${e.code} is a DIPS error code`);
    assert.ok(section.includes(`| ${e.kind} | ${e.code} | ${retryableText(e.retryable)} | ${e.meaning} |`), `docs/errors.md row for ${e.kind} is the registry's`);
  }
  // every code has a kind, and a code's default kind is one of its own
  for (const code of codes) assert.is(ERROR_KINDS.find((e) => e.kind === kindOfCode(code))?.code, code, `kindOfCode(${code})`);
  assert.equal([isRetryable('NO_WORKER'), isRetryable('BUSY'), isRetryable('UNAVAILABLE'), isRetryable('BAD_REQUEST'), isRetryable('TIMEOUT'), isRetryable('TIMEOUT', true)], [true, true, true, false, false, true]);
});

test('every Gearman ERROR name and every exit code is in docs/errors.md', () => {
  assert.equal(new Set(Object.keys(GEARMAN_ERRORS)), new Set(Object.values(ErrorName)));
  for (const name of Object.values(ErrorName)) assert.ok(rows.has(name), `docs/errors.md lists ${name}`);
  assert.equal(new Set(Object.keys(EXIT_CODES).map(Number)), new Set(Object.values(ExitCode)));
  for (const [code, meaning] of Object.entries(EXIT_CODES)) assert.ok(section.includes(`| ${code} | ${meaning} |`), `docs/errors.md lists exit ${code}`);
});

test.run();
