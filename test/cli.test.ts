/**
 * The command-line tools as a user meets them (issue 29): the real `dips` and
 * `dipsctl` processes against no NATS, a NATS port that never answers, and a
 * real cluster with a worker and a node agent; files, stdin, stdout, a
 * terminal (through script(1)), a pipe closed early, unknown options, bad
 * values and the effective configuration.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CallError, DipsClient, ErrorCode } from '../src/client/index.js';
import { loadConfig } from '../src/shared/config.js';
import { freePort } from '../src/control/nats-node.js';
import { Executables } from '../src/control/spawn.js';
import { startCluster, startProcess, type Cluster, type Proc } from './harness.js';

interface Run {
  code: number | null;
  out: Buffer;
  err: string;
  ms: number;
}

/** Run dips or dipsctl with no config file and no DIPS_NATS_* from the environment; killed after `killAfterMs`. */
function runTool(tool: 'cli' | 'ctl', args: string[], options: { input?: Buffer; env?: Record<string, string>; cwd?: string; killAfterMs?: number } = {}): Promise<Run> {
  const env: Record<string, string | undefined> = { ...process.env, DIPS_CONFIG: '', ...options.env };
  for (const key of Object.keys(env)) if (key.startsWith('DIPS_NATS_') && !options.env?.[key]) delete env[key];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [Executables[tool], ...args], { env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d) => (err += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 20_000);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, out: Buffer.concat(out), err, ms: Date.now() - started });
    });
    child.stdin.end(options.input);
  });
}

const noStack = (r: Run) => assert.not.match(r.err, /\n\s+at /, `no stack trace:\n${r.err}`);

/** A TCP port that accepts connections and never says a word (a NATS node whose process hangs, a wrong service). */
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `nats://127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// ---- 1. NATS unreachable: the caller's deadline holds while connecting ----

test('dips call and dipsctl status with no NATS server at all: exit 69 within the deadline, naming the server', async () => {
  const url = `nats://127.0.0.1:${await freePort()}`;
  const call = await runTool('cli', ['call', 'echo', '--timeout', '2000', '--servers', url]);
  assert.is(call.code, 69, call.err);
  assert.ok(call.ms < 6000, `gave up in ${call.ms} ms`);
  assert.match(call.err, new RegExp(`cannot connect to NATS at ${url}`));
  noStack(call);
  const status = await runTool('ctl', ['--servers', url, '--timeout', '1500', 'status']);
  assert.is(status.code, 69, status.err);
  assert.ok(status.ms < 6000, `gave up in ${status.ms} ms`);
  assert.match(status.err, new RegExp(`cannot connect to NATS at ${url}`));
  noStack(status);
});

test('dips call and dipsctl status against a port that accepts and says nothing: exit 69 within the deadline, naming it', async () => {
  const silent = await silentServer();
  try {
    const call = await runTool('cli', ['call', 'echo', '--timeout', '2000', '--servers', silent.url]);
    assert.is(call.code, 69, call.err);
    assert.ok(call.ms < 6000, `gave up in ${call.ms} ms`);
    assert.match(call.err, new RegExp(`cannot connect to NATS at ${silent.url}`));
    noStack(call);
    const status = await runTool('ctl', ['--servers', silent.url, 'status']);
    assert.is(status.code, 69, status.err);
    assert.ok(status.ms < 6000, `gave up in ${status.ms} ms`);
    assert.match(status.err, new RegExp(`cannot connect to NATS at ${silent.url}`));
  } finally {
    await silent.close();
  }
});

