/**
 * The package as a TypeScript user gets it: `npm pack`, installed into a fresh
 * project with its own strict tsconfig, the README's TypeScript example
 * type-checks (typed results and parameters) and runs against a real cluster.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../src/shared/config.js';
import { startCluster, startWorker, type Cluster, type Proc } from './harness.js';
import { pack, readmeExample, run } from './packing.js';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const app = mkdtempSync(path.join(os.tmpdir(), 'dips-user-'));
let cluster: Cluster;
let worker: Proc;

test.before(async () => {
  cluster = await startCluster();
  worker = await startWorker(cluster, { DIPS_WORKER_FUNCTIONS: 'ecard,info,thumbnail,delay' });
});
test.after(async () => {
  await worker?.stop();
  await cluster?.stop();
});

test('npm pack holds what runs (dist/src, config, systemd, README) and no tests', () => {
  const { files } = pack(projectRoot, app);
  assert.ok(files.includes('dist/src/client/index.d.ts') && files.includes('dist/src/client/index.js') && files.includes('config/default.json'));
  assert.not.ok(files.some((f) => f.startsWith('dist/test/') || f.startsWith('dist/bench/') || f.startsWith('test/')), 'no tests or bench in the package');
});

test("the README's TypeScript example, in a fresh strict project with the packed package: type-checks and runs against the mesh", () => {
  const tarball = readdirSync(app).find((f) => f.endsWith('.tgz'))!;
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'dips-user', private: true, type: 'module', dependencies: { dips: `file:./${tarball}` }, devDependencies: { '@types/node': '^20.19.0' } }));
  writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out', skipLibCheck: false, types: ['node'] }, files: ['app.ts'] }));
  writeFileSync(path.join(app, 'app.ts'), readmeExample());
  const install = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], app);
  assert.is(install.status, 0, install.stderr);
  const check = run(process.execPath, [tsc, '-p', '.'], app);
  assert.is(check.status, 0, check.stdout + check.stderr);
  const out = run(process.execPath, [path.join(app, 'out', 'app.js'), ...cluster.servers], app);
  assert.is(out.status, 0, out.stderr);
  const result = JSON.parse(out.stdout.trim().split('\n').pop()!);
  assert.ok(result.card > 1000, `a PNG card of ${result.card} bytes`);
  assert.equal(
    { width: result.width, format: result.format, streamed: result.streamed, refused: result.refused },
    { width: 200, format: 'webp', streamed: ['status', 'status', 'status', 'result'], refused: 'ecard: pData has 2 values, expected 80' },
  );
});

test.run();
