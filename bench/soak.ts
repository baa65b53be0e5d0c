#!/usr/bin/env node
/**
 * `npm run soak`: continuous load (native callers, PHP callers through both
 * gateways) while each NATS node is killed -9 and restarted in turn and
 * workers are killed mid-job; then, where this machine can make network
 * namespaces (root, iproute2), the same load while whole machines vanish —
 * a NATS node's, a worker machine, the cluster route — by their links going
 * down (test/netns.ts). Prints per phase: calls, succeeded, failed, resent,
 * p50/p99 and slowest call, peak memory of every process; writes a JSON report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { DipsClient } from '../src/client/index.js';
import { loadConfig, projectRoot } from '../src/shared/config.js';
import { phpSerialize } from '../src/mesh/codec/php.js';
import { runMain } from '../src/shared/process.js';
import { startLocalCluster, startLocalProcess, type LocalProcess } from '../src/control/local.js';
import { freePort, startNode, waitForRoutes, type RunningNode } from '../src/control/nats-node.js';
// the test suite's machines (network namespaces joined by veth links), shared so both pull the same cables
import { netnsUnavailable, TestNet } from '../test/netns.js';
import { markdownTable, percentile } from './stats.js';

const program = new Command('dips-soak')
  .description('Soak DIPS under load while NATS nodes and workers are killed, then while machines vanish (network namespaces; root)')
  .option('-p, --phase <seconds>', 'seconds per phase', '10')
  .parse();

interface Sample {
  at: number;
  ms: number;
  ok: boolean;
}

const anchors = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/anchors');
const CARD = { pSN: '1234567890', pData: Array.from({ length: 80 }, (_, i) => i % 100) };

/** Calls under way against a mesh, and every call's outcome so far. */
interface Load {
  client: DipsClient;
  samples: Array<Sample & { caller: string }>;
  stop(): Promise<void>;
}

interface PhaseRow {
  phase: string;
  calls: number;
  succeeded: number;
  failed: number;
  resent: number;
  p50: number;
  p99: number;
  slowest: number;
}

/** Native ecard and delay callers, and a PHP caller per gateway port, until stopped. */
function startLoad(servers: string[], ports: number[]): Load {
  const client = new DipsClient({ config: loadConfig({ argv: [], env: {}, overrides: { nats: { servers } } }) });
  const samples: Array<Sample & { caller: string }> = [];
  let running = true;
  const nativeLoop = (name: string, call: () => Promise<unknown>) =>
    (async () => {
      while (running) {
        const t = performance.now();
        const at = Date.now();
        try {
          await call();
          samples.push({ caller: name, at, ms: performance.now() - t, ok: true });
        } catch {
          samples.push({ caller: name, at, ms: performance.now() - t, ok: false });
        }
      }
    })();
  const loops = [
    nativeLoop('native ecard', () => client.call('ecard', CARD)),
    nativeLoop('native ecard', () => client.call('ecard', CARD)),
    nativeLoop('native delay', () => client.call('delay', { ms: 100 })),
    nativeLoop('native delay', () => client.call('delay', { ms: 100 })),
  ];
  const payloadFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'dips-soak-')), 'card');
  writeFileSync(payloadFile, phpSerialize({ pSN: '1', pData: CARD.pData.join(',') }));
  const php: ChildProcess[] = ports.map((port) => {
    const child = spawn('php', [path.join(anchors, 'soak-caller.php'), String(port), 'ecard', payloadFile], { stdio: ['ignore', 'pipe', 'ignore'] });
    let rest = '';
    child.stdout!.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        const [at, ms, ok] = line.split(' ');
        samples.push({ caller: `php :${port}`, at: Number(at) - Number(ms), ms: Number(ms), ok: ok === '1' });
      }
    });
    return child;
  });
  return {
    client,
    samples,
    async stop() {
      running = false;
      await Promise.all(loops);
      for (const p of php) p.kill('SIGKILL');
      await client.close();
    },
  };
}

/** Run `mesh` through its phases, each `phaseMs` long at least; one row per phase. */
async function runPhases(mesh: Load, phaseMs: number, steps: Array<[string, () => Promise<void>]>): Promise<PhaseRow[]> {
  const rows: PhaseRow[] = [];
  for (const [name, action] of steps) {
    const resentBefore = await mesh.client.resent();
    const start = Date.now();
    process.stderr.write(`phase: ${name}\n`);
    await action();
    await new Promise((r) => setTimeout(r, Math.max(0, phaseMs - (Date.now() - start))));
    const end = Date.now();
    const inPhase = mesh.samples.filter((s) => s.at >= start && s.at < end);
    const lat = inPhase.map((s) => s.ms).sort((a, b) => a - b);
    rows.push({
      phase: name,
      calls: inPhase.length,
      succeeded: inPhase.filter((s) => s.ok).length,
      failed: inPhase.filter((s) => !s.ok).length,
      resent: (await mesh.client.resent()) - resentBefore,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      slowest: lat.at(-1) ?? NaN,
    });
  }
  return rows;
}