test('DipsClient.call: timeoutMs and the signal hold while connecting (no server, a silent server)', async () => {
  const silent = await silentServer();
  const nobody = `nats://127.0.0.1:${await freePort()}`;
  try {
    for (const servers of [[nobody], [silent.url], [nobody, silent.url]]) {
      const dips = new DipsClient({ servers });
      let started = Date.now();
      const err = await dips.call('echo', Buffer.from('x'), { timeoutMs: 1000, signal: AbortSignal.timeout(1500) }).catch((e: unknown) => e);
      const took = Date.now() - started;
      assert.instance(err, CallError, String(err));
      assert.is((err as CallError).code, ErrorCode.unavailable);
      assert.match((err as Error).message, `cannot connect to NATS at ${servers.join(', ')}`);
      assert.ok(took >= 900 && took < 2500, `the deadline of 1000 ms held: ${took} ms`);
      // the signal, when it comes first, withdraws the call: it rejects with the signal's reason, as fetch() does
      started = Date.now();
      const aborted = await dips.call('echo', Buffer.from('x'), { timeoutMs: 10_000, signal: AbortSignal.timeout(500) }).catch((e: unknown) => e);
      assert.is((aborted as Error).name, 'TimeoutError', String(aborted));
      assert.ok(Date.now() - started < 2000, `the signal held: ${Date.now() - started} ms`);
      started = Date.now();
      await dips.close();
      assert.ok(Date.now() - started < 3000, 'close does not wait for a connection that never came');
    }
  } finally {
    await silent.close();
  }
});

// ---- 2. files, stdin, stdout, a terminal, options, values ----

let cluster: Cluster;
let agent: Proc;
let work: string;
const CARD = ['pSN=42', `pData=${Array.from({ length: 80 }, (_, i) => i % 100).join(',')}`];

