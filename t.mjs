import { startLocalCluster, startLocalProcess } from './dist/src/control/local.js';
import { freePort } from './dist/src/control/nats-node.js';
import { spawnSync } from 'node:child_process';
const c = await startLocalCluster();
const w = await startLocalProcess('worker', c.servers, { DIPS_WORKER_FUNCTIONS: 'echo' });
const port = await freePort();
const g = await startLocalProcess('gateway', c.servers, { DIPS_GATEWAY_PORT: String(port) });
for (const size of [1000, 60000, 70000, 200000, 829000]) {
  const r = spawnSync('php', ['-r', `$c = new GearmanClient(); $c->addServer('127.0.0.1', ${port}); $d = str_repeat('x', ${size}); $c->doNormal('echo', $d); $t = microtime(true); for ($i = 0; $i < 10; $i++) $c->doNormal('echo', $d); echo round((microtime(true) - $t) * 100, 2);`], { encoding: 'utf8' });
  console.log(size, 'bytes: ms per call', r.stdout, r.stderr);
}
await g.stop(); await w.stop(); await c.stop();
