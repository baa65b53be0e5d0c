/** TLS for clients and routes: a cluster that requires it serves DIPS with nats.tls.ca set, and refuses a client that cannot verify it. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from 'nats';
import { DipsClient } from '../src/client/index.js';
import { loadConfig } from '../src/shared/config.js';
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

test.run();
