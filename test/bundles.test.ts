/**
 * Bundles (docs/functions.md): the example bundle of examples/functions/hello,
 * built as its author would, served by a real worker to native callers and to
 * PHP through the Gearman gateway, beside the built-in functions; bad bundles
 * stop the worker with exit code 78 and one line naming the file and the problem.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from 'nats';
import { CallError, type JobEvent } from '../src/client/index.js';
import { freePort } from '../src/control/nats-node.js';
import { Executables } from '../src/control/spawn.js';
import { projectRoot } from '../src/shared/config.js';
import { buildExampleBundle, clientFor, startCluster, startProcess, startWorker, type Cluster, type Proc } from './harness.js';
import { runPhp } from './php.js';

const EXAMPLE = path.join(projectRoot, 'examples', 'functions', 'hello');

let cluster: Cluster;
let worker: Proc;
let gateway: Proc;
let port: number;

test.before(async () => {
  const bundle = buildExampleBundle();
  cluster = await startCluster();
  worker = await startWorker(cluster, { DIPS_WORKER_BUNDLE_DIR: bundle });
  port = await freePort();
  gateway = await startProcess('gateway', cluster, { DIPS_GATEWAY_PORT: String(port) }, '"msg":"gateway ready"');
});
test.after(async () => {
  await Promise.all([gateway, worker].filter(Boolean).map((p) => p.stop()));
  await cluster?.stop();
});

test('a native caller gets the bundle functions (values, bytes, status events, their errors and codes) and the built-in ones', async () => {
  assert.match(worker.logs(), /"bundle":"hello@1\.0\.0"/, 'the ready line names the bundle and its version');
  const dips = clientFor(cluster);
  try {
    const events: JobEvent[] = [];
    assert.equal(await dips.call('hello', { name: 'Ada', lang: 'fr', times: 2 }, { onEvent: (e) => events.push(e) }), { greeting: 'Bonjour, Ada! Bonjour, Ada!', lang: 'fr' });
    assert.equal(events.map((e) => `${e.kind} ${e.numerator}/${e.denominator}`), ['status 1/2', 'status 2/2']);
    assert.equal(Buffer.from((await dips.call('reverse', Buffer.from('abc'))) as Uint8Array).toString(), 'cba');
    const refused = async (fn: string, input: Record<string, unknown> | Uint8Array) => {
      const err = await dips.call(fn, input).then(() => undefined, (e: unknown) => e);
      assert.instance(err, CallError);
      return { code: (err as CallError).code, message: (err as CallError).message };
    };
    // Params in a bundle words its errors as in a built-in function
    assert.equal(await refused('hello', { name: 'Ada', times: 9 }), { code: 400, message: 'hello: times must be an integer from 1 to 5, got 9' });
    assert.equal(await refused('hello', { name: 'Ada', lnag: 'de' }), { code: 400, message: 'hello: unknown parameter "lnag"; did you mean lang? (it takes lang, name, times)' });
    // the bundle's DipsError is the runtime's (the worker resolves dips/function to itself): its code arrives, not a 500
    assert.equal(await refused('reverse', new Uint8Array(70_000)), { code: 413, message: 'reverse: the body is 70000 bytes, at most 65536' });
    assert.equal(Buffer.from((await dips.call('echo', Buffer.from('built-in'))) as Uint8Array).toString(), 'built-in');
    assert.is(await dips.call('delay', { ms: 1, value: 'still here' }), 'still here');
  } finally {
    await dips.close();
  }
});

test('discovery lists the bundle functions with their description and idempotence, as it does the built-in ones', async () => {
  const nc = await connect({ servers: cluster.servers });
  try {
    const infos: Array<{ description: string; metadata: Record<string, string> }> = [];
    for await (const m of await nc.requestMany('$SRV.INFO.dips', undefined, { maxWait: 500 })) infos.push(m.json());
    const hello = infos.find((i) => i.metadata.function === 'hello');
    assert.ok(hello, `hello among ${infos.map((i) => i.metadata.function).join(', ')}`);
    assert.is(hello!.metadata.idempotent, 'true');
    assert.match(hello!.description, /^Greets name/);
    assert.ok(infos.some((i) => i.metadata.function === 'ecard'), 'the built-in functions are served too');
  } finally {
    await nc.close();
  }
});

test('PHP through the Gearman gateway: the bundle functions, their errors as exceptions, and a built-in one', async () => {
  const php = await runPhp(`
    $c = new GearmanClient(); $c->addServer('127.0.0.1', ${port});
    $out = [];
    $out[] = unserialize($c->doNormal('hello', serialize(['name' => 'Grace', 'lang' => 'de'])));
    $out[] = $c->doNormal('reverse', 'stressed');
    $out[] = $c->doNormal('echo', 'built-in');
    $msgs = [];
    $c->setExceptionCallback(function ($t) use (&$msgs) { $msgs[] = $t->data(); });
    $c->addTask('hello', serialize(['name' => '42']));
    $c->runTasks();
    $out[] = $msgs;
    echo json_encode($out);`, undefined, 20_000);
  assert.is(php.code, 0, `${php.stderr}\n--- gateway logs:\n${gateway.logs().slice(-3000)}`);
  assert.equal(JSON.parse(php.stdout.toString()), [
    { greeting: 'Hallo, Grace!', lang: 'de' },
    'desserts',
    'built-in',
    ['hello: name must be 1 to 40 letters, got "42"'],
  ]);
});

test('docs/functions.md shows the example bundle as it is in examples/functions/hello', () => {
  const doc = readFileSync(path.join(projectRoot, 'docs', 'functions.md'), 'utf8');
  for (const file of ['src/index.ts', 'dips-bundle.json', 'package.json', 'tsconfig.json']) {
    assert.ok(doc.includes(readFileSync(path.join(EXAMPLE, file), 'utf8')), `docs/functions.md holds ${file} verbatim`);
  }
});

/** A bundle of one .mjs entry with `source` in a fresh folder. */
function bundleOf(source: string, manifest: Record<string, unknown> = {}): { dir: string; entry: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dips-bundle-bad-'));
  writeFileSync(path.join(dir, 'dips-bundle.json'), JSON.stringify({ name: 'bad', version: '0.0.1', entry: 'index.mjs', ...manifest }));
  writeFileSync(path.join(dir, 'index.mjs'), source);
  return { dir, entry: path.join(dir, 'index.mjs') };
}

