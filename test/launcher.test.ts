/** `npm start` (the mesh launcher) as a newcomer runs it: up, a gateway SIGKILLed comes back, SIGTERM stops all. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './harness.js';
import { runPhp } from './php.js';

const MESH = fileURLToPath(new URL('../src/control/mesh.js', import.meta.url));
let mesh: ChildProcess;
let output = '';

const gatewayPid = (port: number): number => {
  const r = spawnSync('gearadmin', ['-h', '127.0.0.1', '-p', String(port), '--getpid'], { encoding: 'utf8', timeout: 5000 });
  return Number(/(\d+)/.exec(r.stdout)?.[1] ?? 0);
};

test.before(async () => {
  mesh = spawn(process.execPath, [MESH, '--workers', '1'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DIPS_LOG_LEVEL: 'warn' } });
  mesh.stdout!.on('data', (d) => (output += d));
  mesh.stderr!.on('data', (d) => (output += d));
  await waitFor(() => output.includes('DIPS mesh is up'), 60_000, `the mesh to come up:\n${output}`);
});
test.after(async () => {
  if (mesh.exitCode === null) mesh.kill('SIGKILL');
});

test('a gateway killed with SIGKILL is started again and serves the same port', async () => {
  const before = gatewayPid(4730);
  assert.ok(before > 0, output);
  process.kill(before, 'SIGKILL');
  await waitFor(() => gatewayPid(4730) > 0 && gatewayPid(4730) !== before, 15_000, 'the gateway to come back');
  assert.match(output, /gateway :4730 exited \(SIGKILL\); starting it again/);
  const php = await runPhp(`$c = new GearmanClient(); $c->addServer('127.0.0.1', 4730); $c->setTimeout(10000); echo $c->doNormal('echo', 'back');`);
  assert.is(php.stdout.toString(), 'back', php.stderr);
});

test('SIGTERM stops everything and exits 0', async () => {
  const exited = new Promise<number | null>((resolve) => mesh.once('exit', (code) => resolve(code)));
  mesh.kill('SIGTERM');
  assert.is(await exited, 0);
  assert.match(output, /stopped/);
});

test.run();
