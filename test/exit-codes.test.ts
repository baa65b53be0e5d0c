/** Exit codes the help texts and the README promise, checked on the paths that once broke them. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Executables, type Role } from '../src/control/spawn.js';

const MESH = fileURLToPath(new URL('../src/control/mesh.js', import.meta.url));

function run(role: Role, args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [Executables[role], ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, DIPS_CONFIG: '', ...env } });
}

test('a worker told to serve an unknown function exits 78 with one line naming the key, no stack trace', () => {
  const r = run('worker', [], { DIPS_WORKER_FUNCTIONS: 'ecard,nosuchfunction' });
  assert.is(r.status, 78, r.stderr);
  assert.match(r.stderr, /^invalid configuration: worker\.functions: unknown function "nosuchfunction"; known: .*ecard/);
  assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  assert.match(run('worker', ['--help']).stdout, /78 bad configuration/);
});

test('dips call with a --timeout that is not a number exits 64 (usage) before calling anything', () => {
  const r = run('cli', ['call', 'echo', '--timeout', 'abc']);
  assert.is(r.status, 64, r.stderr);
  assert.match(r.stderr, /--timeout takes a whole number of milliseconds above 0, got "abc"/);
  assert.match(run('cli', ['call', '--help']).stdout, /64 bad usage/);
});

test('npm start without a runnable nats-server exits 69 with one line saying so', () => {
  const r = spawnSync(process.execPath, [MESH], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, DIPS_CONFIG: '', DIPS_NATS_SERVER_BIN: '/nonexistent/nats-server' } });
  assert.is(r.status, 69, r.stderr + r.stdout);
  assert.match(r.stderr, /^DIPS_NATS_SERVER_BIN=\/nonexistent\/nats-server does not run\n$/);
});

test('every command exits 64 (usage) on an unknown option, with one line and no stack trace; --help exits 0', () => {
  for (const role of Object.keys(Executables) as Role[]) {
    const bad = run(role, ['--no-such-option']);
    assert.is(bad.status, 64, `${role}: ${bad.stderr}`);
    assert.match(bad.stderr, /unknown option '--no-such-option'/, role);
    assert.not.match(bad.stderr, /\n\s+at /, `${role}: no stack trace`);
    assert.is(run(role, ['--help']).status, 0, `${role} --help`);
  }
});

test.run();
