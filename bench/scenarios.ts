/** The benchmark scenarios: each starts its systems, measures, stops them. */
import { DipsClient, type CallOptions } from '../src/client/index.js';
import { phpSerialize } from '../src/mesh/codec/php.js';
import { drawCard, layoutFor } from '../src/services/functions/ecard/card.js';
import { ecard } from '../src/services/functions/ecard/index.js';
import sharp from 'sharp';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAnchor, startMesh, withAnchorAndMesh } from './systems.js';
import { phpCallers, phpJson, phpHas } from './peers.js';
import { benchPhoto } from './photo.js';
import { offload } from './offload.js';
import { httpScenario } from './http.js';
import { guestScenario } from './guest.js';
import { CARD } from './card.js';
import { natsFloor, startGearmanFloor, startLibraryFloor, tcpFloor } from './floors.js';
import { cpuPerCall } from './cpu.js';
import { inTurns, type Side } from './turns.js';
import { summarize, timedLoops, type Summary } from './stats.js';

export interface Row extends Summary {
  scenario: string;
  system: string;
  concurrency: number;
  note?: string;
  /** CPU milliseconds per call by kind of process, where measured. */
  cpuMsPerCall?: Record<string, number>;
  /** Figures a row's targets are judged on that are not rates or latencies (a ratio, a share of jobs). */
  figures?: Record<string, number>;
}

export interface BenchContext {
  scale: number;
  progress(line: string): void;
}

export interface Scenario {
  title: string;
  /** Needs no anchor (gearmand, PHP): runs where those are not installed. */
  standalone?: boolean;
  run(ctx: BenchContext): Promise<Row[]>;
}

const WORKERS = 2;
const IGNORE_PROGRESS = { data() {}, warning() {}, status() {} };

/** `concurrency` loops of sequential native calls. */
const nativeCalls = (client: DipsClient, fn: string, input: Record<string, unknown> | Uint8Array, concurrency: number, calls: number, options: CallOptions = {}) =>
  timedLoops(concurrency, calls, () => client.call(fn, input, options));

/** A row with the CPU microseconds per job of the named process groups in its note. */
function withCpu(r: Row, cpuMsPerCall: Record<string, number>, shown: string[]): Row {
  const cpu = shown.map((k) => `${k} ${(cpuMsPerCall[k] * 1000).toFixed(0)} µs`).join(', ');
  return { ...r, cpuMsPerCall, note: [r.note, `CPU/job: ${cpu}`].filter(Boolean).join('; ') };
}

/** Echo calls each of `callers` PHP processes makes out of `calls`: 64 PHP callers take seconds to start on two cores, so they get enough that the loops overlap for most of the run. */
const phpCallsEach = (callers: number, calls: number) => Math.max(10, Math.ceil((callers === 64 ? 3 * calls : calls) / callers));

/** Rounds of every comparison measured in turns (see turns.ts). */
const ROUNDS = 3;

/** Calls per caller, 8 callers, on every side before the echo and ecard measurements. */
const WARM_UP_CALLS = 500;
/** Calls of 65 KB each side makes before its 65 KB rows. */
const BIG_WARM_UP_CALLS = 200;

const row = (scenario: string, system: string, concurrency: number, r: { latencies: number[]; failed: number; seconds: number }, note?: string): Row => ({
  scenario, system, concurrency, note, ...summarize(r.latencies, r.failed, r.seconds),
});

/** One burst through a Gearman server: foreground jobs in one runTasks, then background jobs until the server holds none. */
function burst(port: number, fg: number, bg: number, ms: number): Promise<BurstResult> {
  return phpJson<BurstResult>('burst.php', [String(port), 'delay', String(fg), String(bg), String(ms)]);
}

interface BurstResult {
  foreground: { latencies: number[]; failed: number; seconds: number };
  background: { accepted: number; left: number; submitSeconds: number; seconds: number };
}

