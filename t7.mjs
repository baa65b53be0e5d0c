import { startLocalCluster, startLocalProcess } from './dist/src/control/local.js';
import { freePort } from './dist/src/control/nats-node.js';
import { spawnSync } from 'node:child_process';
let fails = 0;
for (let i = 0; i < 15; i++) {
  const c = await startLocalCluster();
  const ws = await Promise.all([0, 1].map(() => startLocalProcess('worker', c.servers)));
  const ports = [await freePort(), await freePort()];
  const gs = await Promise.all(ports.map((p) => startLocalProcess('gateway', c.servers, { DIPS_GATEWAY_PORT: String(p), DIPS_LOG_LEVEL: 'trace' })));
  const t = Date.now();
  const r = spawnSync('php', ['-r', `$d = new GearmanClient(); $d->addServer('127.0.0.1', ${ports[0]}); $d->addServer('127.0.0.1', ${ports[1]}); $img = $d->doNormal('ecard', serialize(['pSN' => '1', 'pData' => implode(',', range(10, 89))])); echo strlen($img);`], { encoding: 'utf8', timeout: 10000 });
  const ms = Date.now() - t;
  if (r.status !== 0 || ms > 1500) { fails++; console.log('iteration', i, 'status', r.status, 'ms', ms, r.stdout, r.stderr.slice(0, 300)); for (const g of gs) console.log(g.logs().split('\n').filter(l => /packet|job|error|warn/i.test(l)).slice(-15).join('\n')); }
  await Promise.all([...gs, ...ws].map((p) => p.stop('SIGKILL'))); await c.stop();
}
console.log('fails', fails);
