/**
 * The secure NATS variant (config/nats-auth.conf): every DIPS role works with
 * its own identity, and every forbidden action is refused by the real server.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { freePort, sleep, startNode, waitForRoutes } from '../src/control/nats-node.js';
import { AUTH_CONF, IDENTITIES, ROUTE, authConf, callerIdentity, identityEnv, makePasswords, secureClusterOptions, writeAuthConf, type Identity, type IdentitySpec } from '../src/control/secure.js';
import { Executables } from '../src/control/spawn.js';
import { DipsClient } from '../src/client/index.js';
import { loadConfig } from '../src/shared/config.js';
import { buildExampleBundle, startCluster, startProcess, type Cluster, type Proc } from './harness.js';
import { generateKeys } from '../src/control/release/keys.js';
import { runPhp } from './php.js';

/** Two callers of their own beside the roles (two web servers, say): each must read only its own replies. */
const CALLERS = ['web-a', 'web-b'];
const passwords = makePasswords(CALLERS);
const authFile = writeAuthConf(path.join(mkdtempSync(path.join(os.tmpdir(), 'dips-auth-')), 'nats-auth.conf'), CALLERS);
const deployKeys = generateKeys(mkdtempSync(path.join(os.tmpdir(), 'dips-deploy-keys-')));
let cluster: Cluster;
let procs: Proc[] = [];
let gatewayPort: number;

test.before(async () => {
  cluster = await startCluster(secureClusterOptions(passwords, [authFile]));
  gatewayPort = await freePort();
  procs = await Promise.all([
    startProcess('worker', cluster, { ...identityEnv('worker', passwords), DIPS_WORKER_FUNCTIONS: 'ecard,echo' }),
    startProcess('gateway', cluster, { ...identityEnv('gateway', passwords), DIPS_GATEWAY_PORT: String(gatewayPort) }),
    startProcess('agent', cluster, { ...identityEnv('agent', passwords), DIPS_WORKER_PROCESSES: '1', DIPS_AGENT_NODE: 'secure-node', DIPS_AGENT_METRICS_PORT: '0', DIPS_WORKER_FUNCTIONS: '',
      DIPS_DEPLOY_PUBLIC_KEYS: deployKeys.publicFile, DIPS_DEPLOY_DIR: mkdtempSync(path.join(os.tmpdir(), 'dips-releases-')) }, '"msg":"agent ready"'),
  ]);
});
test.after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await cluster?.stop();
});

function as(identity: Identity | IdentitySpec, servers = cluster.servers): Promise<NatsConnection> {
  const id = typeof identity === 'string' ? IDENTITIES[identity] : identity;
  return connect({ servers, user: id.user, pass: passwords[id.passEnv], inboxPrefix: id.inbox });
}

/**
 * Run one action on a fresh connection of `identity`; true when the server
 * answered it with a permissions violation (the connection is fresh, so the
 * violation is this action's).
 */
async function refused(identity: Identity | IdentitySpec, action: (nc: NatsConnection) => unknown): Promise<boolean> {
  const nc = await as(identity);
  let violation = false;
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'error' && /PERMISSIONS_VIOLATION/i.test(String(s.data))) violation = true;
  })();
  action(nc);
  await nc.flush().catch(() => undefined);
  await new Promise((r) => setTimeout(r, 150));
  await nc.close();
  return violation;
}

test('no credentials, or wrong ones: the connection is refused', async () => {
  for (const opts of [{}, { user: 'dips-caller', pass: 'wrong' }]) {
    try {
      const nc = await connect({ servers: cluster.servers, ...opts, maxReconnectAttempts: 0, reconnect: false });
      await nc.close();
      assert.unreachable('connected without valid credentials');
    } catch (err) {
      assert.match(String(err), /AUTHORIZATION_VIOLATION|Authorization Violation/i);
    }
  }
});

test('each role does its job: a caller gets a card from a worker; PHP through the gateway; dipsctl as admin', async () => {
  const caller = new DipsClient({ config: loadConfig({ argv: [], env: identityEnv('caller', passwords), overrides: { nats: { servers: cluster.servers } } }) });
  try {
    const card = (await caller.call('ecard', { pSN: '1', pData: Array(80).fill(7) })) as Uint8Array;
    assert.is(Buffer.from(card.subarray(1, 4)).toString(), 'PNG');
  } finally {
    await caller.close();
  }
  const php = await runPhp(`$c = new GearmanClient(); $c->addServer('127.0.0.1', ${gatewayPort}); echo $c->doNormal('echo', 'via gateway');`);
  assert.is(php.stdout.toString(), 'via gateway', php.stderr);
  const status = spawnSync(process.execPath, [Executables.ctl, '--servers', cluster.servers.join(','), 'status'], { env: { ...process.env, ...identityEnv('admin', passwords), DIPS_CONFIG: '' }, encoding: 'utf8' });
  assert.is(status.status, 0, status.stderr);
  assert.match(status.stdout, /^secure-node\s+\d+\s+running/m);
});

