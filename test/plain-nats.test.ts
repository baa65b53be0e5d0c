/**
 * A plain NATS request is always answered: services in any language call the
 * mesh with their own NATS client and no DIPS code — a Go program (nats.go,
 * Debian's golang-github-nats-io-go-nats-dev), bare nats.js, nats-py — and get
 * one reply per request: the result or a service error with a code, never an
 * empty "no room" bounce or a heartbeat, through a rolling reload too.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { connect, createInbox, headers, type Msg, type NatsConnection } from 'nats';
import { Executables } from '../src/control/spawn.js';
import { projectRoot } from '../src/shared/config.js';
import { startCluster, startProcess, startWorker, waitFor, type Cluster, type Proc } from './harness.js';

const run = promisify(execFile);
const PNG = Buffer.from('\x89PNG\r\n\x1a\n', 'latin1');
const CALLERS = 16;
const LOAD_SECONDS = 5;

let cluster: Cluster;
let agent: Proc;
let nc: NatsConnection;
let scratch: string;

test.before(async () => {
  cluster = await startCluster();
  // two workers of two slots each: 16 callers keep every slot taken and most jobs waiting
  agent = await startProcess('agent', cluster, { DIPS_WORKER_PROCESSES: '2', DIPS_WORKER_CONCURRENCY: '2', DIPS_AGENT_NODE: 'p1', DIPS_AGENT_METRICS_PORT: '0' }, '"msg":"agent ready"');
  nc = await connect({ servers: cluster.servers });
  scratch = mkdtempSync(path.join(os.tmpdir(), 'dips-plain-'));
});
test.after(async () => {
  await nc?.close();
  await agent?.stop();
  await cluster?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

interface Counts {
  calls: number;
  images: number;
  empty: number;
  other: number;
  errors: Record<string, number>;
  noReply: number;
  slowestMs: number;
  firstOther?: string;
}

function reload(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [Executables.ctl, '--servers', cluster.servers.join(','), 'reload'], { env: { ...process.env, DIPS_CONFIG: '' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`dipsctl reload exited ${code}: ${out}`))));
  });
}

/** A reload started a second into the load, so it runs while every slot is busy. */
async function withReload<T>(load: Promise<T>): Promise<{ counts: T; reloaded: string }> {
  await new Promise((r) => setTimeout(r, 1000));
  const reloaded = await reload();
  return { counts: await load, reloaded };
}

function assertAllAnswered(who: string, c: Counts): void {
  console.log(`${who}: ${JSON.stringify(c)}`);
  assert.ok(c.calls > 100, `${who}: ${c.calls} calls made`);
  assert.is(c.empty, 0, `${who}: no empty reply (${c.firstOther ?? ''})`);
  assert.is(c.other, 0, `${who}: every answer an image or an error`);
  assert.is(c.noReply, 0, `${who}: every request answered (${c.firstOther ?? ''})`);
  assert.equal(c.errors, {}, `${who}: no service error under this load`);
  assert.is(c.images, c.calls);
}

const CARD_BODY = JSON.stringify({ pSN: '42', pData: Array.from({ length: 80 }, (_, i) => (i * 37) % 100) });

/** CALLERS loops of nc.request() with a JSON body, as a service with nothing but nats.js would call. */
async function bareNatsLoad(seconds: number): Promise<Counts> {
  const c: Counts = { calls: 0, images: 0, empty: 0, other: 0, errors: {}, noReply: 0, slowestMs: 0 };
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (Date.now() < end) {
        const h = headers();
        h.set('Dips-Encoding', 'json');
        const started = Date.now();
        let reply: Msg;
        try {
          reply = await nc.request('dips.fn.ecard', CARD_BODY, { timeout: 10_000, headers: h });
        } catch (err) {
          c.calls++;
          c.noReply++;
          c.firstOther ??= (err as Error).message;
          continue;
        }
        c.calls++;
        c.slowestMs = Math.max(c.slowestMs, Date.now() - started);
        const code = reply.headers?.get('Nats-Service-Error-Code');
        if (code) c.errors[code] = (c.errors[code] ?? 0) + 1;
        else if (reply.data.length === 0) {
          c.empty++;
          c.firstOther ??= `empty reply with headers ${JSON.stringify([...(reply.headers?.keys() ?? [])])}`;
        } else if (Buffer.from(reply.data.subarray(0, 8)).equals(PNG)) c.images++;
        else c.other++;
      }
    }),
  );
  return c;
}

