/**
 * Guest mode: a node's workers run at the lowest priority (SCHED_IDLE, nice 19,
 * idle I/O class) and take no new job while the host's own processes keep its
 * CPUs busy — the jobs go to the other node — and take them again when the
 * host is idle. A dedicated node's workers keep normal priority.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { connect, type NatsConnection } from 'nats';
import { broadcast } from '../src/control/broadcast.js';
import type { NodeReply } from '../src/shared/control.js';
import { statusTable } from '../src/control/report.js';
import { clientFor, startCluster, startProcess, waitFor, type Cluster, type Proc } from './harness.js';

let cluster: Cluster;
let guest: Proc;
let dedicated: Proc;
let nc: NatsConnection;

async function nodes(): Promise<Map<string, NodeReply>> {
  const r = await broadcast(nc, 'status', {}, 1500);
  return new Map(r.replies.map((n) => [n.node, n]));
}

/** Scheduling policy (7: 0 normal, 5 SCHED_IDLE) and nice of a process, from /proc/<pid>/stat. */
function scheduling(pid: number): { policy: number; nice: number; io: string } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const io = spawnSync('ionice', ['-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  return { nice: Number(fields[16]), policy: Number(fields[38]), io };
}

const done = (n: NodeReply | undefined) => (n?.workers ?? []).reduce((sum, w) => sum + (w.done ?? 0), 0);

test.before(async () => {
  cluster = await startCluster();
  const common = { DIPS_WORKER_PROCESSES: '2', DIPS_WORKER_CONCURRENCY: '2', DIPS_AGENT_METRICS_PORT: '0' };
  guest = await startProcess('agent', cluster, { ...common, DIPS_AGENT_NODE: 'guest1', DIPS_AGENT_MODE: 'guest', DIPS_AGENT_GUEST_HOST_CPU_MAX: '0.5' }, '"msg":"agent ready"');
  dedicated = await startProcess('agent', cluster, { ...common, DIPS_AGENT_NODE: 'dedicated1', DIPS_AGENT_MODE: 'dedicated' }, '"msg":"agent ready"');
  nc = await connect({ servers: cluster.servers });
  await waitFor(async () => [...(await nodes()).values()].every((n) => n.workers.filter((w) => w.state === 'running').length === 2), 20_000, 'both nodes\' workers');
});
test.after(async () => {
  await nc?.close();
  await Promise.all([guest, dedicated].filter(Boolean).map((p) => p.stop()));
  await cluster?.stop();
});

test('a guest node\'s workers run at SCHED_IDLE, nice 19, idle I/O class; a dedicated node\'s at normal priority', async () => {
  const all = await nodes();
  for (const w of all.get('guest1')!.workers) assert.equal(scheduling(w.pid), { policy: 5, nice: 19, io: 'idle' }, `guest worker ${w.pid}`);
  for (const w of all.get('dedicated1')!.workers) {
    const s = scheduling(w.pid);
    assert.equal([s.policy, s.nice], [0, 0], `dedicated worker ${w.pid}`);
  }
  assert.is(all.get('guest1')!.guest?.mode, 'guest');
  assert.is(all.get('dedicated1')!.guest?.mode, 'dedicated');
});

test('while the host\'s own processes keep its CPUs busy, the guest takes no new job and they go to the other node; then it takes them again', async () => {
  const client = clientFor(cluster);
  const call = () => client.call('ecard', { pSN: 'guest', pData: Array.from({ length: 80 }, (_, i) => i % 100) });
  try {
    // the host's own work: one CPU-bound process per CPU, at normal priority, not DIPS
    const hogs: ChildProcess[] = Array.from({ length: os.availableParallelism() }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
    try {
      let table = '';
      await waitFor(async () => {
        const all = await nodes();
        table = statusTable([...all.values()]);
        return all.get('guest1')?.guest?.share === 0;
      }, 10_000, 'the guest to see its host busy');
      assert.match(table, /guest1: guest — host CPU \d+ %.*taking no new job/, table);
      const before = await nodes();
      for (let i = 0; i < 20; i++) await call();
      const after = await nodes();
      const byGuest = done(after.get('guest1')) - done(before.get('guest1'));
      const byDedicated = done(after.get('dedicated1')) - done(before.get('dedicated1'));
      assert.ok(byGuest <= 1, `the busy guest ran ${byGuest} of 20 calls`);
      assert.ok(byDedicated >= 19, `the dedicated node ran ${byDedicated} of 20 calls`);
    } finally {
      for (const h of hogs) h.kill('SIGKILL');
    }
    await waitFor(async () => ((await nodes()).get('guest1')?.guest?.share ?? 0) >= 0.5, 30_000, 'the guest to see its host idle again');
    const before = await nodes();
    await Promise.all(Array.from({ length: 40 }, call));
    const byGuest = done((await nodes()).get('guest1')) - done(before.get('guest1'));
    assert.ok(byGuest > 0, 'the idle guest takes jobs again');
  } finally {
    await client.close();
  }
});

test.run();
