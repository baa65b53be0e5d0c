/**
 * What a hostile caller may not do, against real processes: make a worker
 * answer onto a subject it may not publish to, steer the fleet with such an
 * answer, take a gateway off NATS with a long function name, serve DIPS's own
 * functions as a Gearman worker, forge rows of the admin text, grow a gateway
 * without bound by not reading, submit to a draining gateway; and a result too
 * big for NATS is refused at once instead of vanishing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open as openLmdb } from 'lmdb';
import { connect, headers, type NatsConnection } from 'nats';
import { freePort } from '../src/control/nats-node.js';
import { PacketType as P } from '../src/gateway/protocol/constants.js';
import { broadcast } from '../src/control/broadcast.js';
import { buildExampleBundle, startCluster, startProcess, waitFor, type Cluster, type Proc, rss } from './harness.js';
import { WireClient } from './gearman-wire.js';
import { netnsUnavailable, TestNet } from './netns.js';
import { spawnSync } from 'node:child_process';

let cluster: Cluster;
let agent: Proc;
let gateway: Proc;
let port: number;
let nc: NatsConnection;
const MiB = 1024 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startGateway(env: Record<string, string> = {}): Promise<{ proc: Proc; port: number }> {
  const p = await freePort();
  const proc = await startProcess('gateway', cluster, { DIPS_GATEWAY_PORT: String(p), DIPS_GATEWAY_MAX_ABILITIES: '3', DIPS_GATEWAY_MAX_CONNECTION_BYTES: String(8 * MiB), ...env });
  return { proc, port: p };
}

async function echoWorks(p: number): Promise<void> {
  const c = await WireClient.connect(p);
  c.send(P.SUBMIT_JOB, ['echo', '', 'still here']);
  assert.is((await c.next()).type, P.JOB_CREATED);
  const done = await c.next();
  assert.is(done.type, P.WORK_COMPLETE);
  assert.is(done.args[1].toString(), 'still here');
  c.close();
}

async function workersRunning(): Promise<number> {
  const r = await broadcast(nc, 'status', {}, 1500);
  return (r.replies[0] as unknown as { workers: Array<{ state: string }> }).workers.filter((w) => w.state === 'running').length;
}

test.before(async () => {
  cluster = await startCluster();
  agent = await startProcess('agent', cluster, { DIPS_WORKER_PROCESSES: '1', DIPS_AGENT_NODE: 't1', DIPS_AGENT_METRICS_PORT: '0' }, '"msg":"agent ready"');
  ({ proc: gateway, port } = await startGateway());
  nc = await connect({ servers: cluster.servers });
  await waitFor(async () => (await workersRunning()) === 1, 10_000, 'the agent\'s worker');
});
test.after(async () => {
  await nc?.close();
  await Promise.all([gateway, agent].filter(Boolean).map((p) => p.stop()));
  await cluster?.stop();
});

test('a request whose reply subject is not an inbox is not run, and nothing lands where it pointed', async () => {
  // the worker's own room announcements also pass on dips.room.echo: a reflection would carry the request's body
  const seen: string[] = [];
  const spy = nc.subscribe('dips.>', { callback: (_e, m) => (!m.subject.startsWith('dips.fn.') && m.string().includes('workers') ? seen.push(m.subject) : undefined) });
  await nc.flush();
  for (const reply of ['dips.control.scale', 'dips.control.stop', 'dips.room.echo', 'dips.gateway.status']) {
    nc.publish('dips.fn.echo', JSON.stringify({ workers: 0 }), { reply });
  }
  nc.publish('dips.fn.echo', JSON.stringify({ workers: 0 })); // no reply subject at all
  await sleep(700);
  spy.unsubscribe();
  assert.equal(seen, [], `the worker answered onto ${seen.join(', ')}`);
  // a proper request is still served
  const ok = await nc.request('dips.fn.echo', 'hello', { timeout: 5000 });
  assert.ok(ok.data.length > 0);
  assert.is(await workersRunning(), 1);
});

test('a control message of the wrong shape gets an error naming it, and the agent still hears the next broadcast', async () => {
  for (const [body, problem] of [['null', /a control message is a JSON object/], ['{"nodes": 5}', /nodes must be a list of node names/], ['[1]', /a control message is a JSON object/]] as const) {
    const answer = (await nc.request('dips.control.status', body, { timeout: 3000 })).json<{ ok: boolean; error: string }>();
    assert.is(answer.ok, false);
    assert.match(answer.error, problem);
  }
  const status = await broadcast(nc, 'status', {}, 1500);
  assert.is(status.replies.length, 1, 'the agent answers after the odd messages');
});

test('the fleet obeys only control requests answered to an inbox: a reflected or bare control message is ignored', async () => {
  nc.publish('dips.control.scale', JSON.stringify({ workers: 0 })); // what a reflected reply looks like: no reply subject
  nc.publish('dips.control.stop', JSON.stringify({}), { reply: 'dips.control.pause' });
  await sleep(1000);
  assert.is(await workersRunning(), 1, 'the agent kept its worker');
  assert.match(agent.logs(), /reply subject is not an inbox/);
});

test('a function name over 512 bytes, or not UTF-8, is refused at once; the gateway stays on NATS and serves others', async () => {
  const c = await WireClient.connect(port);
  for (const size of [513, 5000, 4 * MiB]) {
    const t = performance.now();
    c.send(P.SUBMIT_JOB, ['x'.repeat(size), '', 'payload']);
    const r = await c.next();
    assert.is(r.type, P.ERROR);
    assert.is(r.args[0].toString(), 'INVALID_ARGUMENT');
    assert.match(r.args[1].toString(), new RegExp(`Function name too long \\(${size} bytes; at most 512\\)`));
    assert.ok(performance.now() - t < 2000);
  }
  // 512 bytes that are not UTF-8 would decode to 512 U+FFFD, a subject of 4.6 KB: past nats-server's control line
  for (const type of [P.SUBMIT_JOB, P.SUBMIT_JOB_BG, P.CAN_DO]) {
    c.send(type, type === P.CAN_DO ? [Buffer.alloc(512, 0xff)] : [Buffer.alloc(512, 0xff), '', 'payload']);
    const r = await c.next();
    assert.is(r.type, P.ERROR);
    assert.is(r.args[0].toString(), 'INVALID_ARGUMENT');
    assert.is(r.args[1].toString(), 'Function name is not UTF-8 text');
  }
  c.close();
  await echoWorks(port);
  assert.not.match(gateway.logs(), /"msg":"NATS disconnected"/);
});

test('nor a function DIPS\'s workers serve from a deployed bundle: refused at CAN_DO, and withdrawn when the bundle comes later', async () => {
  // registered first: the Gearman worker serves "hello" while no native worker does
  const early = await WireClient.connect(port);
  early.send(P.CAN_DO, ['hello']);
  await waitFor(async () => (await nc.request('$SRV.INFO.dips', undefined, { timeout: 1000 }).catch(() => undefined)) !== undefined, 5000, 'discovery');
  const bundleWorker = await startProcess('worker', cluster, { DIPS_WORKER_BUNDLE_DIR: buildExampleBundle(), DIPS_WORKER_FUNCTIONS: 'hello' });
  try {
    const withdrawn = await early.next(15_000);
    assert.is(withdrawn.type, P.ERROR);
    assert.is(withdrawn.args[0].toString(), 'NOT_ALLOWED');
    assert.match(withdrawn.args[1].toString(), /may not serve "hello": DIPS's own workers serve it/);
    await waitFor(() => /DIPS's own workers serve a function Gearman workers registered/.test(gateway.logs()), 5000, 'the withdrawal logged');
    // now a Gearman worker cannot take it at all; callers' jobs reach only the native worker
    const late = await WireClient.connect(port);
    late.send(P.CAN_DO, ['hello']);
    const refused = await late.next();
    assert.is(refused.type, P.ERROR);
    assert.match(refused.args[1].toString(), /DIPS's own workers serve it/);
    for (let i = 0; i < 10; i++) {
      const c = await WireClient.connect(port);
      c.send(P.SUBMIT_JOB, ['hello', '', JSON.stringify({ name: 'Ada' })]);
      assert.is((await c.next()).type, P.JOB_CREATED);
      let end = await c.next();
      while (end.type === P.WORK_STATUS) end = await c.next(); // hello reports status as it goes
      assert.is(end.type, P.WORK_COMPLETE);
      c.close();
    }
    late.send(P.GRAB_JOB, []);
    assert.is((await late.next()).type, P.NO_JOB, 'no job ever reached a Gearman worker');
    late.close();
    early.close();
    // its workers stopped (or paused, or rolling): the name stays theirs, so a Gearman worker cannot slip in meanwhile
    await bundleWorker.stop(); // its NATS connection, and so its service, gone with it
    const meanwhile = await WireClient.connect(port);
    meanwhile.send(P.CAN_DO, ['hello']);
    const stillRefused = await meanwhile.next();
    assert.is(stillRefused.type, P.ERROR);
    assert.match(stillRefused.args[1].toString(), /DIPS's own workers serve it/);
    meanwhile.close();
  } finally {
    await bundleWorker.stop();
  }
});

test('Gearman workers may not serve DIPS\'s own functions, nor register more than gateway.maxAbilities', async () => {
  const w = await WireClient.connect(port);
  w.send(P.CAN_DO, ['resize']);
  let r = await w.next();
  assert.is(r.type, P.ERROR);
  assert.is(r.args[0].toString(), 'NOT_ALLOWED');
  assert.match(r.args[1].toString(), /may not serve "resize".*gateway\.legacyFunctions/);
  for (const fn of ['t-a', 't-b', 't-c']) w.send(P.CAN_DO, [fn]);
  w.send(P.CAN_DO, ['t-d']);
  r = await w.next();
  assert.is(r.type, P.ERROR);
  assert.match(r.args[1].toString(), /at most 3 functions \(gateway\.maxAbilities\)/);
  w.close();
  // with resize named in gateway.legacyFunctions, a Gearman worker may serve it
  const other = await startGateway({ DIPS_GATEWAY_LEGACY_FUNCTIONS: '*,resize' });
  try {
    const w2 = await WireClient.connect(other.port);
    w2.send(P.CAN_DO, ['resize']);
    w2.send(P.ECHO_REQ, ['after']);
    assert.is((await w2.next()).type, P.ECHO_RES);
    w2.close();
  } finally {
    await other.proc.stop();
  }
});

test('tabs and newlines in a client id or function name do not forge rows of `workers` or `status`', async () => {
  const w = await WireClient.connect(port);
  w.send(P.SET_CLIENT_ID, ['evil\n1 2.3.4.5 admin : shout']);
  w.send(P.CAN_DO, ['fake\tfn\nforged\t9\t9\t9']);
  w.send(P.ECHO_REQ, ['sync']);
  await w.next();
  await sleep(300);
  const admin = await WireClient.connect(port);
  for (const cmd of ['workers', 'status']) {
    // `status` learns of the new function from the mesh's service discovery, a moment later
    await waitFor(async () => {
      admin.text = '';
      admin.raw(`${cmd}\n`);
      await waitFor(() => admin.text.endsWith('.\n'), 5000, `${cmd} answer`);
      return admin.text.includes('fake?fn?forged?9?9?9');
    }, 5000, `${cmd} listing the new function`);
    const lines = admin.text.split('\n');
    assert.not.ok(lines.some((l) => l.startsWith('forged') || l.startsWith('1 2.3.4.5')), admin.text);
    if (cmd === 'workers') assert.ok(admin.text.includes('evil_1_2.3.4.5_admin_:_shout'), admin.text);
  }
  admin.close();
  w.close();
});

test('a client that never reads its answers holds at most gateway.maxConnectionBytes; it is served once it reads', async () => {
  const before = rss(gateway);
  const payload = Buffer.alloc(MiB, 7);
  const clients = await Promise.all([0, 1, 2].map(() => WireClient.connect(port)));
  for (const c of clients) {
    c.socket.pause(); // reads nothing
    for (let i = 0; i < 60; i++) c.send(P.SUBMIT_JOB, ['echo', '', payload]);
  }
  await sleep(3000);
  const grown = rss(gateway) - before;
  assert.ok(grown < 200 * MiB, `the gateway grew by ${Math.round(grown / MiB)} MiB for 3 clients x 60 MiB unread`);
  for (const c of clients) c.socket.resume();
  for (const c of clients) {
    let done = 0;
    while (done < 60) if ((await c.next(20_000)).type === P.WORK_COMPLETE) done++;
    c.close();
  }
});

test('clients that never read hold at most gateway.maxUnreadBytes in all: the one holding the most is closed, readers go on', async () => {
  const { proc, port: p } = await startGateway({ DIPS_GATEWAY_MAX_UNREAD_BYTES: String(20 * MiB) });
  try {
    const before = rss(proc);
    const payload = Buffer.alloc(MiB, 7);
    // each may hold 8 MiB (maxConnectionBytes): six of them would hold 48 MiB
    const silent = await Promise.all(Array.from({ length: 6 }, () => WireClient.connect(p)));
    const closed = silent.map((c) => new Promise<boolean>((resolve) => c.socket.once('close', () => resolve(true))));
    for (const c of silent) {
      c.socket.pause();
      for (let i = 0; i < 12; i++) c.send(P.SUBMIT_JOB, ['echo', '', payload]);
    }
    await waitFor(() => /closing the connection holding the most unread answers/.test(proc.logs()), 15_000, 'a non-reading client closed');
    await echoWorks(p);
    const grown = rss(proc) - before;
    assert.ok(grown < 400 * MiB, `the gateway grew by ${Math.round(grown / MiB)} MiB for 6 clients x 12 MiB unread`);
    for (const c of silent) c.socket.resume();
    const outcomes = await Promise.all(closed.map((c) => Promise.race([c, sleep(3000).then(() => false)])));
    assert.ok(outcomes.some(Boolean), 'at least one non-reading client was closed');
    assert.ok(outcomes.some((o) => !o), 'not every client was closed: the budget closes only what it must');
    for (const c of silent) c.close();
  } finally {
    await proc.stop();
  }
});

test('a result too big for a NATS message is refused at once with 413, not resent until the deadline', async () => {
  const max = nc.info!.max_payload;
  const t = performance.now();
  const reply = await nc.request('dips.fn.echo', Buffer.alloc(max - 64, 1), { timeout: 10_000, headers: headers() });
  assert.is(reply.headers?.get('Nats-Service-Error-Code'), '413');
  assert.match(reply.headers?.get('Nats-Service-Error') ?? '', /more than a NATS message carries \(max_payload \d+\)/);
  assert.ok(performance.now() - t < 5000, 'answered before the deadline');
});

test('a gateway draining on SIGTERM refuses new jobs on open connections; the ones it took finish', async () => {
  const g = await startGateway();
  const c = await WireClient.connect(g.port);
  c.send(P.SUBMIT_JOB, ['delay', '', 'a:1:{s:2:"ms";i:1500;}']);
  assert.is((await c.next()).type, P.JOB_CREATED);
  g.proc.child.kill('SIGTERM');
  await sleep(300);
  c.send(P.SUBMIT_JOB, ['echo', '', 'late']);
  const refused = await c.next();
  assert.is(refused.type, P.ERROR);
  assert.is(refused.args[0].toString(), 'SHUTTING_DOWN');
  const done = await c.next(10_000);
  assert.is(done.type, P.WORK_COMPLETE);
  c.close();
  await g.proc.stop();
});

test('a background job sharing a live foreground job\'s unique id is kept when the foreground client goes away', async () => {
  const fg = await WireClient.connect(port);
  fg.send(P.SUBMIT_JOB, ['delay', 'shared-1', 'a:1:{s:2:"ms";i:1500;}']);
  const created = await fg.next();
  assert.is(created.type, P.JOB_CREATED);
  const bg = await WireClient.connect(port);
  bg.send(P.SUBMIT_JOB_BG, ['delay', 'shared-1', 'a:1:{s:2:"ms";i:1500;}']);
  const bgCreated = await bg.next();
  assert.is(bgCreated.type, P.JOB_CREATED);
  assert.is(bgCreated.args[0].toString(), created.args[0].toString(), 'one job');
  fg.close();
  await sleep(300);
  bg.send(P.GET_STATUS, [bgCreated.args[0]]);
  const status = await bg.next();
  assert.is(status.type, P.STATUS_RES);
  assert.is(status.args[1].toString(), '1', 'the job is still known after its foreground client left');
  bg.close();
});

test('a malformed entry in the job store does not stop the gateway; the store is readable by its owner only', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dips-store-'));
  const db = openLmdb({ path: dir, encoding: 'msgpack', compression: false });
  await db.put('H:bad:1', { seq: 'x', nonsense: true });
  await db.put('H:bad:2', 42);
  await db.close();
  const g = await startGateway({ DIPS_GATEWAY_DATA_DIR: dir });
  try {
    assert.match(g.proc.logs(), /a stored background job cannot be read/);
    await echoWorks(g.port);
    assert.is(statSync(dir).mode & 0o777, 0o700);
    for (const f of readdirSync(dir)) assert.is(statSync(path.join(dir, f)).mode & 0o077, 0, `${f} is private`);
  } finally {
    await g.proc.stop();
  }
});

test('admin commands that change state (maxqueue, cancel job) are taken from loopback only; showing is for everyone', async () => {
  const local = await WireClient.connect(port);
  local.raw('maxqueue t-local 5\n');
  await waitFor(() => local.text.includes('OK'), 5000, 'maxqueue from loopback');
  local.close();
  const why = netnsUnavailable();
  if (why) {
    console.log(`  skipped the other-machine half: ${why}`);
    return;
  }
  const net = new TestNet();
  try {
    const peer = net.host('admin');
    const g = await startGateway({ DIPS_GATEWAY_HOST: net.localAddress });
    try {
      const script = `exec 3<>/dev/tcp/${net.localAddress}/${g.port}; printf 'maxqueue echo 1\\ncancel job H:x:1\\nversion\\n' >&3; timeout 2 cat <&3`;
      const out = spawnSync(peer.prefix[0], [...peer.prefix.slice(1), 'bash', '-c', script], { encoding: 'utf8' }).stdout;
      assert.is(out.match(/ERR NOT_ALLOWED/g)?.length, 2, out);
      assert.match(out, /OK dips-/);
    } finally {
      await g.proc.stop();
    }
  } finally {
    net.cleanup();
  }
});

test.run();