const goBuild = async (source: string, out: string) => {
  await run('go', ['build', '-o', out, source], { env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: path.join(scratch, 'go-cache') }, cwd: scratch });
  return out;
};

test('Go (nats.go): 16 goroutines of plain requests against 2 workers, through a rolling reload: every reply an image', async () => {
  const bin = await goBuild(path.join(projectRoot, 'test', 'callers', 'plain-load.go'), path.join(scratch, 'plain-load'));
  const load = run(bin, [cluster.servers.join(','), 'ecard', String(CALLERS), String(LOAD_SECONDS)], { maxBuffer: 1 << 20 });
  const { counts, reloaded } = await withReload(load);
  assert.match(reloaded, /p1: reloaded 2 workers one by one/);
  assertAllAnswered('go', JSON.parse(counts.stdout) as Counts);
});

test('bare nats.js: 16 concurrent plain requests against 2 workers, through a rolling reload: every reply an image', async () => {
  const { counts, reloaded } = await withReload(bareNatsLoad(LOAD_SECONDS));
  assert.match(reloaded, /p1: reloaded 2 workers one by one/);
  assertAllAnswered('nats.js', counts);
});

test('the docs\' examples (Go, Python, TypeScript) run and write a PNG card', async () => {
  const servers = cluster.servers.join(',');
  const check = (who: string, stdout: string) => {
    assert.match(stdout, /^card\.png: image\/png, \d+ bytes$/m, who);
    assert.ok(readFileSync(path.join(scratch, 'card.png')).subarray(0, 8).equals(PNG), `${who} wrote a PNG`);
    rmSync(path.join(scratch, 'card.png'));
  };
  const go = await goBuild(path.join(projectRoot, 'docs', 'examples', 'plain-call.go'), path.join(scratch, 'plain-call'));
  check('go', (await run(go, [servers], { cwd: scratch })).stdout);
  check('typescript', (await run(process.execPath, [path.join(projectRoot, 'dist', 'docs', 'examples', 'plain-call.js'), servers], { cwd: scratch })).stdout);
  const hasNatsPy = await run('python3', ['-c', 'import nats']).then(() => true, () => false);
  if (!hasNatsPy) console.log('skipped the Python example: nats-py is not installed (pip install nats-py)');
  else check('python', (await run('python3', [path.join(projectRoot, 'docs', 'examples', 'plain-call.py'), servers], { cwd: scratch })).stdout);
});

/** Publish one request and gather everything that comes back on its reply subject until `listenMs` after the first final reply (no Dips-Event). */
async function everyReply(subject: string, body: string, h = headers(), listenMs = 400): Promise<Msg[]> {
  const inbox = createInbox();
  const got: Msg[] = [];
  const sub = nc.subscribe(inbox, { callback: (_err, msg) => got.push(msg) });
  nc.publish(subject, body, { reply: inbox, headers: h });
  await waitFor(() => got.some((m) => !m.headers?.get('Dips-Event')), 20_000, `a final reply on ${subject}`);
  await new Promise((r) => setTimeout(r, listenMs));
  sub.unsubscribe();
  return got;
}

