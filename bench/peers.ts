/**
 * The anchors: gearmand (gearman-job-server) with PHP workers, and PHP
 * callers for both gearmand and the DIPS gateway, all on this machine.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Fonts } from '../src/services/image/fonts.js';
import { portOpen, sleep } from '../src/control/nats-node.js';
import { stopChild } from '../src/control/spawn.js';

export const anchorsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/anchors');

export function gearmandPath(): string | undefined {
  for (const bin of ['gearmand', '/usr/sbin/gearmand']) if (spawnSync(bin, ['--version']).status === 0) return bin;
  return undefined;
}

export function phpHas(ext: string): boolean {
  return spawnSync('php', ['-r', `exit(extension_loaded('${ext}') ? 0 : 1);`]).status === 0;
}

export function versionOf(cmd: string, args = ['--version']): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return (r.stdout || r.stderr || '').trim().split('\n')[0] || 'missing';
}

/** gearmand on `port`; `extraArgs` for a persistent queue (`-q libsqlite3 --libsqlite3-db=…`). */
export async function startGearmand(port: number, extraArgs: string[] = []): Promise<ChildProcess> {
  const bin = gearmandPath();
  if (!bin) throw new Error('gearmand is missing: apt-get install gearman-job-server');
  const child = spawn(bin, ['--listen=127.0.0.1', `--port=${port}`, '--threads=2', '--log-file=none', '--verbose=ERROR', ...extraArgs], { stdio: 'ignore' });
  for (let i = 0; i < 200 && !(await portOpen('127.0.0.1', port)); i++) await sleep(25);
  return child;
}

export function startPhpWorkers(port: number, count: number): ChildProcess[] {
  return Array.from({ length: count }, () => spawn('php', [path.join(anchorsDir, 'worker.php'), String(port), Fonts.monoBold.file], { stdio: 'ignore' }));
}

export const stopAll = (children: ChildProcess[]) => Promise.all(children.map((c) => stopChild(c, 'SIGKILL', 2000)));

/** Run one of bench/anchors' PHP scripts and parse the JSON it prints. */
export function phpJson<T>(script: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn('php', [path.join(anchorsDir, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('close', (code) => {
      try {
        resolve(JSON.parse(out) as T);
      } catch {
        reject(new Error(`php ${script} failed (${code}): ${err || out}`));
      }
    });
  });
}

/**
 * Run `callers` PHP processes, each making `calls` calls, all starting at one
 * moment (after every PHP process is up); returns all latencies (ms), failures,
 * and the seconds from the first call's start to the last one's end.
 */
export async function phpCallers(port: number, fn: string, payload: Uint8Array, callers: number, calls: number): Promise<{ latencies: number[]; failed: number; seconds: number }> {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'dips-bench-')), 'payload');
  writeFileSync(file, payload);
  // PHP's hrtime and Node's both read CLOCK_MONOTONIC; a PHP process takes ~70 ms of CPU to start
  const startAt = process.hrtime.bigint() + BigInt((300 + 50 * callers) * 1e6);
  const results = await Promise.all(
    Array.from({ length: callers }, () =>
      phpJson<{ latencies: number[]; failed: number; start: number; end: number }>('client.php', [String(port), fn, file, String(calls), String(startAt)]),
    ),
  );
  const seconds = (Math.max(...results.map((r) => r.end)) - Math.min(...results.map((r) => r.start))) / 1e9;
  return { latencies: results.flatMap((r) => r.latencies), failed: results.reduce((n, r) => n + r.failed, 0), seconds };
}