/** A counter from a gateway's Prometheus metrics. */
async function gatewayCounter(metricsPort: number, prefix: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return Number(text.split('\n').find((l) => l.startsWith(prefix))?.split(' ').pop() ?? 0);
}

export const scenarios: Record<string, Scenario> = {
  burst: {
    title: 'a peak: 1000 foreground then 2000 background 20 ms jobs from PHP, 4 worker slots each side (gearmand: 4 PHP workers; DIPS: 2 workers x 2 slots)',
    async run(ctx) {
      const fg = Math.round(1000 * ctx.scale);
      const bg = Math.round(2000 * ctx.scale);
      const rows: Row[] = [];
      await withAnchorAndMesh(
        WORKERS,
        async (anchor, mesh) => {
          // a freed slot gets its next job one round trip later: gateway -> NATS -> worker -> NATS -> gateway
          const rtt = summarize((await nativeCalls(mesh.client, 'echo', Buffer.from('x'), 1, 300)).latencies, 0, 1).p50;
          const slots = WORKERS * 2;
          // gearmand keeping background jobs on disk too (its libsqlite3 queue), as the gateway does
          const durable = await startAnchor(slots, ['-q', 'libsqlite3', `--libsqlite3-db=${path.join(mkdtempSync(path.join(os.tmpdir(), 'dips-bench-gearmand-')), 'queue.db')}`]);
          const systems = [['gearmand + PHP workers', anchor.port], ['gearmand, sqlite queue', durable.port], ['DIPS via gateway', mesh.port]] as const;
          try {
          for (const [system, port] of systems) {
            ctx.progress(`${system}: ${fg} foreground, then ${bg} background`);
            const r = await burst(port, fg, bg, 20);
            const ran = system.startsWith('DIPS') ? await gatewayCounter(mesh.metricsPort, 'dips_gateway_jobs_total{function="delay",outcome="ok"') - (fg - r.foreground.failed) : r.background.accepted - r.background.left;
            const floor = system.startsWith('DIPS') ? `; floor ${((fg / slots) * (20 + rtt) / 1000).toFixed(2)} s = ${fg}/${slots} x (20 ms + ${rtt.toFixed(2)} ms NATS round trip)` : '';
            rows.push(row('burst fg', system, fg, r.foreground, `${fg - r.foreground.failed}/${fg} completed in ${r.foreground.seconds.toFixed(2)} s${floor}`));
            rows.push({
              ...row('burst bg', system, bg, { latencies: [], failed: bg - ran, seconds: r.background.seconds }),
              calls: bg,
              perSecond: ran / r.background.seconds,
              note: `${r.background.accepted}/${bg} accepted in ${r.background.submitSeconds.toFixed(2)} s, ${ran} ran; all done in ${r.background.seconds.toFixed(2)} s`,
            });
          }
          } finally {
            await durable.stop();
          }
        },
        2,
      );
      return rows;
    },
  },

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
        row('ecard-render', 'draw + grey PNG (zlib)', 1, { latencies: full, failed: 0, seconds }),
      ];
    },
  },

  ecard: {
    title: `the seed's PHP client: gearmand + PHP/GD workers vs DIPS gateway + DIPS workers (${WORKERS} workers each) vs the gateway's floor, ${ROUNDS} rounds in turns`,
    async run(ctx) {
      const rows: Row[] = [];
      const payload = phpSerialize(CARD);
      const calls = Math.round(1600 * ctx.scale);
      await withAnchorAndMesh(WORKERS, async (anchor, mesh) => {
        // the floor: a bare relay to nats.js responders that only draw and encode the card
        const drawers = await startLibraryFloor(mesh.servers[0], WORKERS, true);
        const relay = await startGearmanFloor('relay', mesh.servers[0]);
        try {
          await warmUp(anchor.port, mesh, 'ecard', payload, CARD, 100); // PHP + GD draws 100 cards a second
          await phpCallers(relay.port, 'ecard', payload, 8, 100);
          for (const c of [1, 4, 8]) {
            const each = Math.ceil(calls / c / ROUNDS);
            rows.push(...(await rowsInTurns(c, [
              ...phpSides({ fn: 'ecard', payload, callers: c, callsEach: each, anchor, mesh, relay, responders: drawers.pids }),
              { scenario: 'ecard', system: 'DIPS native client', label: `DIPS native, ${c} callers`, run: () => nativeCalls(mesh.client, 'ecard', CARD, c, each) },
            ], ctx.progress)));
          }
        } finally {
          relay.stop();
          await drawers.stop();
        }
      });
      return rows;
    },
  },

  echo: {
    title: `dispatch round-trip of an echo job: 100 bytes at 1, 8, 64 callers (gearmand, gateway, its floors and native in turns, ${ROUNDS} rounds); 65 KB at 1 in turns with the bare relay (every side warmed on 65 KB first); 829 KB at 1; CPU per job`,
    async run(ctx) {
      const rows: Row[] = [];
      const payload = Buffer.alloc(100, 0x61);
      const calls = Math.round(2000 * ctx.scale);
      await withAnchorAndMesh(WORKERS, async (anchor, mesh) => {
        ctx.progress('floors: a TCP round trip, a round trip through nats-server with minimal protocol clients, and nats.js alone');
        rows.push(row('echo floor', 'TCP round trip', 1, await tcpFloor(payload, calls), 'two sockets, one process'));
        const natsPort = Number(new URL(mesh.servers[0]).port);
        rows.push(row('echo floor', 'nats-server round trip', 1, await natsFloor(natsPort, payload, calls), 'hand-written clients, no library'));
        const library = await startLibraryFloor(mesh.servers[0], WORKERS);
        // the gateway's floors (bench/gearman-relay.ts): a bare relay to the library's responders, and Node answering PHP itself
        const relay = await startGearmanFloor('relay', mesh.servers[0]);
        const answer = await startGearmanFloor('answer', mesh.servers[0]);
        try {
          await library.calls(payload, 8, 8 * WARM_UP_CALLS); // warm up, as warmUp() does
          for (const c of [1, 8, 64]) {
            const cpu = cpuPerCall({ responders: library.pids, nats: mesh.pids.nats });
            // nats.js alone runs 10-30 thousand calls a second: enough of them that /proc's 10 ms CPU ticks measure something
            const r = await library.calls(payload, c, Math.ceil((c === 1 ? calls : 10 * calls) / c));
            rows.push(withCpu(row('echo floor', 'nats.js request/respond', c, r, `${WORKERS} responder processes, no DIPS code`), cpu(r.latencies.length), ['responders', 'nats']));
          }
          const big = Buffer.alloc(65 * 1024, 0x62);
          rows.push(row('echo 65 KB floor', 'nats-server round trip', 1, await natsFloor(natsPort, big, Math.round(calls / 2)), 'hand-written clients, no library'));
          // warmed on 65 KB first: nats.js's first few hundred big messages read twice as slow as the rest
          await library.calls(big, 1, BIG_WARM_UP_CALLS);
          rows.push(row('echo 65 KB floor', 'nats.js request/respond', 1, await library.calls(big, 1, Math.round(calls / 2)), 'no DIPS code'));
          ctx.progress(`warm-up: 8 callers x ${WARM_UP_CALLS} calls on each side (the Node processes compile their hot paths)`);
          await warmUp(anchor.port, mesh, 'echo', payload, payload);
          for (const floor of [relay, answer]) await phpCallers(floor.port, 'echo', payload, 8, WARM_UP_CALLS);
          for (const c of [1, 8, 64]) {
            // as many native calls a round as nats.js alone makes: native callers run 5-10 thousand a second, a short loop is mostly ramp
            const nativeEach = c === 1 ? phpCallsEach(1, calls) : Math.ceil((10 * calls) / c);
            // each round as many PHP calls as one measurement had before rounds: shorter loops of PHP processes are mostly their ragged start and end
            const each = phpCallsEach(c, calls);
            rows.push(...(await rowsInTurns(c, [
              ...phpSides({ fn: 'echo', payload, callers: c, callsEach: each, anchor, mesh, relay, responders: library.pids }),
              ...(c === 64 ? [{ scenario: 'echo floor', system: 'Gearman answered in Node', note: 'client sockets alone, no NATS', label: 'Node answering PHP itself, 64 callers', run: () => phpCallers(answer.port, 'echo', payload, c, each), cpu: { answer: [answer.pid] } }] : []),
              { scenario: 'echo', system: 'DIPS native NATS', label: `DIPS native NATS, ${c} callers`, run: () => nativeCalls(mesh.client, 'echo', payload, c, nativeEach), cpu: { workers: mesh.pids.workers, nats: mesh.pids.nats } },
            ], ctx.progress)));
          }
          // 65 KB from PHP: gearmand, the gateway and its bare relay in turns, each warmed on 65 KB first
          const sides65 = phpSides({ fn: 'echo', scenario: 'echo 65 KB', payload: big, callers: 1, callsEach: Math.ceil(Math.max(10, calls / 2) / ROUNDS), anchor, mesh, relay, responders: library.pids });
          for (const port of [anchor.port, mesh.port, relay.port]) await phpCallers(port, 'echo', big, 1, BIG_WARM_UP_CALLS);
          rows.push(...(await rowsInTurns(1, sides65, ctx.progress)));
        } finally {
          relay.stop();
          answer.stop();
          await library.stop();
        }
        const huge = Buffer.alloc(829 * 1024, 0x62);
        const per = Math.max(10, Math.round(200 * ctx.scale));
        ctx.progress('829 KB echo: gearmand, gateway');
        rows.push(row('echo 829 KB', 'gearmand + PHP worker', 1, await phpCallers(anchor.port, 'echo', huge, 1, per)));
        rows.push(row('echo 829 KB', 'DIPS via gateway', 1, await phpCallers(mesh.port, 'echo', huge, 1, per)));
      });
      return rows;
    },
  },
};