test('a plain caller gets one reply: no heartbeats, no streamed status, even for a slow job with progress', async () => {
  const got = await everyReply('dips.fn.delay', JSON.stringify({ ms: 1300, steps: 4, value: 'done' }));
  assert.is(got.length, 1, `replies: ${got.map((m) => JSON.stringify([...(m.headers?.keys() ?? [])])).join(' ')}`);
  assert.is(got[0].headers?.get('Dips-Event') ?? '', '');
  // a caller that asks for events gets them, then the result
  const h = headers();
  h.set('Dips-Accept', 'events');
  const events = await everyReply('dips.fn.delay', JSON.stringify({ ms: 1300, steps: 4, value: 'done' }), h);
  const kinds = events.map((m) => m.headers?.get('Dips-Event') || 'final');
  assert.ok(kinds.filter((k) => k === 'status').length === 4 && kinds.at(-1) === 'final', kinds.join(','));
});

test('a full worker holds plain jobs in priority order; its byte limit and a default deadline answer with errors naming the key', async () => {
  const w = await startWorker(cluster, {
    DIPS_WORKER_FUNCTIONS: 'delay',
    DIPS_WORKER_CONCURRENCY: '1',
    DIPS_WORKER_MAX_WAITING_BYTES: '12800', // three small jobs (4 KiB each as held jobs count) and not a fourth
    DIPS_WORKER_DEFAULT_DEADLINE_MS: '1500',
  });
  try {
    // only this worker serves `delay` now? the agent's do too: pause them so the order is this worker's
    await run(process.execPath, [Executables.ctl, '--servers', cluster.servers.join(','), 'pause', '--function', 'delay'], { env: { ...process.env, DIPS_CONFIG: '' } });
    const finished: string[] = [];
    const ask = (value: string, ms: number, priority?: string, extra: Record<string, unknown> = {}) => {
      const h = headers();
      h.set('Dips-Encoding', 'json');
      h.set('Dips-Deadline', String(Date.now() + 10_000));
      if (priority) h.set('Dips-Priority', priority);
      return nc.request('dips.fn.delay', JSON.stringify({ ms, value, ...extra }), { timeout: 15_000, headers: h }).then((m) => {
        finished.push(value);
        return m;
      });
    };
    const first = ask('first', 600);
    await new Promise((r) => setTimeout(r, 150));
    const waiting = [ask('low', 1, 'low'), ask('normal', 1), ask('high', 1, 'high')];
    await new Promise((r) => setTimeout(r, 100));
    // the three waiting jobs hold ~12.4 KB of the 12.8: another does not fit
    const refused = await ask('big', 1, undefined, { pad: 'x'.repeat(400) });
    assert.is(refused.headers?.get('Nats-Service-Error-Code'), '503');
    assert.match(refused.headers?.get('Nats-Service-Error') ?? '', /worker\.maxWaitingBytes/);
    await first;
    await Promise.all(waiting);
    assert.equal(finished.filter((v) => v !== 'big'), ['first', 'high', 'normal', 'low']);
    // no Dips-Deadline: the worker's default (1.5 s) applies, and the error says so
    const h = headers();
    h.set('Dips-Encoding', 'json');
    const late = await nc.request('dips.fn.delay', JSON.stringify({ ms: 5000 }), { timeout: 10_000, headers: h });
    assert.is(late.headers?.get('Nats-Service-Error-Code'), '408');
    assert.match(late.headers?.get('Nats-Service-Error') ?? '', /no Dips-Deadline header: worker\.defaultDeadlineMs, 1500 ms/);
    // a malformed header is named
    const bad = headers();
    bad.set('Dips-Priority', 'urgent');
    const badReply = await nc.request('dips.fn.delay', '{}', { timeout: 5000, headers: bad });
    assert.is(badReply.headers?.get('Nats-Service-Error-Code'), '400');
    assert.match(badReply.headers?.get('Nats-Service-Error') ?? '', /Dips-Priority must be high, normal or low, got "urgent"/);
  } finally {
    await run(process.execPath, [Executables.ctl, '--servers', cluster.servers.join(','), 'resume', '--function', 'delay'], { env: { ...process.env, DIPS_CONFIG: '' } });
    await w.stop();
  }
});

test.run();
