/** The benchmark scenarios: each starts its systems, measures, stops them. */
import { DipsClient } from '../src/client/index.js';
import { loadConfig } from '../src/shared/config.js';
import { phpSerialize } from '../src/shared/codec/php.js';
import { freePort } from '../src/control/nats-node.js';
import { startLocalCluster, startLocalProcess, type LocalProcess } from '../src/control/local.js';
import { drawCard, layoutFor } from '../src/services/functions/ecard/card.js';
import { ecard } from '../src/services/functions/ecard/index.js';
import { phpCallers, startGearmand, startPhpWorkers, stopAll } from './peers.js';
import { summarize, type Summary } from './stats.js';

export interface Row extends Summary {
  scenario: string;
  system: string;
  concurrency: number;
  note?: string;
}

export interface BenchContext {
  scale: number;
  progress(line: string): void;
}

export interface Scenario {
  title: string;
  run(ctx: BenchContext): Promise<Row[]>;
}

const CARD = { pSN: '1234567890', pData: Array.from({ length: 80 }, (_, i) => String((i * 37) % 100).padStart(2, '0')).join(', ') };
const WORKERS = 2;
const IGNORE_PROGRESS = { data() {}, warning() {}, status() {} };

/** A DIPS mesh on free ports: cluster, `workers` worker processes, one gateway. */
async function startMesh(workers: number, env: Record<string, string> = {}) {
  const cluster = await startLocalCluster();
  const procs: LocalProcess[] = await Promise.all(Array.from({ length: workers }, () => startLocalProcess('worker', cluster.servers, { DIPS_LOG_LEVEL: 'warn', ...env }, '"msg":"worker ready"')));
  const port = await freePort();
  const gateway = await startLocalProcess('gateway', cluster.servers, { DIPS_LOG_LEVEL: 'info', DIPS_GATEWAY_PORT: String(port) });
  const client = new DipsClient({ config: loadConfig({ argv: [], env: {}, overrides: { nats: { servers: cluster.servers } } }) });
  return {
    port,
    client,
    async stop() {
      await client.close();
      await Promise.all([gateway, ...procs].map((p) => p.stop()));
      await cluster.stop();
    },
  };
}

async function startAnchor(workers: number) {
  const port = await freePort();
  const gearmand = await startGearmand(port);
  const phpWorkers = startPhpWorkers(port, workers);
  await new Promise((r) => setTimeout(r, 500)); // PHP workers connect and CAN_DO
  return { port, stop: () => stopAll([...phpWorkers, gearmand]) };
}

/** `concurrency` loops of sequential native calls. */
async function nativeCalls(client: DipsClient, fn: string, input: Record<string, unknown> | Uint8Array, concurrency: number, calls: number) {
  const latencies: number[] = [];
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = 0; i < calls; i++) {
        const t = performance.now();
        try {
          await client.call(fn, input);
          latencies.push(performance.now() - t);
        } catch {
          failed++;
        }
      }
    }),
  );
  return { latencies, failed, seconds: (performance.now() - started) / 1000 };
}

const row = (scenario: string, system: string, concurrency: number, r: { latencies: number[]; failed: number; seconds: number }, note?: string): Row => ({
  scenario, system, concurrency, note, ...summarize(r.latencies, r.failed, r.seconds),
});

export const scenarios: Record<string, Scenario> = {
  'ecard-render': {
    title: 'per-card render time inside one worker process (draw + PNG encode)',
    async run(ctx) {
      const layout = await layoutFor(1);
      const n = Math.round(2000 * ctx.scale);
      const draw: number[] = [];
      const full: number[] = [];
      const values = CARD.pData.split(', ');
      for (let i = 0; i < n; i++) {
        let t = performance.now();
        drawCard(layout, CARD.pSN, values);
        draw.push(performance.now() - t);
        t = performance.now();
        await ecard.run({ fn: 'ecard', id: '', params: CARD, body: new Uint8Array(), encoding: 'msgpack', deadline: Date.now() + 10_000, signal: new AbortController().signal, progress: IGNORE_PROGRESS });
        full.push(performance.now() - t);
      }
      const seconds = full.reduce((a, b) => a + b, 0) / 1000;
      return [
        row('ecard-render', 'draw pixels only', 1, { latencies: draw, failed: 0, seconds: draw.reduce((a, b) => a + b, 0) / 1000 }),
        row('ecard-render', 'draw + PNG (sharp)', 1, { latencies: full, failed: 0, seconds }),
      ];
    },
  },

  ecard: {
    title: `the seed's PHP client: gearmand + PHP/GD workers vs DIPS gateway + DIPS workers (${WORKERS} workers each)`,
    async run(ctx) {
      const rows: Row[] = [];
      const payload = phpSerialize(CARD);
      const calls = Math.round(400 * ctx.scale);
      const anchor = await startAnchor(WORKERS);
      const mesh = await startMesh(WORKERS);
      try {
        for (const c of [1, 8]) {
          ctx.progress(`gearmand + PHP GD, ${c} callers`);
          rows.push(row('ecard', 'gearmand + PHP GD', c, await phpCallers(anchor.port, 'ecard', payload, c, Math.ceil(calls / c))));
          ctx.progress(`DIPS gateway, ${c} callers`);
          rows.push(row('ecard', 'DIPS via gateway', c, await phpCallers(mesh.port, 'ecard', payload, c, Math.ceil(calls / c))));
          ctx.progress(`DIPS native, ${c} callers`);
          rows.push(row('ecard', 'DIPS native client', c, await nativeCalls(mesh.client, 'ecard', CARD, c, Math.ceil(calls / c))));
        }
      } finally {
        await mesh.stop();
        await anchor.stop();
      }
      return rows;
    },
  },

  echo: {
    title: 'dispatch round-trip of a 100-byte echo job',
    async run(ctx) {
      const rows: Row[] = [];
      const payload = Buffer.alloc(100, 0x61);
      const calls = Math.round(2000 * ctx.scale);
      const anchor = await startAnchor(WORKERS);
      const mesh = await startMesh(WORKERS);
      try {
        for (const c of [1, 8, 64]) {
          const per = Math.max(10, Math.ceil(calls / c));
          ctx.progress(`gearmand + PHP worker, ${c} callers`);
          rows.push(row('echo', 'gearmand + PHP worker', c, await phpCallers(anchor.port, 'echo', payload, c, per)));
          ctx.progress(`DIPS gateway, ${c} callers`);
          rows.push(row('echo', 'DIPS via gateway', c, await phpCallers(mesh.port, 'echo', payload, c, per)));
          ctx.progress(`DIPS native NATS, ${c} callers`);
          rows.push(row('echo', 'DIPS native NATS', c, await nativeCalls(mesh.client, 'echo', payload, c, per)));
        }
      } finally {
        await mesh.stop();
        await anchor.stop();
      }
      return rows;
    },
  },
};
