/** Starting DIPS's own executables as child processes (launcher, agent, tests). */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const Executables = {
  worker: fileURLToPath(new URL('../services/main.js', import.meta.url)),
  gateway: fileURLToPath(new URL('../gateway/main.js', import.meta.url)),
  http: fileURLToPath(new URL('../gateway/http/main.js', import.meta.url)),
  agent: fileURLToPath(new URL('./agent/main.js', import.meta.url)),
  dashboard: fileURLToPath(new URL('./dashboard/main.js', import.meta.url)),
  ctl: fileURLToPath(new URL('./dipsctl.js', import.meta.url)),
  cli: fileURLToPath(new URL('../client/cli.js', import.meta.url)),
} as const;

export type Role = keyof typeof Executables;

export interface SpawnOptions {
  args?: string[];
  env?: Record<string, string | undefined>;
  /** 'inherit' shows the child's logs; 'pipe' keeps them for the caller. */
  stdio?: 'inherit' | 'pipe' | 'ignore';
  /** A command that runs it, e.g. `ip netns exec <host>` for a process on a test's other machine. */
  prefix?: string[];
}

export function spawnRole(role: Role, options: SpawnOptions = {}): ChildProcess {
  const [bin, ...args] = [...(options.prefix ?? []), process.execPath, Executables[role], ...(options.args ?? [])];
  return spawn(bin, args, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', options.stdio ?? 'inherit', options.stdio ?? 'inherit'],
  });
}

/** Wait for a child to exit; SIGKILL it if it takes longer than `graceMs`. */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill(signal);
  });
}