/** Parameters for the same job done by DIPS and by PHP Imagick (bench/anchors/worker.php). */
const IMAGE_JOBS: Record<string, Record<string, unknown>> = {
  thumbnail: { width: 200 },
  resize: { width: 800, height: 600, fit: 'cover' },
  crop: { left: 500, top: 500, width: 1000, height: 1000 },
  rotate: { angle: 90 },
  blur: { sigma: 2 },
  grayscale: {},
  watermark: { text: 'DIPS', size: 48 },
  convert: { format: 'webp' },
};

scenarios.thumbnail = {
  title: 'thumbnail of the 2725 x 2225 JPEG to 200 px: PHP Imagick behind gearmand vs DIPS vs sharp in-process',
  async run(ctx) {
    if (!phpHas('imagick')) {
      ctx.progress('php8.2-imagick missing (apt-get install php8.2-imagick): no Imagick anchor');
    }
    const photo = await benchPhoto();
    const params = { image: photo.bytes, width: 200 };
    const payload = phpSerialize(params);
    const calls = Math.round(60 * ctx.scale);
    const rows: Row[] = [];
    const inProcess: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) {
      const t = performance.now();
      await sharp(photo.bytes, { autoOrient: true }).resize({ width: 200, fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 80 }).toBuffer();
      inProcess.push(performance.now() - t);
    }
    rows.push(row('thumbnail', 'sharp in-process', 1, { latencies: inProcess, failed: 0, seconds: (performance.now() - t0) / 1000 }, photo.source));
    await withAnchorAndMesh(WORKERS, async (anchor, mesh) => {
      for (const c of [1, 2]) {
        if (phpHas('imagick')) {
          ctx.progress(`PHP Imagick behind gearmand, ${c} callers`);
          rows.push(row('thumbnail', 'gearmand + PHP Imagick', c, await phpCallers(anchor.port, 'thumbnail', payload, c, Math.ceil(calls / c))));
        }
        ctx.progress(`DIPS via gateway, ${c} callers`);
        rows.push(row('thumbnail', 'DIPS via gateway', c, await phpCallers(mesh.port, 'thumbnail', payload, c, Math.ceil(calls / c))));
        ctx.progress(`DIPS native, ${c} callers`);
        // native callers send the photo as the raw body, parameters in the Dips-Params header
        rows.push(row('thumbnail', 'DIPS native client', c, await nativeCalls(mesh.client, 'thumbnail', photo.bytes, c, Math.ceil(calls / c), { params: { width: 200 } })));
      }
    });
    return rows;
  },
};