test('a worker may not call functions, publish control messages or read replies', async () => {
  assert.ok(await refused('worker', (nc) => nc.publish('dips.fn.ecard', 'x')), 'publish dips.fn.ecard');
  assert.ok(await refused('worker', (nc) => nc.publish('dips.control.stop', '{}')), 'publish dips.control.stop');
  assert.ok(await refused('worker', (nc) => nc.subscribe(`${IDENTITIES.caller.inbox}.>`)), "subscribe the caller's inbox");
  assert.ok(await refused('worker', (nc) => nc.subscribe('_INBOX.>')), 'subscribe _INBOX.>');
  assert.not.ok(await refused('worker', (nc) => nc.subscribe('dips.fn.ecard', { queue: 'ecard' })), 'serving is allowed');
});

test('a caller may not serve functions, read other inboxes or publish control messages', async () => {
  assert.ok(await refused('caller', (nc) => nc.subscribe('dips.fn.ecard', { queue: 'ecard' })), 'subscribe dips.fn.ecard');
  assert.ok(await refused('caller', (nc) => nc.subscribe(`${IDENTITIES.gateway.inbox}.>`)), "subscribe the gateway's inbox");
  assert.ok(await refused('caller', (nc) => nc.subscribe(`${IDENTITIES.admin.inbox}.>`)), "subscribe the admin's inbox");
  assert.ok(await refused('caller', (nc) => nc.subscribe('_INBOX.>')), 'subscribe _INBOX.>');
  assert.ok(await refused('caller', (nc) => nc.publish('dips.control.stop', '{}')), 'publish dips.control.stop');
  assert.ok(await refused('caller', (nc) => nc.subscribe('dips.control.*')), 'subscribe dips.control.*');
  assert.not.ok(await refused('caller', (nc) => nc.publish('dips.fn.echo', 'x')), 'calling is allowed');
});

test('config/nats-auth.conf is what authConf() writes', () => {
  assert.fixture(readFileSync(AUTH_CONF, 'utf8'), authConf());
});

test("each caller identity reads only its own inbox prefix (_INBOX.<user>): web-a may not subscribe to web-b's, and both call", async () => {
  const [a, b] = CALLERS.map(callerIdentity);
  for (const [me, other] of [[a, b], [b, a]]) {
    assert.ok(await refused(me, (nc) => nc.subscribe(`${other.inbox}.>`)), `${me.user} subscribes to ${other.user}'s inbox`);
    assert.ok(await refused(me, (nc) => nc.subscribe(`${other.inbox}.*`)), `${me.user} subscribes to ${other.user}'s inbox (*)`);
    assert.ok(await refused(me, (nc) => nc.subscribe(`${IDENTITIES.caller.inbox}.>`)), `${me.user} subscribes to dips-caller's inbox`);
    assert.ok(await refused(me, (nc) => nc.subscribe('_INBOX.*.>')), `${me.user} subscribes to every inbox`);
    assert.not.ok(await refused(me, (nc) => nc.subscribe(`${me.inbox}.>`)), `${me.user} reads its own inbox`);
  }
  // DIPS's own client with only a user and password: src/mesh/nats.ts derives the inbox prefix from
  // the user (a call from the default _INBOX would be refused: its reply subscription is not allowed)
  for (const id of [a, b]) {
    const client = new DipsClient({ config: loadConfig({ argv: [], env: { DIPS_NATS_USER: id.user, DIPS_NATS_PASS: passwords[id.passEnv] }, overrides: { nats: { servers: cluster.servers } } }) });
    try {
      assert.is(Buffer.from((await client.call('echo', Buffer.from(id.user))) as Uint8Array).toString(), id.user);
    } finally {
      await client.close();
    }
  }
});

test('only the admin identity may publish dips.control.* and dips.admin.> (dead letters)', async () => {
  for (const identity of ['gateway', 'agent', 'worker', 'caller'] as const) {
    assert.ok(await refused(identity, (nc) => nc.publish('dips.control.stop', '{}')), identity);
    assert.ok(await refused(identity, (nc) => nc.publish('dips.admin.deadletter.drop', '{}')), `${identity}: dips.admin`);
  }
  assert.not.ok(await refused('admin', (nc) => nc.publish('dips.control.ping', '{}')), 'admin may');
  assert.not.ok(await refused('admin', (nc) => nc.publish('dips.admin.deadletter.list', '{}')), 'admin may list dead letters');
  assert.not.ok(await refused('gateway', (nc) => nc.subscribe('dips.admin.deadletter.*')), 'gateways hear them');
});