/** Processes killed: every part on this machine's loopback. */
async function processFaults(phaseMs: number, watch: (list: () => Array<readonly [string, number | undefined]>) => void): Promise<PhaseRow[]> {
  const cluster = await startLocalCluster();
  const workers: LocalProcess[] = await Promise.all([0, 1, 2].map(() => startLocalProcess('worker', cluster.servers)));
  const ports = [await freePort(), await freePort()];
  const gateways = await Promise.all(ports.map((p) => startLocalProcess('gateway', cluster.servers, { DIPS_GATEWAY_PORT: String(p) })));
  watch(() => [
    ...cluster.nodes.map((n, i) => [`nats ${'ab'[i]}`, n.process.pid] as const),
    ...workers.map((w, i) => [`worker ${i + 1}`, w.child.pid] as const),
    ...gateways.map((g, i) => [`gateway ${i + 1}`, g.child.pid] as const),
    ['soak (native callers)', process.pid] as const,
  ]);
  const load = startLoad(cluster.servers, ports);
  const rows = await runPhases(load, phaseMs, [
    ['before', async () => undefined],
    ['NATS a killed -9', () => cluster.nodes[0].stop('SIGKILL')],
    ['NATS a restarted', () => cluster.restart(0)],
    ['NATS b killed -9', () => cluster.nodes[1].stop('SIGKILL')],
    ['NATS b restarted', () => cluster.restart(1)],
    [
      '2 workers killed -9, 1 started',
      async () => {
        workers[0].child.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, 1000));
        workers[1].child.kill('SIGKILL');
        workers.push(await startLocalProcess('worker', cluster.servers));
      },
    ],
    ['after', async () => undefined],
  ]);
  await load.stop();
  await Promise.all([...gateways, ...workers].map((p) => p.stop('SIGKILL')));
  await cluster.stop();
  return rows;
}

/**
 * Machines vanish: NATS a and b each on a machine of its own (their route on
 * a cable of its own), a worker machine with an agent and two workers; the
 * gateways, two more workers and the callers on this machine.
 */
async function machineFaults(phaseMs: number, watch: (list: () => Array<readonly [string, number | undefined]>) => void): Promise<PhaseRow[]> {
  const net = new TestNet();
  const procs: LocalProcess[] = [];
  const nodes: RunningNode[] = [];
  try {
    const [hostA, hostB, hostW] = [net.host('soak-a'), net.host('soak-b'), net.host('soak-w')];
    const route = net.link(hostA, hostB);
    for (const [i, host] of [hostA, hostB].entries()) {
      nodes.push(
        await startNode({ name: `soak-${'ab'[i]}`, host: host.address, clientPort: 4222, clusterPort: 6222, httpPort: 8222, clusterHost: route.addresses[i], routes: [`nats-route://${route.addresses[1 - i]}:6222`], prefix: host.prefix }),
      );
    }
    await waitForRoutes(8222, 1, 10_000, hostA.address);
    const servers = [hostA, hostB].map((h) => `nats://${h.address}:4222`);
    const start = async (role: 'worker' | 'gateway' | 'agent', env: Record<string, string>, prefix?: string[]) => {
      const p = await startLocalProcess(role, servers, { DIPS_AGENT_METRICS_PORT: '0', ...env }, undefined, prefix);
      procs.push(p);
      return p;
    };
    await start('agent', { DIPS_WORKER_PROCESSES: '2', DIPS_AGENT_NODE: 'soak-w' }, hostW.prefix);
    await Promise.all([0, 1].map(() => start('worker', {})));
    const ports = [await freePort(), await freePort()];
    for (const port of ports) await start('gateway', { DIPS_GATEWAY_PORT: String(port), DIPS_GATEWAY_SECOND_PORT: '0' });
    watch(() => procs.map((p, i) => [`machines: ${i === 0 ? 'agent' : i < 3 ? `worker ${i}` : `gateway ${i - 2}`}`, p.child.pid] as const));
    const load = startLoad(servers, ports);
    const rows = await runPhases(load, phaseMs, [
      ['machines: before', async () => undefined],
      ['NATS a machine vanished', async () => hostA.down()],
      ['NATS a machine back', async () => hostA.up()],
      ['worker machine vanished', async () => hostW.down()],
      ['worker machine back', async () => hostW.up()],
      ['route a-b cut', async () => route.down()],
      ['route a-b back', async () => route.up()],
    ]);
    await load.stop();
    return rows;
  } finally {
    await Promise.all(procs.map((p) => p.stop('SIGTERM')));
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    net.cleanup();
  }
}

runMain(async () => {
  const phaseMs = Number(program.opts<{ phase: string }>().phase) * 1000 || 10_000;
  const peaks = new Map<string, number>();
  const watched: Array<() => Array<readonly [string, number | undefined]>> = [];
  const sampler = setInterval(() => {
    for (const [name, pid] of watched.flatMap((list) => list())) {
      try {
        const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
        peaks.set(name, Math.max(peaks.get(name) ?? 0, kb));
      } catch {
        // that process is down right now
      }
    }
  }, 250);
  const watch = (list: () => Array<readonly [string, number | undefined]>) => void watched.push(list);

  const rows = await processFaults(phaseMs, watch);
  const why = netnsUnavailable();
  if (why) process.stderr.write(`machine phases skipped: ${why}\n`);
  else rows.push(...(await machineFaults(phaseMs, watch)));
  clearInterval(sampler);

  const header = ['phase', 'calls', 'ok', 'failed', 'resent', 'p50 ms', 'p99 ms', 'slowest ms'];
  const body = rows.map((r) => [r.phase, String(r.calls), String(r.succeeded), String(r.failed), String(r.resent), r.p50.toFixed(1), r.p99.toFixed(1), r.slowest.toFixed(0)]);
  process.stdout.write(markdownTable(header, body) + '\n\npeak memory (RSS):\n');
  for (const [name, kb] of peaks) process.stdout.write(`  ${name.padEnd(24)} ${(kb / 1024).toFixed(0)} MiB\n`);
  const calls = rows.reduce((n, r) => n + r.calls, 0);
  const total = rows.reduce((n, r) => n + r.failed, 0);
  process.stdout.write(`\n${calls} calls, ${total} failed\n`);
  const dir = path.join(projectRoot, 'bench', 'reports');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ phases: rows, peakMemoryKiB: Object.fromEntries(peaks) }, null, 2));
  process.stdout.write(`report: ${path.relative(projectRoot, file)}\n`);
  return total === 0 ? 0 : 1;
});
