/** TLS for clients and routes: a cluster that requires it serves DIPS with nats.tls.ca set, and refuses a client that cannot verify it. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from 'nats';
import { DipsClient } from '../src/client/index.js';
import { loadConfig } from '../src/shared/config.js';
import { freePort, sleep, startNatsServer, startNode, waitForRoutes, type RunningNode } from '../src/control/nats-node.js';
import { ROUTE } from '../src/control/secure.js';
import { projectRoot } from '../src/shared/config.js';
import { startCluster, startWorker, type Cluster, type Proc } from './harness.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'dips-tls-'));
const file = (name: string) => path.join(dir, name);
let cluster: Cluster;
let worker: Proc;

/** A throwaway CA and a server certificate for 127.0.0.1, made with openssl. */
function makeCertificates(): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-days', '1', '-subj', '/CN=dips-test-ca', '-keyout', 'ca-key.pem', '-out', 'ca.pem');
  ssl('req', ...ec, '-subj', '/CN=127.0.0.1', '-keyout', 'server-key.pem', '-out', 'server.csr');
  writeFileSync(file('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '1', '-extfile', 'ext.cnf', '-out', 'server.pem');
}

test.before(async () => {
  makeCertificates();
  cluster = await startCluster({ tls: { cert: file('server.pem'), key: file('server-key.pem'), ca: file('ca.pem') } });
  // the worker on node A, the client on node B: the call crosses the TLS route
  worker = await startWorker([cluster.servers[0]], { DIPS_WORKER_FUNCTIONS: 'echo', DIPS_NATS_TLS_CA: file('ca.pem') });
});
test.after(async () => {
  await worker?.stop();
  await cluster?.stop();
});

test('a worker and a client with nats.tls.ca talk over TLS (routes too: they are on different nodes)', async () => {
  const dips = new DipsClient({ config: loadConfig({ argv: [], env: {}, overrides: { nats: { servers: [cluster.servers[1]], tls: { ca: file('ca.pem') } } } }) });
  assert.is(Buffer.from((await dips.call('echo', Buffer.from('over tls'))) as Uint8Array).toString(), 'over tls');
  await dips.close();
});

test('a client that cannot verify the server is refused', async () => {
  try {
    const nc = await connect({ servers: cluster.servers, reconnect: false, maxReconnectAttempts: 0, timeout: 2000 });
    await nc.close();
    assert.unreachable('connected without the CA');
  } catch (err) {
    assert.match(String(err), /certificate|self.signed|TLS|verify/i);
  }
});

/** KEY=VALUE lines, as systemd's EnvironmentFile= reads them. */
function readEnv(file: string): Record<string, string> {
  return Object.fromEntries(readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

test('secure-install: its folder runs a mesh with TLS, users and a verified, authenticated route; nothing else gets in', async () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'dips-install-'));
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const spec = (i: number) => `${'ab'[i]}=127.0.0.1:${ports[i * 3]}:${ports[i * 3 + 1]}:${ports[i * 3 + 2]}`;
  const made = spawnSync(process.execPath, [path.join(projectRoot, 'dist/src/control/secure-install.js'), '--dir', out, '--nodes', `${spec(0)},${spec(1)}`, '--callers', 'web1', '--listen', '127.0.0.1'], { encoding: 'utf8' });
  assert.is(made.status, 0, made.stderr);
  for (const secret of ['nats-a.env', 'nats-b.env', 'agent.env', 'caller-web1.env', 'ca-key.pem', 'deploy.pem']) assert.is(statSync(path.join(out, secret)).mode & 0o077, 0, `${secret} is readable by others`);
  // the deploy key pair: agents trust the public key, the admin's dipsctl signs with the private one
  assert.is(readEnv(path.join(out, 'agent.env')).DIPS_DEPLOY_PUBLIC_KEYS, path.join(out, 'deploy.pub.pem'));
  assert.is(readEnv(path.join(out, 'admin.env')).DIPS_DEPLOY_SIGNING_KEY, path.join(out, 'deploy.pem'));
  assert.ok(statSync(path.join(out, 'deploy.pub.pem')).isFile());
  const nodes: RunningNode[] = [];
  let worker: Proc | undefined;
  let stranger: RunningNode | undefined;
  try {
    for (const i of [0, 1]) {
      const name = 'ab'[i];
      nodes.push(await startNatsServer(`install-${name}`, path.join(out, `nats-${name}.conf`), ports[i * 3], ports[i * 3 + 2], '127.0.0.1', { ...process.env, ...readEnv(path.join(out, `nats-${name}.env`)) }));
    }
    await Promise.all(nodes.map((n) => waitForRoutes(n.httpPort, 1)));
    // a worker on node A as the agent's workers connect, a caller of its own on node B: the call crosses the TLS route
    const agent = readEnv(path.join(out, 'agent.env'));
    const [urlA, urlB] = agent.DIPS_NATS_SERVERS.split(',');
    worker = await startWorker([urlA], { DIPS_NATS_TLS_CA: agent.DIPS_NATS_TLS_CA, DIPS_NATS_USER: agent.DIPS_AGENT_WORKER_USER, DIPS_NATS_PASS: agent.DIPS_AGENT_WORKER_PASS, DIPS_WORKER_FUNCTIONS: 'echo' });
    const caller = readEnv(path.join(out, 'caller-web1.env'));
    const dips = new DipsClient({ config: loadConfig({ argv: [], env: { ...caller, DIPS_NATS_SERVERS: urlB } }) });
    try {
      assert.is(Buffer.from((await dips.call('echo', Buffer.from('installed'))) as Uint8Array).toString(), 'installed');
    } finally {
      await dips.close();
    }
    // a client that verifies the server but has no user is refused
    try {
      const nc = await connect({ servers: [urlA], tls: { caFile: caller.DIPS_NATS_TLS_CA }, reconnect: false, maxReconnectAttempts: 0, timeout: 2000 });
      await nc.close();
      assert.unreachable('connected without a user');
    } catch (err) {
      assert.match(String(err), /AUTHORIZATION_VIOLATION|Authorization Violation/i);
    }
    // a stranger nats-server that knows the route password and trusts the install's CA, but whose
    // certificate comes from another CA (this file's), does not join: the route verifies certificates
    const routePass = readEnv(path.join(out, 'nats-a.env'))[ROUTE.passEnv];
    stranger = await startNode({
      name: 'stranger', clientPort: await freePort(), clusterPort: await freePort(), httpPort: await freePort(),
      routes: [`nats-route://${ROUTE.user}:${routePass}@127.0.0.1:${ports[1]}`],
      tls: { cert: file('server.pem'), key: file('server-key.pem'), ca: path.join(out, 'ca.pem') },
    });
    await sleep(1500);
    const routes = (await (await fetch(`http://127.0.0.1:${stranger.httpPort}/routez`)).json()) as { num_routes: number };
    assert.is(routes.num_routes, 0, 'the stranger joined the route');
  } finally {
    await stranger?.stop('SIGKILL');
    await worker?.stop();
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
  }
});

test.run();