scenarios.functions = {
  title: 'each image function on the 2725 x 2225 JPEG, one PHP caller: PHP Imagick behind gearmand vs DIPS via the gateway',
  async run(ctx) {
    const photo = await benchPhoto();
    const calls = Math.max(3, Math.round(15 * ctx.scale));
    const rows: Row[] = [];
    await withAnchorAndMesh(WORKERS, async (anchor, mesh) => {
      for (const [fn, params] of Object.entries(IMAGE_JOBS)) {
        const payload = phpSerialize({ image: photo.bytes, ...params });
        if (phpHas('imagick')) {
          ctx.progress(`${fn}: PHP Imagick`);
          rows.push(row(`fn ${fn}`, 'gearmand + PHP Imagick', 1, await phpCallers(anchor.port, fn, payload, 1, calls)));
        }
        ctx.progress(`${fn}: DIPS`);
        rows.push(row(`fn ${fn}`, 'DIPS via gateway', 1, await phpCallers(mesh.port, fn, payload, 1, calls)));
      }
    });
    return rows;
  },
};

scenarios.scaling = {
  title: 'ecard throughput with 1, 2 and 4 worker processes (16 native callers)',
  async run(ctx) {
    const rows: Row[] = [];
    const calls = Math.round(1600 * ctx.scale);
    for (const workers of [1, 2, 4]) {
      const mesh = await startMesh(workers);
      try {
        ctx.progress(`${workers} workers`);
        const cpu = cpuPerCall({ workers: mesh.pids.workers, nats: mesh.pids.nats });
        const result = await nativeCalls(mesh.client, 'ecard', CARD, 16, Math.ceil(calls / 16));
        const cpuMsPerCall = cpu(result.latencies.length + result.failed);
        const note = `CPU ms/card: ${Object.entries(cpuMsPerCall).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`;
        rows.push({ ...row('scaling ecard', `DIPS ${workers} workers`, 16, result, note), cpuMsPerCall });
      } finally {
        await mesh.stop();
      }
    }
    return rows;
  },
};