/** A worker started on `dir`: it must stop before it connects anywhere (no NATS server listens on port 1). */
function startOn(dir: string) {
  return spawnSync(process.execPath, [Executables.worker], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, DIPS_CONFIG: '', DIPS_NATS_SERVERS: 'nats://127.0.0.1:1', DIPS_WORKER_BUNDLE_DIR: dir },
  });
}

function assertRefused(dir: string, message: RegExp): void {
  const r = startOn(dir);
  assert.is(r.status, 78, `exit code ${r.status}: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.is(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
}

const escaped = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const fn = (name: string, rest = "idempotent: true, input: 'params'") =>
  `{ name: ${JSON.stringify(name)}, description: 'x', ${rest}, run: async () => valueResult(1) }`;
const head = "import { valueResult } from 'dips/function';\n";

test('a bundle function named like a built-in one: exit 78 naming the file, the function and the clash', () => {
  const { dir, entry } = bundleOf(`${head}export default [${fn('mine')}, ${fn('resize')}];`);
  assertRefused(dir, new RegExp(`^invalid bundle ${escaped(entry)}: function 2 \\("resize"\\): "resize" is a built-in function; a bundle may add functions, not replace DIPS's own`));
});

test('two functions of one name in a bundle: exit 78 naming both places', () => {
  const { dir, entry } = bundleOf(`${head}export const functions = [${fn('twice')}, ${fn('twice')}];`);
  assertRefused(dir, new RegExp(`^invalid bundle ${escaped(entry)}: function 2 \\("twice"\\): "twice" is also the name of function 1 \\("twice"\\) of ${escaped(entry)}`));
});

test('an entry that throws when imported: exit 78 naming the file, the error and where it was thrown', () => {
  const { dir, entry } = bundleOf(`${head}const url = process.env.NO_SUCH_SETTING;\nif (!url) throw new Error('NO_SUCH_SETTING is not set');\nexport default [${fn('late')}];`);
  assertRefused(dir, new RegExp(`^invalid bundle ${escaped(entry)}: importing it failed: NO_SUCH_SETTING is not set \\(at file://${escaped(entry)}:3:\\d+\\)`));
});

test('invalid definitions: exit 78 naming the file, the function and the property', () => {
  let b = bundleOf(`${head}export default [${fn('sloppy', "idempotent: 'yes', input: 'params'")}];`);
  assertRefused(b.dir, new RegExp(`^invalid bundle ${escaped(b.entry)}: function 1 \\("sloppy"\\): idempotent must be true or false .*, got "yes"$`, 'm'));
  b = bundleOf(`${head}export default [${fn('typo', "idempotant: true, input: 'params'")}];`);
  assertRefused(b.dir, /: function 1 \("typo"\): unknown property "idempotant" \(a FunctionDef has name, description, idempotent, input, init, run\)/);
  b = bundleOf("export default [{ name: 'norun', description: 'x', idempotent: true, input: 'params', run: 1 }];");
  assertRefused(b.dir, /: function 1 \("norun"\): run must be a function .*, got 1$/m);
  b = bundleOf(`${head}export const something = [];`);
  assertRefused(b.dir, /: it exports no functions: write `export default \[myFunction, …\]`/);
});

test('a bad manifest or folder: exit 78 naming it', () => {
  const b = bundleOf(`${head}export default [${fn('ok')}];`, { entry: '../elsewhere.mjs' });
  assertRefused(b.dir, new RegExp(`^invalid bundle ${escaped(path.join(b.dir, 'dips-bundle.json'))}: entry "../elsewhere.mjs" must be a path inside the bundle folder`));
  assertRefused(path.join(b.dir, 'missing'), /^invalid bundle: worker\.bundleDir .*missing is not a directory/);
});

test.run();
