/**
 * Real parts for tests: a two-node nats-server cluster on free ports, worker
 * and gateway processes started from the built executables, and clients.
 * Nothing here imitates NATS or Gearman.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, symlinkSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { connect, createInbox } from 'nats';
import { DipsClient } from '../src/client/index.js';
import { loadConfig, projectRoot } from '../src/shared/config.js';
import { startLocalCluster, startLocalProcess, type LocalCluster, type LocalProcess } from '../src/control/local.js';
import { Executables, type Role } from '../src/control/spawn.js';

export type Cluster = LocalCluster;
export type Proc = LocalProcess;
export const startCluster = startLocalCluster;

/** Start a DIPS executable against a cluster (or a server list) and wait until it is ready. */
export function startProcess(role: Role, cluster: Cluster | string[], env: Record<string, string> = {}, readyText?: string): Promise<Proc> {
  return startLocalProcess(role, Array.isArray(cluster) ? cluster : cluster.servers, env, readyText);
}

export const startWorker = (cluster: Cluster | string[], env: Record<string, string> = {}) => startProcess('worker', cluster, env);

export function clientFor(cluster: Cluster | string[], timeoutMs = 10_000): DipsClient {
  const servers = Array.isArray(cluster) ? cluster : cluster.servers;
  return new DipsClient({ config: loadConfig({ argv: [], env: {}, overrides: { nats: { servers } } }), timeoutMs });
}

/** A process's resident memory in bytes, from /proc (VmRSS). */
export function rss(p: Proc): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The seed's 80 card values, exactly as its PHP client sends them (line breaks from the slide included). */
export const SEED_PDATA =
  '61, 61, 58, 00, 25, 08, 73, 03, 52, 53, 34, 84, 03, 81, 52, 17, 96, 30, 57, 23, 5\n5, 08, 03, 84, 08, 47, 27, 02, 68, 17, 77, 68, 96, 86, 88, 21, 08, 14, 64, 39, 55,\n80, 71, 00, 40, 51, 22, 89, 51, 77, 34, 59, 51, 77, 86, 86, 96, 42, 71, 11, 62, 89\n, 63, 35, 07, 55, 71, 94, 03, 80, 74, 68, 93, 11, 67, 67, 44, 42, 87, 68';

export const SHARED_FIXTURES = path.resolve(process.cwd(), '..', 'shared', 'fixtures');
export const hasSharedFixtures = existsSync(SHARED_FIXTURES);

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/**
 * The example bundle of docs/functions.md (examples/functions/hello) built as
 * its author would (`npm run build`: tsc), in a copy where `dips` is a link to
 * this checkout (what `npm install` of its file:../../.. dependency makes).
 * The links go once it is built: a bundle is deployed as its JavaScript
 * alone, and the worker supplies `dips/function`. Returns the bundle folder.
 */
export function buildExampleBundle(): string {
  const example = path.join(projectRoot, 'examples', 'functions', 'hello');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dips-bundle-hello-'));
  cpSync(example, dir, { recursive: true, filter: (src) => !/[/\\](dist|node_modules)$/.test(src) });
  const modules = path.join(dir, 'node_modules');
  mkdirSync(modules);
  symlinkSync(projectRoot, path.join(modules, 'dips'));
  symlinkSync(path.join(projectRoot, 'node_modules', '@types'), path.join(modules, '@types'));
  const built = spawnSync(process.execPath, [tsc, '-p', '.'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  if (built.status !== 0) throw new Error(`the example bundle does not build: ${built.stdout}${built.stderr}`);
  unlinkSync(path.join(modules, 'dips'));
  unlinkSync(path.join(modules, '@types'));
  rmdirSync(modules);
  return dir;
}

/** Debian's chromium (or another Chrome on the usual paths), for puppeteer-core. */
export function chromiumPath(): string {
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) if (existsSync(p)) return p;
  throw new Error('chromium is missing: apt-get install chromium');
}

/** Jobs each worker process has served so far, by host and pid, from the NATS service API ($SRV.STATS). */
export async function servedByWorker(servers: string[]): Promise<Map<string, number>> {
  const nc = await connect({ servers });
  const inbox = createInbox();
  const sub = nc.subscribe(inbox);
  setTimeout(() => sub.unsubscribe(), 500);
  nc.publish('$SRV.STATS.dips', undefined, { reply: inbox });
  const counts = new Map<string, number>();
  for await (const m of sub) {
    const s = m.json<{ metadata: { pid: string; host: string }; endpoints: Array<{ num_requests: number }> }>();
    const key = `${s.metadata.host}/${s.metadata.pid}`;
    counts.set(key, (counts.get(key) ?? 0) + s.endpoints.reduce((n, e) => n + e.num_requests, 0));
  }
  await nc.close();
  return counts;
}

/** What a dipsctl run printed and its exit code; `json` is its parsed output when it was run with --json. */
export interface DipsctlRun<T> {
  code: number | null;
  out: string;
  err: string;
  json?: T;
}

/** Run the real dipsctl against `cluster` (no config file), as an operator would. */
export function runDipsctl<T>(cluster: Cluster | string[], ...args: string[]): Promise<DipsctlRun<T>> {
  const servers = Array.isArray(cluster) ? cluster : cluster.servers;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [Executables.ctl, '--servers', servers.join(','), ...args], { env: { ...process.env, DIPS_CONFIG: '' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      let json: T | undefined;
      try {
        json = args.includes('--json') ? (JSON.parse(out) as T) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code, out, err, json });
    });
  });
}