test('only the operator deploys: dipsctl deploy as admin rolls the agent onto a bundle; no other identity may publish a deploy or touch dips.deploy.>', async () => {
  const bundle = buildExampleBundle();
  const run = spawnSync(process.execPath, [Executables.ctl, '--servers', cluster.servers.join(','), 'deploy', bundle, '--key', deployKeys.privateFile], { env: { ...process.env, ...identityEnv('admin', passwords), DIPS_CONFIG: '' }, encoding: 'utf8' });
  assert.is(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /^secure-node: now on hello@1\.0\.0 /m);
  const caller = new DipsClient({ config: loadConfig({ argv: [], env: identityEnv('caller', passwords), overrides: { nats: { servers: cluster.servers } } }) });
  try {
    assert.equal(await caller.call('hello', { name: 'Ada' }), { greeting: 'Hello, Ada!', lang: 'en' });
  } finally {
    await caller.close();
  }
  for (const identity of ['gateway', 'agent', 'worker', 'caller'] as const) {
    assert.ok(await refused(identity, (nc) => nc.publish('dips.control.deploy', '{}')), `${identity}: publish dips.control.deploy`);
  }
  for (const identity of ['gateway', 'worker', 'caller'] as const) {
    assert.ok(await refused(identity, (nc) => nc.publish('dips.deploy.chunk.x', '0')), `${identity}: ask for a chunk`);
    assert.ok(await refused(identity, (nc) => nc.subscribe('dips.deploy.chunk.*')), `${identity}: serve chunks`);
    assert.ok(await refused(identity, (nc) => nc.publish('dips.deploy.release', '')), `${identity}: ask which release runs`);
  }
});

/** Subjects of the messages `nc` hears on `subject` that contain `mark`. */
function collect(nc: NatsConnection, subject: string, mark: string): string[] {
  const heard: string[] = [];
  void (async () => {
    for await (const m of nc.subscribe(subject)) if (m.subject.includes(mark)) heard.push(m.subject);
  })();
  return heard;
}

async function serverId(httpPort: number): Promise<string> {
  return ((await (await fetch(`http://127.0.0.1:${httpPort}/varz`)).json()) as { server_id: string }).server_id;
}

async function routeIds(httpPort: number): Promise<string[]> {
  const body = (await (await fetch(`http://127.0.0.1:${httpPort}/routez`)).json()) as { routes?: Array<{ remote_id: string }> };
  return (body.routes ?? []).map((r) => r.remote_id);
}

test('a stranger nats-server cannot join the cluster route without the route password; the nodes still route to each other', async () => {
  const [a, b] = cluster.nodes;
  const ids = [await serverId(a.httpPort), await serverId(b.httpPort)];
  // on the real cluster: a worker on A hears dips.fn.>, an agent on B hears dips.control.*; a caller on B publishes
  const worker = await as('worker', [cluster.servers[0]]);
  const agent = await as('agent', [cluster.servers[1]]);
  const caller = await as('caller', [cluster.servers[1]]);
  const onFn = collect(worker, 'dips.fn.>', 'stranger');
  const onControl = collect(agent, 'dips.control.*', 'stranger');
  await Promise.all([worker.flush(), agent.flush()]);
  try {
    // the last one knows the password: it must get in, or the checks on the first two could not fail
    for (const [credentials, joins] of [['', false], [`${ROUTE.user}:wrong@`, false], [`${ROUTE.user}:${passwords[ROUTE.passEnv]}@`, true]] as const) {
      const what = joins ? 'the right route password' : credentials ? 'a wrong route password' : 'no route credentials';
      const [clientPort, clusterPort, httpPort] = [await freePort(), await freePort(), await freePort()];
      const stranger = await startNode({ name: 'stranger', clientPort, clusterPort, httpPort, routes: cluster.clusterPorts.map((p) => `nats-route://${credentials}127.0.0.1:${p}`) });
      const inside = await connect({ servers: [stranger.clientUrl] });
      try {
        const stolen = collect(inside, 'dips.fn.>', 'stranger');
        if (joins) await waitForRoutes(httpPort, 2, 5000);
        else await sleep(1500); // it dials at start and again every second: refused each time
        await inside.flush();
        await sleep(200); // interest crosses a route asynchronously
        onFn.length = onControl.length = 0;
        inside.publish('dips.fn.stranger-probe', 'from the stranger');
        inside.publish('dips.control.stranger-probe', '{}');
        await inside.flush();
        caller.publish('dips.fn.stranger-probe-real', 'from a caller on B');
        await caller.flush();
        await sleep(300);
        // the caller's message on B reached the worker on A: the real route carries traffic either way
        assert.ok(onFn.includes('dips.fn.stranger-probe-real'), `the nodes do not route to each other (${what})`);
        assert.is(onFn.includes('dips.fn.stranger-probe'), joins, `a dips.fn message from the stranger (${what})`);
        assert.is(onControl.includes('dips.control.stranger-probe'), joins, `a dips.control message from the stranger (${what})`);
        assert.is(stolen.includes('dips.fn.stranger-probe-real'), joins, `the stranger read a caller's request (${what})`);
        if (!joins) {
          // each real node routes only to the other real node
          assert.equal(new Set(await routeIds(a.httpPort)), new Set([ids[1]]), what);
          assert.equal(new Set(await routeIds(b.httpPort)), new Set([ids[0]]), what);
        }
      } finally {
        await inside.close();
        await stranger.stop('SIGKILL');
      }
    }
  } finally {
    await Promise.all([worker.close(), agent.close(), caller.close()]);
  }
});

test('credentials never appear in the logs', () => {
  for (const p of procs) for (const secret of Object.values(passwords)) assert.not.ok(p.logs().includes(secret), 'a password was logged');
});

test.run();
