/**
 * What every DIPS executable does the same way: meaningful exit codes, config
 * errors reported as one clear line, and SIGTERM/SIGINT turned into a graceful
 * stop (a second signal forces the exit).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, projectRoot } from './config.js';

/** Exit codes live in the one error registry. */
export { ExitCode } from './errors.js';
import { ExitCode } from './errors.js';
import { spawn } from 'node:child_process';
import type { Command } from 'commander';

export const version: string = (() => {
  try {
    return JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')).version as string;
  } catch {
    return '0.0.0';
  }
})();

/** Run an async main; map known failures to exit codes instead of stack traces. */
export function runMain(main: () => Promise<number | void>): void {
  main().then(
    (code) => {
      if (typeof code === 'number') process.exitCode = code;
    },
    (err: unknown) => {
      // commander's own errors (with .exitOverride(): unknown option or command, missing argument) are bad
      // usage, 64 as the help texts say, not commander's 1; it has printed its one line already. --help and --version: 0
      if (err instanceof Error && err.name === 'CommanderError') {
        const commanderExit = (err as Error & { exitCode?: number }).exitCode;
        process.exit(commanderExit === 0 ? ExitCode.ok : ExitCode.usage);
      }
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n`);
        process.exit(ExitCode.config);
      }
      // NATS unreachable, or nats-server not installed: "unavailable", with the one line that says why
      if (err instanceof Error && ['NatsConnectError', 'NatsServerMissing', 'PrerequisiteMissing'].includes(err.name)) {
        process.stderr.write(`${err.message}\n`);
        process.exit(ExitCode.unavailable);
      }
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(ExitCode.software);
    },
  );
}

/**
 * A reader that goes away (`dipsctl watch | head`, `dips call … --out - | head -c 10`)
 * makes the next write to stdout fail with EPIPE; unhandled, that is a stack
 * trace. The output was not wanted any more: end quietly, as `yes | head` does.
 */
export function quietOnClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(ExitCode.ok);
    throw err;
  });
}

/** Call `stop` once on SIGTERM or SIGINT; a second signal exits at once. */
export function onShutdown(stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(ExitCode.failure);
    stopping = true;
    stop(signal).then(
      () => process.exit(ExitCode.ok),
      (err) => {
        process.stderr.write(`shutdown failed: ${String(err)}\n`);
        process.exit(ExitCode.failure);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/**
 * A short hash of the code this process runs (every .js file of dist/src), read
 * once at start: after a rebuild and a rolling reload, status shows which
 * processes run the new code.
 */
export const codeVersion: string = (() => {
  const hash = createHash('sha1');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else if (name.endsWith('.js')) hash.update(readFileSync(file));
    }
  };
  try {
    walk(path.join(projectRoot, 'dist', 'src'));
  } catch {
    return 'unknown';
  }
  return `${version}+${hash.digest('hex').slice(0, 8)}`;
})();

/** `--port` and `--host` of a server's command line as config overrides of its section (gateway, http, dashboard). */
export function addressOverrides(section: string, opts: { port?: string; host?: string }): Record<string, unknown> {
  if (!opts.port && !opts.host) return {};
  return { [section]: { ...(opts.port ? { port: Number(opts.port) } : {}), ...(opts.host ? { host: opts.host } : {}) } };
}

/** Listen, or say in one line why not and exit 69 (the port is taken, the address is wrong). */
export async function listenOrExit<T>(listen: () => Promise<T>, address: { host: string; port: number }, log: { fatal(obj: object, msg: string): void }): Promise<T> {
  try {
    return await listen();
  } catch (err) {
    log.fatal({ err }, 'cannot listen');
    process.stderr.write(`cannot listen on ${address.host}:${address.port}: ${(err as Error).message}\n`);
    process.exit(ExitCode.unavailable);
  }
}

/**
 * Under a Type=notify unit, tell systemd the service is ready, so `systemctl
 * start` returns only once it is (and fails when start-up does). Node has no
 * unix datagram sockets, so systemd's own `systemd-notify` speaks for us
 * (the units set NotifyAccess=all; MAINPID names this process). Without
 * NOTIFY_SOCKET (not under systemd) there is nothing to do.
 */
export function announceReady(): void {
  if (!process.env.NOTIFY_SOCKET) return;
  const child = spawn('systemd-notify', ['--ready', `--pid=${process.pid}`], { stdio: 'ignore' });
  child.on('error', () => undefined); // no systemd-notify: systemd times the start out and says so
}

/**
 * Parse a command's arguments as every DIPS command does: an unknown option or
 * a missing argument is bad usage, exit 64 after commander's one line (not its
 * own exit 1); --help and --version exit 0.
 */
export function parseArgs(program: Command): void {
  program.exitOverride();
  try {
    program.parse();
  } catch (err) {
    if (err instanceof Error && err.name === 'CommanderError') process.exit((err as Error & { exitCode?: number }).exitCode === 0 ? ExitCode.ok : ExitCode.usage);
    throw err;
  }
}
