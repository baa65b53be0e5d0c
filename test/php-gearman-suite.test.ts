/**
 * php-gearman's own test suite (test/php-gearman, unchanged) against a real
 * gearmand and against a DIPS gateway: a test gearmand passes and the gateway
 * does not is a difference a PHP shop would meet, so it fails here.
 *
 * The suite talks to `localhost:4730` (some of its tests have that written in),
 * so each server runs alone in a network namespace of its own (test/netns.ts),
 * the gateway with its own nats-server there; PHP's run-tests.php runs the
 * suite inside that namespace. Skips with one line where namespaces or
 * run-tests.php (Debian's php8.2-dev) are missing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startLocalProcess } from '../src/control/local.js';
import { startNode } from '../src/control/nats-node.js';
import { projectRoot } from '../src/shared/config.js';
import { waitFor } from './harness.js';
import { netnsUnavailable, TestNet, type TestHost } from './netns.js';

const SUITE = path.join(projectRoot, 'test', 'php-gearman', 'tests');

function runTestsScript(): string | undefined {
  const build = '/usr/lib/php';
  if (!existsSync(build)) return undefined;
  for (const api of readdirSync(build)) {
    const file = path.join(build, api, 'build', 'run-tests.php');
    if (existsSync(file)) return file;
  }
  return undefined;
}

const runTests = runTestsScript();
const unavailable = netnsUnavailable() ?? (runTests ? undefined : 'PHP\'s run-tests.php is missing (apt-get install php8.2-dev)');

interface SuiteRun {
  /** Each test's result: PASSED, FAILED, SKIPPED, BORKED… */
  results: Map<string, string>;
  /** What a failed test printed against what it expected. */
  diffs: Map<string, string>;
}

/** Runs the suite on `host`, against its localhost:4730. */
function runSuite(host: TestHost): Promise<SuiteRun> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dips-phpt-'));
  cpSync(SUITE, dir, { recursive: true });
  const listing = path.join(dir, 'results.txt');
  return new Promise((resolve, reject) => {
    const [bin, ...args] = [...host.prefix, 'php', runTests!, '-q', '-W', listing, dir];
    const child = spawn(bin, args, { cwd: dir, env: { ...process.env, NO_INTERACTION: '1', TEST_PHP_EXECUTABLE: '/usr/bin/php' }, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', () => {
      const run: SuiteRun = { results: new Map(), diffs: new Map() };
      for (const line of existsSync(listing) ? readFileSync(listing, 'utf8').split('\n') : []) {
        const [status, file] = line.split('\t');
        if (!file) continue;
        const name = path.basename(file);
        run.results.set(name, status);
        const diff = path.join(dir, name.replace(/\.phpt$/, '.diff'));
        if (existsSync(diff)) run.diffs.set(name, readFileSync(diff, 'utf8').slice(0, 2000));
      }
      rmSync(dir, { recursive: true, force: true });
      resolve(run);
    });
  });
}

const gearmanPing = (host: TestHost) => () => spawnSync(host.prefix[0], [...host.prefix.slice(1), 'gearadmin', '-h', '127.0.0.1', '-p', '4730', '--getpid'], { encoding: 'utf8' }).status === 0;

test('php-gearman\'s own tests: the gateway passes every one gearmand passes', async () => {
  if (unavailable) return console.log(`skipped: ${unavailable}`);
  const net = new TestNet();
  const stops: Array<() => unknown> = [];
  try {
    const gearmandHost = net.host('phpt-gearmand');
    const gearmand = spawn(gearmandHost.prefix[0], [...gearmandHost.prefix.slice(1), 'gearmand', '-p', '4730', '-L', '127.0.0.1', '--log-file', 'none', '-t', '0'], { stdio: 'ignore' });
    stops.push(() => gearmand.kill('SIGKILL'));
    await waitFor(gearmanPing(gearmandHost), 10_000, 'gearmand on its host');

    const dipsHost = net.host('phpt-dips');
    // on its bridge address: the test watches the node's monitoring port from here
    const nats = await startNode({ name: 'phpt', host: dipsHost.address, clientPort: 4222, clusterPort: 6222, httpPort: 8222, routes: [], prefix: dipsHost.prefix });
    stops.push(() => nats.stop('SIGKILL'));
    const data = mkdtempSync(path.join(os.tmpdir(), 'dips-phpt-gateway-'));
    stops.push(() => rmSync(data, { recursive: true, force: true }));
    const gateway = await startLocalProcess('gateway', [`nats://${dipsHost.address}:4222`], { DIPS_GATEWAY_PORT: '4730', DIPS_GATEWAY_SECOND_PORT: '0', DIPS_GATEWAY_DATA_DIR: data }, undefined, dipsHost.prefix);
    stops.unshift(() => gateway.stop('SIGKILL'));

    // one after the other: the suite's tests race a forked worker against its client, as on a quiet machine
    const theirs = await runSuite(gearmandHost);
    const ours = await runSuite(dipsHost);
    const passed = (r: SuiteRun) => [...r.results].filter(([, status]) => status === 'PASSED').map(([name]) => name);
    const failedBoth = [...theirs.results].filter(([name, status]) => status !== 'PASSED' && ours.results.get(name) === status).map(([name, status]) => `${name} ${status}`);
    console.log(`php-gearman's tests: gearmand passes ${passed(theirs).length} of ${theirs.results.size}, the gateway ${passed(ours).length} of ${ours.results.size}; the same on both: ${failedBoth.join(', ') || 'none'}`);
    assert.ok(passed(theirs).length >= 60, `gearmand passes the suite (${passed(theirs).length} of ${theirs.results.size}): the harness works`);
    const missed = passed(theirs).filter((name) => ours.results.get(name) !== 'PASSED');
    for (const name of missed) console.log(`the gateway, ${name}: ${ours.results.get(name)}\n${ours.diffs.get(name) ?? ''}`);
    assert.equal(missed, [], 'tests gearmand passes and the gateway does not');
  } finally {
    for (const stop of stops) await stop();
    net.cleanup();
  }
});

test.run();
