/**
 * The caller-only package (client/, dips-client) as a service gets it: built
 * and packed from the same sources as the dips package, installed alone into
 * an empty folder, measured (packages, bytes on disk), free of the workers'
 * libraries; the README's TypeScript example type-checks against it and runs,
 * and a plain ESM script calls a real cluster with it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../src/shared/config.js';
import { startCluster, startWorker, type Cluster, type Proc } from './harness.js';
import { pack, readmeExample, run } from './packing.js';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const clientDir = path.join(projectRoot, 'client');
const app = mkdtempSync(path.join(os.tmpdir(), 'dips-caller-'));
/** What the workers, gateways and tools need and a caller must not get. */
const HEAVY = ['sharp', 'lmdb', 'fastify', 'pino', 'pino-pretty', 'convict', 'commander', 'prom-client', 'tar', 'sockopt', 'dejavu-fonts-ttf', 'uplot'];
const HEAVY_SCOPES = ['@img/', '@opentelemetry/', '@fastify/'];

let cluster: Cluster;
let worker: Proc;
let tarball: string;

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

test.before(async () => {
  cluster = await startCluster();
  worker = await startWorker(cluster, { DIPS_WORKER_FUNCTIONS: 'ecard,echo,info,thumbnail,delay' });
});
test.after(async () => {
  await worker?.stop();
  await cluster?.stop();
  rmSync(app, { recursive: true, force: true });
});

test('npm pack of client/ builds it and holds the bundle, its declarations and the README, nothing else', () => {
  const packed = pack(clientDir, app);
  tarball = packed.tarball;
  assert.ok(packed.files.includes('dist/index.js') && packed.files.includes('dist/types/client/client.d.ts') && packed.files.includes('README.md'), packed.files.join(', '));
  assert.equal(packed.files.filter((f) => !f.startsWith('dist/') && f !== 'README.md' && f !== 'package.json'), []);
  // the same ranges as the dips package, so the two never disagree on nats or msgpack
  const own = readJson(path.join(clientDir, 'package.json')).dependencies as Record<string, string>;
  const root = readJson(path.join(projectRoot, 'package.json')).dependencies as Record<string, string>;
  assert.equal(Object.keys(own).sort(), ['@msgpack/msgpack', 'nats']);
  for (const [name, range] of Object.entries(own)) assert.is(range, root[name], `${name}: the dips package asks for ${root[name]}`);
});

test('installed alone into an empty folder: nats and @msgpack/msgpack with their own dependencies, none of the workers\' libraries', () => {
  const install = run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', tarball], app);
  assert.is(install.status, 0, install.stderr);
  // npm's record of what it installed: one entry per package folder, nested ones included
  const installed = Object.keys(readJson(path.join(app, 'node_modules', '.package-lock.json')).packages)
    .filter((p) => p.startsWith('node_modules/'))
    .map((p) => p.slice(p.lastIndexOf('node_modules/') + 'node_modules/'.length));
  const kib = Number(run('du', ['-sk', 'node_modules'], app).stdout.split('\t')[0]);
  console.log(`  dips-client installed: ${installed.length} packages, ${(kib / 1024).toFixed(1)} MiB in node_modules (${installed.sort().join(', ')})`);
  assert.ok(installed.includes('dips-client') && installed.includes('nats') && installed.includes('@msgpack/msgpack'), installed.join(', '));
  assert.equal(installed.filter((name) => HEAVY.includes(name) || HEAVY_SCOPES.some((scope) => name.startsWith(scope))), []);
});

test("the README's TypeScript example with `from 'dips-client'`: type-checks strictly against the shipped declarations and runs against the mesh", () => {
  const example = readmeExample().replace("from 'dips';", "from 'dips-client';");
  assert.ok(example.includes("from 'dips-client';"), 'the example imports the client');
  writeFileSync(path.join(app, 'app.ts'), example);
  writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out', skipLibCheck: false, types: ['node'], typeRoots: [path.join(projectRoot, 'node_modules', '@types')] },
      files: ['app.ts'],
    }),
  );
  // the package.json npm made for the folder says nothing of modules: the example's top-level await needs ESM
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ ...readJson(path.join(app, 'package.json')), type: 'module' }));
  const check = run(process.execPath, [tsc, '-p', '.'], app);
  assert.is(check.status, 0, check.stdout + check.stderr);
  const out = run(process.execPath, [path.join('out', 'app.js'), ...cluster.servers], app);
  assert.is(out.status, 0, out.stderr);
  const result = JSON.parse(out.stdout.trim().split('\n').pop()!);
  assert.equal(
    { width: result.width, format: result.format, streamed: result.streamed, refused: result.refused },
    { width: 200, format: 'webp', streamed: ['status', 'status', 'status', 'result'], refused: 'ecard: pData has 2 values, expected 80' },
  );
});

test('a plain ESM script in that folder imports dips-client and calls the mesh: echo, ecard, a refused call', () => {
  writeFileSync(
    path.join(app, 'call.mjs'),
    `import { DipsClient, CallError } from 'dips-client';
const dips = new DipsClient({ servers: process.argv.slice(2), timeoutMs: 20000 });
const echoed = await dips.call('echo', new TextEncoder().encode('hello, dips'));
const card = await dips.call('ecard', { pSN: '1234567890', pData: Array.from({ length: 80 }, (_, i) => i) });
let refused = '';
try {
  await dips.call('ecard', { pSN: '1', pData: '1,2' });
} catch (err) {
  if (err instanceof CallError) refused = err.kind + ': ' + err.message;
}
console.log(JSON.stringify({ echo: new TextDecoder().decode(echoed), card: card.length, png: Buffer.from(card.subarray(1, 4)).toString(), refused }));
await dips.close();
`,
  );
  const out = run(process.execPath, ['call.mjs', ...cluster.servers], app);
  assert.is(out.status, 0, out.stderr);
  const result = JSON.parse(out.stdout.trim().split('\n').pop()!);
  assert.ok(result.card > 1000, `a PNG card of ${result.card} bytes`);
  assert.equal({ echo: result.echo, png: result.png, refused: result.refused }, { echo: 'hello, dips', png: 'PNG', refused: 'BAD_REQUEST: ecard: pData has 2 values, expected 80' });
});

test.run();
