#!/usr/bin/env node
/**
 * `npm run soak`: continuous load (native callers, PHP callers through both
 * gateways) while each NATS node is killed -9 and restarted in turn and
 * workers are killed mid-job. Prints per phase: calls, succeeded, failed,
 * resent, p50/p99 latency, peak memory of every process; writes a JSON report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { DipsClient } from '../src/client/index.js';
import { loadConfig, projectRoot } from '../src/shared/config.js';
import { phpSerialize } from '../src/shared/codec/php.js';
import { runMain } from '../src/shared/process.js';
import { startLocalCluster, startLocalProcess, type LocalProcess } from '../src/control/local.js';
import { freePort } from '../src/control/nats-node.js';
import { markdownTable, percentile } from './stats.js';

const program = new Command('dips-soak')
  .description('Soak DIPS under load while NATS nodes and workers are killed')
  .option('-p, --phase <seconds>', 'seconds per phase', '10')
  .parse();

interface Sample {
  at: number;
  ms: number;
  ok: boolean;
}

const anchors = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/anchors');
const CARD = { pSN: '1234567890', pData: Array.from({ length: 80 }, (_, i) => i % 100) };

runMain(async () => {
  const phaseMs = Number(program.opts<{ phase: string }>().phase) * 1000 || 10_000;
  const cluster = await startLocalCluster();
  const workers: LocalProcess[] = await Promise.all([0, 1, 2].map(() => startLocalProcess('worker', cluster.servers)));
  const ports = [await freePort(), await freePort()];
  const gateways = await Promise.all(ports.map((p) => startLocalProcess('gateway', cluster.servers, { DIPS_GATEWAY_PORT: String(p) })));
  const client = new DipsClient({ config: loadConfig({ argv: [], env: {}, overrides: { nats: { servers: cluster.servers } } }) });

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

  const peaks = new Map<string, number>();
  const processes = () => [
    ...cluster.nodes.map((n, i) => [`nats ${'ab'[i]}`, n.process.pid] as const),
    ...workers.map((w, i) => [`worker ${i + 1}`, w.child.pid] as const),
    ...gateways.map((g, i) => [`gateway ${i + 1}`, g.child.pid] as const),
    ['soak (native callers)', process.pid] as const,
  ];
  const sampler = setInterval(() => {
    for (const [name, pid] of processes()) {
      try {
        const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
        peaks.set(name, Math.max(peaks.get(name) ?? 0, kb));
      } catch {
        // that process is down right now
      }
    }
  }, 250);

  const phases: Array<{ name: string; start: number; end: number; resentBefore: number; resentAfter: number }> = [];
  const phase = async (name: string, action: () => Promise<void>) => {
    const resentBefore = await client.resent();
    const start = Date.now();
    process.stderr.write(`phase: ${name}\n`);
    await action();
    await new Promise((r) => setTimeout(r, Math.max(0, phaseMs - (Date.now() - start))));
    phases.push({ name, start, end: Date.now(), resentBefore, resentAfter: await client.resent() });
  };

  await phase('before', async () => undefined);
  await phase('NATS a killed -9', () => cluster.nodes[0].stop('SIGKILL'));
  await phase('NATS a restarted', () => cluster.restart(0));
  await phase('NATS b killed -9', () => cluster.nodes[1].stop('SIGKILL'));
  await phase('NATS b restarted', () => cluster.restart(1));
  await phase('2 workers killed -9, 1 started', async () => {
    workers[0].child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    workers[1].child.kill('SIGKILL');
    workers.push(await startLocalProcess('worker', cluster.servers));
  });
  await phase('after', async () => undefined);

  running = false;
  await Promise.all(loops);
  for (const p of php) p.kill('SIGKILL');
  clearInterval(sampler);

  const rows = phases.map((p) => {
    const inPhase = samples.filter((s) => s.at >= p.start && s.at < p.end);
    const lat = inPhase.map((s) => s.ms).sort((a, b) => a - b);
    return {
      phase: p.name,
      calls: inPhase.length,
      succeeded: inPhase.filter((s) => s.ok).length,
      failed: inPhase.filter((s) => !s.ok).length,
      resent: p.resentAfter - p.resentBefore,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
    };
  });
  const header = ['phase', 'calls', 'ok', 'failed', 'resent', 'p50 ms', 'p99 ms'];
  const body = rows.map((r) => [r.phase, String(r.calls), String(r.succeeded), String(r.failed), String(r.resent), r.p50.toFixed(1), r.p99.toFixed(1)]);
  process.stdout.write(markdownTable(header, body) + '\n\npeak memory (RSS):\n');
  for (const [name, kb] of peaks) process.stdout.write(`  ${name.padEnd(24)} ${(kb / 1024).toFixed(0)} MiB\n`);
  const total = rows.reduce((n, r) => n + r.failed, 0);
  process.stdout.write(`\n${samples.length} calls, ${total} failed\n`);
  const dir = path.join(projectRoot, 'bench', 'reports');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ phases: rows, peakMemoryKiB: Object.fromEntries(peaks) }, null, 2));
  process.stdout.write(`report: ${path.relative(projectRoot, file)}\n`);

  await client.close();
  await Promise.all([...gateways, ...workers].map((p) => p.stop('SIGKILL')));
  await cluster.stop();
  return total === 0 ? 0 : 1;
});