scenarios.mixed = {
  title: 'small jobs (ecard) among big ones (thumbnails of the 2725 x 2225 JPEG), 4 workers: small-job latency',
  async run(ctx) {
    const photo = await benchPhoto();
    const big = phpSerialize({ image: photo.bytes, width: 200 });
    const small = phpSerialize(CARD);
    const rows: Row[] = [];
    const cards = Math.round(200 * ctx.scale);
    const thumbs = Math.round(30 * ctx.scale);
    const systems: Array<[string, () => Promise<{ port: number; stop(): Promise<unknown> }>]> = [['DIPS via gateway', () => startMesh(4)]];
    if (phpHas('imagick')) systems.unshift(['gearmand + PHP', () => startAnchor(4)]);
    for (const [name, start] of systems) {
      const sys = await start();
      try {
        ctx.progress(`${name}: 3 thumbnail callers + 1 ecard caller`);
        const [cardRun, ...thumbRuns] = await Promise.all([
          phpCallers(sys.port, 'ecard', small, 1, cards),
          ...[0, 1, 2].map(() => phpCallers(sys.port, 'thumbnail', big, 1, thumbs)),
        ]);
        rows.push(row('mixed: ecard', name, 1, cardRun, 'small jobs under load'));
        rows.push(row('mixed: thumbnail', name, 3, { latencies: thumbRuns.flatMap((r) => r.latencies), failed: thumbRuns.reduce((n, r) => n + r.failed, 0), seconds: Math.max(...thumbRuns.map((r) => r.seconds)) }));
      } finally {
        await sys.stop();
      }
    }
    return rows;
  },
};
scenarios.offload = offload;
scenarios.http = httpScenario;
scenarios.guest = guestScenario;