test.before(async () => {
  cluster = await startCluster();
  agent = await startProcess('agent', cluster, { DIPS_WORKER_PROCESSES: '1', DIPS_AGENT_NODE: 'n1', DIPS_AGENT_METRICS_PORT: String(await freePort()) }, '"msg":"agent ready"');
  work = mkdtempSync(path.join(os.tmpdir(), 'dips-cli-'));
  // the agent says ready before its worker is: wait until echo answers
  const dips = new DipsClient({ servers: cluster.servers, timeoutMs: 20_000 });
  await dips.call('echo', Buffer.from('warm'));
  await dips.close();
});
test.after(async () => {
  await agent?.stop();
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const servers = () => cluster.servers.join(',');

test('a mute first server, the cluster second: the call goes through and the command ends at once', async () => {
  const silent = await silentServer();
  try {
    const r = await runTool('cli', ['call', 'echo', '--in', '-', '--out', '-', '--servers', `${silent.url},${cluster.servers[0]}`], { input: Buffer.from('through') });
    assert.is(r.code, 0, r.err);
    assert.is(r.out.toString(), 'through');
    assert.ok(r.ms < 6000, `ended in ${r.ms} ms`);
    const s = await runTool('ctl', ['--servers', `${silent.url},${cluster.servers[0]}`, 'ping']);
    assert.is(s.code, 0, s.err);
    assert.ok(s.ms < 6000, `ended in ${s.ms} ms`);
  } finally {
    await silent.close();
  }
});

test('a missing --in file: one clear line and exit 66 (EX_NOINPUT), before any connection', async () => {
  const r = await runTool('cli', ['call', 'echo', '--in', path.join(work, 'nosuch.jpg'), '--servers', `nats://127.0.0.1:${await freePort()}`]);
  assert.is(r.code, 66, r.err);
  assert.match(r.err, /^cannot read --in .*nosuch\.jpg: no such file\n$/);
});

test('--in - reads stdin, --out - writes stdout (no file named "-")', async () => {
  const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
  const r = await runTool('cli', ['call', 'echo', '--in', '-', '--out', '-', '--servers', servers()], { input: bytes, cwd: work });
  assert.is(r.code, 0, r.err);
  assert.ok(r.out.equals(bytes), `stdout holds the ${bytes.length} bytes sent on stdin (got ${r.out.length})`);
  assert.not.ok(existsSync(path.join(work, '-')), 'no file named -');
  // --out FILE still writes the file
  const file = path.join(work, 'copy.bin');
  const f = await runTool('cli', ['call', 'echo', '--in', '-', '--out', file, '--servers', servers()], { input: bytes });
  assert.is(f.code, 0, f.err);
  assert.ok(readFileSync(file).equals(bytes));
});

test('a misspelt function is answered at once with the nearest one served (exit 64); dips functions lists what the mesh serves', async () => {
  const typo = await runTool('cli', ['call', 'thumbnale', 'width=10', '--servers', servers()]);
  assert.is(typo.code, 64, typo.err);
  assert.match(typo.err, /^no worker serves thumbnale; did you mean thumbnail\? \(`dips functions` lists what the mesh serves\)$/m);
  assert.ok(typo.ms < 6000, `answered in ${typo.ms} ms, not after the call's timeout`);
  const list = await runTool('cli', ['functions', '--servers', servers()]);
  assert.is(list.code, 0, list.err);
  assert.match(list.out.toString(), /^ecard\s+\d+ workers?\s+idempotent\s+\S.*\[/m);
  const json = await runTool('cli', ['functions', '--json', '--servers', servers()]);
  const rows = json.out.toString().trim().split('\n').map((l) => JSON.parse(l) as { name: string; idempotent: boolean; workers: number; description: string });
  const thumb = rows.find((r) => r.name === 'thumbnail');
  assert.ok(thumb && thumb.idempotent && thumb.workers >= 1 && thumb.description.length > 0, JSON.stringify(thumb));
  const none = await runTool('cli', ['functions', '--servers', `nats://127.0.0.1:${await freePort()}`]);
  assert.is(none.code, 69, none.err);
});

test('logs are coloured lines on a terminal and JSON lines into a pipe (log.format auto)', async () => {
  const env = { ...process.env, DIPS_CONFIG: '', DIPS_NATS_SERVERS: servers() };
  const run = (argv: string[], ms: number) =>
    new Promise<string>((resolve) => {
      const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (text += d));
      setTimeout(() => child.kill('SIGTERM'), ms);
      child.on('close', () => resolve(text));
    });
  const worker = [process.execPath, Executables.worker, '--functions', 'echo'].map((a) => `'${a}'`).join(' ');
  const onTerminal = await run(['script', '-qec', worker, '/dev/null'], 4000);
  assert.match(onTerminal, /worker ready/, onTerminal);
  assert.not.match(onTerminal, /\{"level":/, 'no JSON on a terminal');
  const intoPipe = await run([process.execPath, Executables.worker, '--functions', 'echo'], 4000);
  assert.match(intoPipe, /^\{"level":30,.*"msg":"worker ready"/m, intoPipe);
});

test('binary output to a terminal is refused with a hint to use --out; JSON to a terminal is fine', async () => {
  const tty = (args: string[]) =>
    new Promise<{ code: number | null; text: string }>((resolve) => {
      const command = [process.execPath, Executables.cli, ...args].map((a) => `'${a}'`).join(' ');
      const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, DIPS_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.on('close', (code) => resolve({ code, text }));
    });
  const png = await tty(['call', 'ecard', ...CARD, '--servers', servers()]);
  assert.is(png.code, 64, png.text);
  assert.match(png.text, /ecard: the reply is image\/png \(\d+ bytes\): not written to a terminal; use --out FILE \(or --out - to write it anyway\)/);
  assert.not.match(png.text, /PNG/, 'no image bytes on the terminal');
  const card = path.join(work, 'card.png');
  const made = await runTool('cli', ['call', 'ecard', ...CARD, '--out', card, '--servers', servers()]);
  assert.is(made.code, 0, made.err);
  const json = await tty(['call', 'info', '--in', card, '--servers', servers()]);
  assert.is(json.code, 0, json.text);
  assert.match(json.text, /"format": "png"/);
});

test('-c FILE is honoured by dips call, dips url and dipsctl', async () => {
  const file = path.join(work, 'dips.json');
  writeFileSync(file, JSON.stringify({ nats: { servers: cluster.servers }, http: { key: 'abcd', salt: 'ef01' } }));
  const call = await runTool('cli', ['call', 'echo', '-c', file, '--in', '-', '--out', '-'], { input: Buffer.from('hello') });
  assert.is(call.code, 0, call.err);
  assert.is(call.out.toString(), 'hello');
  const url = await runTool('cli', ['url', 'thumbnail', 'width=100', '--source', 'local:a/b.jpg', '-c', file]);
  assert.is(url.code, 0, url.err);
  assert.match(url.out.toString(), /^http:\/\//);
  const status = await runTool('ctl', ['-c', file, 'ping']);
  assert.is(status.code, 0, status.err);
  assert.match(status.out.toString(), /^n1\tagent pid/);
});

test('unknown options and commands exit 64 (EX_USAGE) with commander\'s one line', async () => {
  for (const [tool, args] of [
    ['cli', ['call', 'echo', '--bogus']],
    ['cli', ['nosuchcommand']],
    ['ctl', ['--bogus', 'status']],
    ['ctl', ['status', '--bogus']],
    ['ctl', ['dead-letter', 'retry']],
  ] as const) {
    const r = await runTool(tool, [...args]);
    assert.is(r.code, 64, `${tool} ${args.join(' ')}: ${r.err}`);
    assert.match(r.err, /^error: /, r.err);
    noStack(r);
  }
  const help = await runTool('ctl', ['--help']);
  assert.is(help.code, 0, 'help is no error');
  assert.match(help.out.toString(), /64 bad usage/);
});

test('dipsctl scale --workers abc: exit 64 with one line, before connecting', async () => {
  const r = await runTool('ctl', ['--servers', `nats://127.0.0.1:${await freePort()}`, 'scale', '--workers', 'abc']);
  assert.is(r.code, 64, r.err);
  assert.is(r.err, '--workers takes a whole number from 0 to 256, got "abc"\n');
});

test('dipsctl pause --function nosuchfn: the node says the function is unknown there, exit 1; nothing is paused', async () => {
  const r = await runTool('ctl', ['--servers', servers(), 'pause', '--function', 'nosuchfn']);
  assert.is(r.code, 1, r.err);
  assert.match(r.err, /node n1: unknown function nosuchfn on n1 \(it serves .*echo/);
  const status = await runTool('ctl', ['--servers', servers(), '--json', 'status']);
  const replies = JSON.parse(status.out.toString()).replies as Array<{ paused: string[] }>;
  assert.equal(replies[0].paused, [], 'nothing paused');
});

test('dipsctl watch into a pipe: plain tables, no escape codes; the pipe closing ends it quietly', async () => {
  const env: Record<string, string | undefined> = { ...process.env, DIPS_CONFIG: '' };
  const child = spawn(process.execPath, [Executables.ctl, '--servers', servers(), 'watch', '--interval', '0.2'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  // never left running when an assertion fails (it would keep this file from ending)
  const reap = setTimeout(() => child.kill('SIGKILL'), 30_000);
  reap.unref();
  await new Promise<void>((resolve, reject) => {
    setTimeout(() => reject(new Error(`no two tables within 15 s: ${JSON.stringify(out)} ${err}`)), 15_000).unref();
    child.stdout.on('data', (d) => {
      out += d;
      if ((out.match(/^node\s+pid/gm) ?? []).length >= 2) resolve();
    });
  });
  if (/\x1b/.test(out)) child.kill('SIGKILL');
  assert.not.match(out, /\x1b/, 'no escape codes into a pipe');
  child.stdout.destroy(); // like `| head`: the reader goes away
  const code = await new Promise<number | null>((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('close', (c) => {
      clearTimeout(killer);
      resolve(c);
    });
  });
  assert.is(code, 0, err);
  assert.is(err, '', 'nothing on stderr (no EPIPE stack)');
});

test('dipsctl config prints the effective configuration (file, env, -s) with secrets masked', async () => {
  const file = path.join(work, 'conf.json');
  writeFileSync(file, JSON.stringify({ http: { key: 'abcd', salt: 'ef01' }, control: { timeoutMs: 2500 } }));
  const r = await runTool('ctl', ['-c', file, '--servers', 'nats://10.0.0.1:4222', 'config'], { env: { DIPS_NATS_PASS: 'hunter2', DIPS_NATS_USER: 'alice' } });
  assert.is(r.code, 0, r.err);
  const text = r.out.toString();
  assert.not.match(text, /hunter2|abcd|ef01/, 'no secret printed');
  const shown = JSON.parse(text);
  assert.equal(shown.nats.servers, ['nats://10.0.0.1:4222']);
  assert.is(shown.nats.user, 'alice');
  assert.is(shown.nats.pass, '[Sensitive]');
  assert.is(shown.http.key, '[Sensitive]');
  assert.is(shown.nats.token, '', 'an unset secret shows as empty: you see it is not set');
  assert.is(shown.control.timeoutMs, 2500);
  assert.is(shown.log.level, loadConfig({ argv: [], env: {} }).log.level, 'defaults are there too');
});

test.run();
