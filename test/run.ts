/**
 * Runs every *.test.js file in its own Node process (so a file's cluster and
 * workers can never leak into the next) and judges each by its counts, not
 * just its exit code: uvu 0.5 swallows an exception thrown by a before hook
 * and exits 0 with "Passed: 0", so a file passes only when every test it
 * declared passed. Prints "N passed, N failed" last.
 *
 * The fast tier (test/fast: no server, seconds) runs first, then the files
 * that drive real nats-server, PHP, Perl and gearman-tools.
 *
 *   node dist/test/run.js [pattern]     e.g. node dist/test/run.js gateway
 *   node dist/test/run.js --fast        the fast tier only (npm run test:fast)
 */
import { spawn } from 'node:child_process';
import { Command } from 'commander';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { command, ensurePackages } from '../src/control/debian.js';

const here = path.dirname(fileURLToPath(import.meta.url));

const cli = new Command('run.js')
  .description('Run the test suite: each *.test.js file in its own process, the fast tier first, then the files that drive real nats-server, PHP, Perl and gearman-tools. Exit 0 when every declared test passed, 1 otherwise, 69 when a peer is missing and cannot be installed.')
  .argument('[pattern]', 'only the files whose name contains this, e.g. gateway')
  .option('--fast', 'the fast tier only (test/fast: no servers, seconds)')
  .parse();
const fastOnly = Boolean(cli.opts<{ fast?: boolean }>().fast);
const filter = cli.args[0] as string | undefined;
const list = (dir: string) =>
  readdirSync(path.join(here, dir))
    .filter((f) => f.endsWith('.test.js') && (!filter || f.includes(filter)))
    .sort()
    .map((f) => path.join(dir, f));
// the fast tier (no server, seconds) first; then the real-parts suite
const fast = list('fast');
const slow = fastOnly ? [] : list('.');
const files = [...fast, ...slow];

/** The real peers the slow suite drives; installed here when we are root on Debian, else one line says what to install. */
function ensurePeers(): void {
  try {
    ensurePackages(
      [
        command('nats-server', 'nats-server'),
        command('php8.2-cli', 'php', ['-v']),
        command('php8.2-gearman', 'php', ['-r', 'exit(extension_loaded("gearman") ? 0 : 1);']),
        command('gearman-tools', 'gearadmin', ['--help']),
        command('libgearman-client-perl', 'perl', ['-MGearman::Client', '-e', '1']),
        command('systemd', 'systemd-analyze', ['--version']),
        command('openssl', 'openssl', ['version']),
        command('nginx', 'nginx', ['-v']),
        command('chromium', 'chromium', ['--version']),
        command('golang-go', 'go', ['version']),
        { pkg: 'golang-github-nats-io-go-nats-dev', present: () => existsSync('/usr/share/gocode/src/github.com/nats-io/nats.go/nats.go') },
        command('iproute2', 'ip', ['-V']),
        // PHP's run-tests.php, which runs php-gearman's own test suite (test/php-gearman-suite.test.ts)
        { pkg: 'php8.2-dev', present: () => existsSync('/usr/lib/php/20220829/build/run-tests.php') },
      ],
      (line) => process.stdout.write(`${line}\n`),
    );
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(69);
  }
}

const FILE_TIMEOUT_MS = Number(process.env.DIPS_TEST_FILE_TIMEOUT_MS) || 4 * 60_000;
let passed = 0;
let failed = 0;
const failures: string[] = [];

for (const file of files) {
  if (file === slow[0]) ensurePeers();
  const started = Date.now();
  const { code, output } = await runFile(path.join(here, file));
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? NaN);
  const ok = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? NaN);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  // uvu's Total counts the tests that ran, not the skipped ones (test.skip: an
  // optional suite, or a property that records a known bug); a file whose every
  // test is skipped counts as good
  const good = code === 0 && Number.isFinite(total) && (total > 0 ? ok === total : skipped > 0);
  passed += Number.isFinite(ok) ? ok : 0;
  const bad = Number.isFinite(total) ? total - (Number.isFinite(ok) ? ok : 0) : 1;
  failed += good ? 0 : Math.max(1, bad);
  process.stdout.write(`${good ? 'ok  ' : 'FAIL'} ${file} (${Number.isFinite(ok) ? ok : 0}/${Number.isFinite(total) ? total : '?'}, ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  if (!good) {
    failures.push(file);
    process.stdout.write(plain.split('\n').map((l) => `    ${l}`).join('\n') + '\n');
  }
}

if (failures.length) process.stdout.write(`\nfailed files: ${failures.join(', ')}\n`);
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exitCode = failed === 0 && files.length > 0 ? 0 : 1;

function runFile(file: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    // Its own process group, so a file that hangs is killed with every server and worker it started.
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' }, detached: true });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      output += `\n(killed after ${FILE_TIMEOUT_MS / 1000} s)`;
      killGroup(child.pid);
    }, FILE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      killGroup(child.pid); // leftovers of a file that failed before its after hook
      resolve({ code, output });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
