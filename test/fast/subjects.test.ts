/** Function names and subjects: tokens, the built-in names, which reply and room subjects are accepted. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { functionFromToken, functionToken, isValidFunctionName } from '../../src/mesh/subjects.js';
import { BUILTIN_FUNCTIONS, legacyMayServe } from '../../src/shared/builtin-functions.js';
import { allFunctions } from '../../src/services/functions/index.js';
import { loadConfig } from '../../src/shared/config.js';
import { isInboxSubject, workerOfDirectSubject } from '../../src/mesh/subjects.js';

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

test.run();