/**
 * The PHP sides of a comparison: the same callers against gearmand + PHP
 * workers, the DIPS gateway and the gateway's bare relay floor (to `responders`),
 * each with the processes whose CPU it is charged.
 */
function phpSides(o: {
  fn: 'echo' | 'ecard'; payload: Uint8Array; callers: number; callsEach: number;
  /** The rows' scenario (default: the function's name; its floor row adds " floor"). */
  scenario?: string;
  anchor: Awaited<ReturnType<typeof startAnchor>>; mesh: Awaited<ReturnType<typeof startMesh>>;
  relay: { port: number; pid: number | undefined }; responders: Array<number | undefined>;
}): RowSide[] {
  const run = (port: number) => () => phpCallers(port, o.fn, o.payload, o.callers, o.callsEach);
  const anchorSystem = o.fn === 'ecard' ? 'gearmand + PHP GD' : 'gearmand + PHP worker';
  const relayNote = o.fn === 'ecard' ? 'gateway floor: our parser + nats.js + the card drawn and encoded, no DIPS code' : 'gateway floor: our parser + nats.js, no DIPS code';
  const scenario = o.scenario ?? o.fn;
  return [
    { scenario, system: anchorSystem, label: `${anchorSystem}, ${scenario}, ${o.callers} callers`, run: run(o.anchor.port), cpu: { gearmand: o.anchor.pids.gearmand, workers: o.anchor.pids.workers } },
    { scenario, system: 'DIPS via gateway', label: `DIPS gateway, ${scenario}, ${o.callers} callers`, run: run(o.mesh.port), cpu: { gateway: o.mesh.pids.gateway, workers: o.mesh.pids.workers, nats: o.mesh.pids.nats } },
    {
      scenario: `${scenario} floor`, system: 'Gearman relay to nats.js', note: relayNote, label: `bare Gearman relay (${scenario}), ${o.callers} callers`,
      run: run(o.relay.port), cpu: { relay: [o.relay.pid], responders: o.responders, nats: o.mesh.pids.nats },
    },
  ];
}

/** A side of a comparison measured in turns, and the row it becomes. */
interface RowSide extends Side {
  scenario: string;
  system: string;
  note?: string;
}

/** The sides measured in turns at `concurrency`, one row each, CPU per job of their process groups in the note. */
async function rowsInTurns(concurrency: number, sides: RowSide[], progress: (line: string) => void): Promise<Row[]> {
  const pooled = await inTurns(ROUNDS, sides, progress);
  return pooled.map((result, i) => {
    const side = sides[i];
    const r = row(side.scenario, side.system, concurrency, result, side.note);
    return result.cpuMsPerCall && side.cpu ? withCpu(r, result.cpuMsPerCall, Object.keys(side.cpu)) : r;
  });
}

/**
 * Calls before a measurement, the same on both sides: a fresh Node process
 * runs its hot paths interpreted until V8 has compiled them (after 1000
 * calls a new gateway's 1-caller echo p50 was still 0.97 ms, a few thousand
 * later 0.61 ms).
 */
async function warmUp(anchorPort: number, mesh: { port: number; client: DipsClient }, fn: string, payload: Uint8Array, nativeInput: Record<string, unknown> | Uint8Array, perCaller = WARM_UP_CALLS): Promise<void> {
  await phpCallers(anchorPort, fn, payload, 8, perCaller);
  await phpCallers(mesh.port, fn, payload, 8, perCaller);
  await nativeCalls(mesh.client, fn, nativeInput, 8, perCaller);
}
