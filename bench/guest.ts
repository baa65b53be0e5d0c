/**
 * Guest mode (issue 27), measured on this machine: does a guest node leave the
 * host's own work alone, what does guest mode cost when the host is idle, and
 * do callers' jobs go to the guest whose host is idle?
 *
 * The host's own work is a stand-in: one CPU-bound busy loop per core at
 * normal priority, each counting the steps it makes (bench/guest-stand-in
 * below). Nothing is pinned: the stand-in, nats-server, the agents, their
 * workers and the callers share every core, as on a real guest host.
 *
 * Every guest agent runs in a mount namespace of its own with a /proc/stat
 * that holds only its own host's work (HostView: the real counters with some
 * processes' CPU time moved to idle, as lxcfs gives a container its own
 * /proc/stat). The callers, nats-server and the other nodes stand for other
 * machines and are hidden from every guest; the stand-in is hidden only from
 * a guest whose host is meant to be idle. Without that, two guests on one
 * machine would see the same host CPU (a stand-in that makes one throttle
 * makes both) and a guest would count the bench's own callers as its host's
 * work. What no view can hide: all of it still shares these cores, so a
 * guest's SCHED_IDLE workers yield to the callers and NATS as well. Needs
 * root (unshare, mount); without it the scenario says so and measures nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { DipsClient } from '../src/client/index.js';
import { broadcast } from '../src/control/broadcast.js';
import { READY, startLocalCluster, startLocalProcess, type LocalCluster, type LocalProcess } from '../src/control/local.js';
import { loadConfig } from '../src/shared/config.js';
import type { NodeReply } from '../src/shared/control.js';
import { CARD } from './card.js';
import type { BenchContext, Row, Scenario } from './scenarios.js';
import { summarize } from './stats.js';
import { processCpuMs } from './cpu.js';
import { processTime } from '../src/control/agent/guest.js';

/** Native callers that keep the nodes' workers busy (as the scaling scenario's 16). */
const CALLERS = 16;
/** g-busy's agent.guestHostCpuMax in the routing figure (see routing()). */
const BUSY_HOST_CPU_MAX = 0.4;
/** Steps of the stand-in's loop between looks at the clock. */
const CHUNK = 100_000;

/**
 * The host's own work: a busy loop that runs for argv[1] ms and prints how
 * many chunks of CHUNK steps it made. Integer arithmetic only, no memory
 * traffic: what it measures is the CPU time it gets, nothing else.
 */
const STAND_IN = `const end = Date.now() + Number(process.argv[1]); let n = 0, x = 1;
while (Date.now() < end) { for (let i = 0; i < ${CHUNK}; i++) x = (Math.imul(x, 1103515245) + 12345) | 0; n++; }
const u = process.cpuUsage(); process.stdout.write(n + ' ' + (u.user + u.system) / 1000 + ' ' + (x & 1));`;

interface StandIn {
  pids: number[];
  /** Steps per second, all loops together (millions). */
  result: Promise<number>;
  /** CPU ms the loops used (they report it as they exit, when /proc no longer has them). */
  cpuMs: Promise<number>;
}

/** One stand-in loop per core for `seconds`. */
function startStandIn(seconds: number, loops = os.availableParallelism()): StandIn {
  const children = Array.from({ length: loops }, () => spawn(process.execPath, ['-e', STAND_IN, String(seconds * 1000)], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const outs = Promise.all(children.map(
    (c) =>
      new Promise<number[]>((resolve, reject) => {
        let out = '';
        c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        c.on('error', reject);
        c.on('exit', (code) => (code === 0 ? resolve(out.split(' ').map(Number)) : reject(new Error(`stand-in exited with ${code}`))));
      }),
  ));
  return {
    pids: children.map((c) => c.pid!),
    result: outs.then((o) => (o.reduce((a, [n]) => a + n, 0) * CHUNK) / seconds / 1e6),
    cpuMs: outs.then((o) => o.reduce((a, [, ms]) => a + ms, 0)),
  };
}

/** Native ecard callers running until stop(): every completion's time and latency. */
function startLoad(client: DipsClient, callers = CALLERS) {
  let running = true;
  // calls still held at stop() (a throttled guest took them in no slot) are dropped, not waited for
  const abort = new AbortController();
  setMaxListeners(callers + 1, abort.signal); // one listener per caller's call in flight
  const done: Array<{ at: number; ms: number }> = [];
  let failed = 0;
  const loops = Array.from({ length: callers }, async () => {
    while (running) {
      const t = performance.now();
      try {
        await client.call('ecard', CARD, { signal: abort.signal });
        done.push({ at: performance.now(), ms: performance.now() - t });
      } catch {
        if (running) failed++;
      }
    }
  });
  return {
    /** Cards completed between two performance.now() instants. */
    between: (from: number, to: number) => done.filter((d) => d.at >= from && d.at < to),
    async stop() {
      running = false;
      abort.abort();
      await Promise.all(loops);
      return { done, failed };
    },
  };
}

/** Busy and total jiffies of all CPUs, from the real /proc/stat. */
function machineTimes(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}

/**
 * A /proc/stat for one agent in which some processes' CPU time counts as
 * idle: the real first line, with the hidden processes' user + system time
 * since hide() moved from user to idle. Written in place with a fixed width,
 * so the bind-mounted file keeps its inode and length (a rename would leave
 * the mount on the old file) and a reader never sees it empty.
 */
class HostView {
  readonly file: string;
  private readonly dir: string;
  private readonly fd: number;
  private readonly hidden = new Map<number, { start: number; last: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'dips-bench-guest-'));
    this.file = path.join(this.dir, 'stat');
    this.fd = openSync(this.file, 'w+');
    this.write();
    this.timer = setInterval(() => this.write(), 100);
  }

  /** The command prefix that starts a process with this file over its /proc/stat. */
  get prefix(): string[] {
    return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /proc/stat && exec "$@"', this.file];
  }

  hide(pids: number[]): void {
    for (const pid of pids) this.hidden.set(pid, { start: processTime(pid), last: 0 });
  }

  private write(): void {
    const fields = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    let hidden = 0;
    for (const [pid, p] of this.hidden) {
      // a process that ended keeps the time it had (/proc no longer has it)
      p.last = Math.max(p.last, processTime(pid) - p.start);
      hidden += p.last;
    }
    const moved = Math.min(hidden, fields[0]);
    fields[0] -= moved;
    fields[3] += moved;
    writeSync(this.fd, `cpu  ${fields.map((f) => String(f).padStart(16, '0')).join(' ')}\n`, 0, 'latin1');
  }

  close(): void {
    clearInterval(this.timer);
    closeSync(this.fd);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether this process may make a mount namespace and bind-mount over /proc/stat (root, unshare present). */
function canFakeHostView(): boolean {
  return process.getuid?.() === 0 && spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']).status === 0;
}

const doneBy = (n: NodeReply | undefined) => (n?.workers ?? []).reduce((sum, w) => sum + (w.done ?? 0), 0);

/** The nodes of one run: a cluster, node agents by name, a control connection and a client. */
class Nodes {
  readonly agents = new Map<string, LocalProcess>();
  private constructor(readonly cluster: LocalCluster, readonly nc: NatsConnection, readonly client: DipsClient) {}

  static async start(): Promise<Nodes> {
    const cluster = await startLocalCluster();
    const nc = await connect({ servers: cluster.servers });
    // a job held while every guest offers no slot waits at its caller: long enough for a throttled guest to come back
    const client = new DipsClient({ config: loadConfig({ argv: [], env: {}, overrides: { nats: { servers: cluster.servers } } }), timeoutMs: 60_000 });
    return new Nodes(cluster, nc, client);
  }

  /** A node agent with one worker per core, its workers running. */
  async agent(node: string, mode: 'guest' | 'dedicated', env: Record<string, string> = {}, prefix?: string[]): Promise<void> {
    const agent = await startLocalProcess(
      'agent', this.cluster.servers,
      { DIPS_AGENT_NODE: node, DIPS_AGENT_MODE: mode, DIPS_WORKER_PROCESSES: String(os.availableParallelism()), DIPS_AGENT_METRICS_PORT: '0', ...env },
      READY.agent, prefix,
    );
    this.agents.set(node, agent);
    await this.until(async () => (await this.status()).get(node)?.workers.filter((w) => w.state === 'running').length === os.availableParallelism(), 20_000, `${node}'s workers`);
  }

  /** The pids of a node: its agent and workers. */
  async pidsOf(node: string): Promise<number[]> {
    return [this.agents.get(node)!.child.pid!, ...((await this.status()).get(node)?.workers ?? []).map((w) => w.pid)];
  }

  /** Pids of the mesh's processes by group, to say where the machine's CPU went. */
  async pids(): Promise<Record<string, number[]>> {
    const all = [...(await this.status()).values()];
    return {
      workers: all.flatMap((n) => n.workers.map((w) => w.pid)),
      agents: [...this.agents.values()].map((a) => a.child.pid!),
      nats: this.cluster.nodes.map((n) => n.process.pid!),
      callers: [process.pid],
    };
  }

  async status(): Promise<Map<string, NodeReply>> {
    const r = await broadcast(this.nc, 'status', {}, 1500);
    return new Map(r.replies.map((n) => [n.node, n]));
  }

  /** Only `node` serves ecard (the others paused): resumed first, so at no moment does nobody serve it. */
  async only(node: string): Promise<void> {
    await broadcast(this.nc, 'resume', { nodes: [node], functions: ['ecard'] }, 1500);
    const others = [...this.agents.keys()].filter((n) => n !== node);
    if (others.length) await broadcast(this.nc, 'pause', { nodes: others, functions: ['ecard'] }, 1500);
  }

  /** Until a guest offers at least `share` of its slots again (its host quiet), at most `ms`; the share it reached. */
  async settle(node: string, share: number, ms: number): Promise<number> {
    let reached = 0;
    await this.until(async () => (reached = (await this.status()).get(node)?.guest?.share ?? 1) >= share, ms).catch(() => undefined);
    return reached;
  }

  async until(check: () => Promise<boolean>, ms: number, what = 'a condition'): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async stopAgent(node: string): Promise<void> {
    await this.agents.get(node)?.stop();
    this.agents.delete(node);
  }

  async stop(): Promise<void> {
    await this.client.close();
    await this.nc.close();
    await Promise.all([...this.agents.values()].map((a) => a.stop()));
    await this.cluster.stop();
  }
}

/** What a guest's agent said about its host while `body` ran: mean host CPU and share of slots offered, sampled each second. */
async function watchGuest<T>(nodes: Nodes, node: string, body: () => Promise<T>): Promise<{ result: T; hostCpu: number; share: number }> {
  const samples: Array<{ hostCpu: number; share: number }> = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const g = (await nodes.status()).get(node)?.guest;
      if (g && g.hostCpu !== null) samples.push({ hostCpu: g.hostCpu, share: g.share });
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  try {
    const result = await body();
    return { result, ...meanOf(samples) };
  } finally {
    watching = false;
    await watcher;
  }
}

function meanOf(samples: Array<{ hostCpu: number; share: number }>) {
  const mean = (k: 'hostCpu' | 'share') => (samples.length ? samples.reduce((a, s) => a + s[k], 0) / samples.length : NaN);
  return { hostCpu: mean('hostCpu'), share: mean('share') };
}

/**
 * CPU each group of processes used from now until the returned function is
 * called, as a share of all cores; `others`: everything else busy on this
 * machine meanwhile (other users of a shared machine).
 */
function machineShare(groups: Record<string, number[]>): (exitedMs?: Record<string, number>) => Record<string, number> {
  const sample = () => Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, pids.reduce((ms, pid) => ms + processCpuMs(pid), 0)]));
  const before = sample();
  const m0 = machineTimes();
  // exitedMs: CPU ms of groups whose processes already exited (they said so themselves)
  return (exitedMs = {}) => {
    const after = sample();
    const m1 = machineTimes();
    const total = m1.total - m0.total;
    const out = Object.fromEntries([...Object.keys(groups).map((k) => [k, after[k] - before[k]] as const), ...Object.entries(exitedMs)].map(([k, ms]) => [k, ms / 10 / total]));
    out.others = Math.max(0, (m1.busy - m0.busy) / total - Object.values(out).reduce((a, b) => a + b, 0));
    return out;
  };
}

const shares = (s: Record<string, number>) => Object.entries(s).map(([k, v]) => `${k} ${pct(v)}`).join(', ');

const pct = (n: number) => `${(n * 100).toFixed(0)} %`;

export const guestScenario: Scenario = {
  title: 'guest mode (issue 27): a CPU-bound stand-in for the host\'s own work beside saturated guest and dedicated nodes; guest vs dedicated ecard on an idle host; two guests, one host busy: where the jobs go',
  standalone: true,
  async run(ctx) {
    const seconds = Math.max(1, Math.round(3 * ctx.scale));
    const rounds = ctx.scale < 0.5 ? 1 : 2;
    if (!canFakeHostView()) {
      ctx.progress('skipped: needs root (each guest agent gets its own view of /proc/stat in a mount namespace)');
      return [];
    }
    const rows: Row[] = [];
    const nodes = await Nodes.start();
    const views: HostView[] = [];
    const view = () => {
      const v = new HostView();
      views.push(v);
      // the callers and nats-server stand for other machines: on a guest host they are not the host's own work
      v.hide([process.pid, ...nodes.cluster.nodes.map((n) => n.process.pid!)]);
      return v;
    };
    try {
      const guestView = view();
      await nodes.agent('guest', 'guest', {}, guestView.prefix);
      await nodes.agent('dedicated', 'dedicated');
      // the dedicated node is another machine too
      guestView.hide(await nodes.pidsOf('dedicated'));
      rows.push(...(await idleHostCost(nodes, ctx, seconds, rounds)));
      rows.push(...(await hostProtection(nodes, ctx, seconds, rounds)));
      await nodes.stopAgent('guest');
      await nodes.stopAgent('dedicated');
      rows.push(...(await routing(nodes, ctx, seconds, view)));
    } finally {
      await nodes.stop();
      for (const v of views) v.close();
    }
    return rows;
  },
};

/** Figure 2: ecard throughput of the guest node and of the dedicated node, the same workers and callers, nothing else running; in turns. */
async function idleHostCost(nodes: Nodes, ctx: BenchContext, seconds: number, rounds: number): Promise<Row[]> {
  const sides = [
    { node: 'guest', latencies: [] as number[], failed: 0, seconds: 0, hostCpu: [] as number[], share: [] as number[] },
    { node: 'dedicated', latencies: [] as number[], failed: 0, seconds: 0, hostCpu: [] as number[], share: [] as number[] },
  ];
  for (const side of sides) {
    // warm-up: each worker compiles its hot paths before anything is measured
    await nodes.only(side.node);
    const warm = startLoad(nodes.client);
    await new Promise((r) => setTimeout(r, 1000));
    await warm.stop();
  }
  for (let round = 1; round <= rounds; round++) {
    for (const side of sides) {
      await nodes.only(side.node);
      await nodes.settle('guest', 1, 8000);
      ctx.progress(`host idle: ${side.node} node, ${CALLERS} native ecard callers, ${seconds} s, round ${round} of ${rounds}`);
      const w = await watchGuest(nodes, 'guest', async () => {
        const load = startLoad(nodes.client);
        const from = performance.now();
        await new Promise((r) => setTimeout(r, seconds * 1000));
        const to = performance.now();
        const r = await load.stop();
        return { cards: load.between(from, to), failed: r.failed, seconds: (to - from) / 1000 };
      });
      side.latencies.push(...w.result.cards.map((c) => c.ms));
      side.failed += w.result.failed;
      side.seconds += w.result.seconds;
      if (side.node === 'guest') {
        side.hostCpu.push(w.hostCpu);
        side.share.push(w.share);
      }
    }
  }
  const [guest, dedicated] = sides.map((s) => summarize(s.latencies, s.failed, s.seconds));
  const ratio = guest.perSecond / dedicated.perSecond;
  const pinned = await pinnedRatio(nodes, ctx, seconds);
  const avg = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const hostCpu = avg(sides[0].hostCpu);
  const share = avg(sides[0].share);
  return [
    { scenario: 'guest: idle host', system: 'dedicated node', concurrency: CALLERS, ...dedicated, note: `${os.availableParallelism()} workers each node, native ecard callers, nothing else running` },
    {
      scenario: 'guest: idle host', system: 'guest node', concurrency: CALLERS, ...guest, figures: { ratio, hostCpu, share, pinnedRatio: pinned ?? NaN },
      note: `${ratio.toFixed(2)}x the dedicated node; its agent saw host CPU ${pct(hostCpu)}, offered ${pct(share)} of its slots; ${rounds} rounds in turns` +
        (pinned === undefined ? '' : `; with the callers and NATS on core 0 and the node's workers on the others (as on separate machines): ${pinned.toFixed(2)}x`),
    },
  ];
}

/**
 * The floor of figure 2: the same comparison with the callers (this process)
 * and nats-server on core 0 and the measured node's workers on the other
 * cores, as if they were on separate machines — what the guest loses then is
 * its own cost, not its yielding to the bench's callers. Undefined on one core.
 */
async function pinnedRatio(nodes: Nodes, ctx: BenchContext, seconds: number): Promise<number | undefined> {
  const cores = os.availableParallelism();
  if (cores < 2) return undefined;
  const pin = (pids: number[], cpus: string) => {
    for (const pid of pids) spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  };
  const everywhere = `0-${cores - 1}`;
  const elsewhere = [process.pid, ...nodes.cluster.nodes.map((n) => n.process.pid!)];
  const perSecond: number[] = [];
  try {
    pin(elsewhere, '0');
    for (const node of ['guest', 'dedicated']) {
      await nodes.only(node);
      const workers = await nodes.pidsOf(node);
      pin(workers, `1-${cores - 1}`);
      await nodes.settle('guest', 1, 8000);
      ctx.progress(`host idle, pinned: ${node} node on cores 1-${cores - 1}, callers and NATS on core 0, ${seconds} s`);
      const load = startLoad(nodes.client);
      const from = performance.now();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const to = performance.now();
      const cards = load.between(from, to).length;
      await load.stop();
      pin(workers, everywhere);
      perSecond.push(cards / ((to - from) / 1000));
    }
  } finally {
    pin(elsewhere, everywhere);
  }
  return perSecond[0] / perSecond[1];
}

/**
 * Figure 1: the stand-in alone, beside the guest node saturated by native
 * callers, beside the dedicated node saturated the same way; in turns.
 */
async function hostProtection(nodes: Nodes, ctx: BenchContext, seconds: number, rounds: number): Promise<Row[]> {
  const loops = os.availableParallelism();
  const sides = ['alone', 'guest', 'dedicated'] as const;
  const rates: Record<(typeof sides)[number], number[]> = { alone: [], guest: [], dedicated: [] };
  const others: number[] = [];
  const cards: Record<'guest' | 'dedicated', { n: number; seconds: number; failed: number; hostCpu: number[]; share: number[]; used: Array<Record<string, number>> }> = {
    guest: { n: 0, seconds: 0, failed: 0, hostCpu: [], share: [], used: [] },
    dedicated: { n: 0, seconds: 0, failed: 0, hostCpu: [], share: [], used: [] },
  };
  for (let round = 1; round <= rounds; round++) {
    for (const side of sides) {
      if (side === 'alone') {
        ctx.progress(`stand-in alone: ${loops} busy loops, ${seconds} s, round ${round} of ${rounds}`);
        const cpu = machineShare({});
        const standIn = startStandIn(seconds, loops);
        rates.alone.push(await standIn.result);
        others.push(cpu({ standIn: await standIn.cpuMs }).others);
        continue;
      }
      await nodes.only(side);
      ctx.progress(`stand-in beside the ${side} node saturated by ${CALLERS} native ecard callers, ${seconds} s, round ${round} of ${rounds}`);
      const w = await watchGuest(nodes, 'guest', async () => {
        const load = startLoad(nodes.client);
        await new Promise((r) => setTimeout(r, 1000)); // the node saturated before the host's work starts
        const from = performance.now();
        const cpu = machineShare(await nodes.pids()); // before the stand-in starts: its CPU all falls in the window
        const standIn = startStandIn(seconds, loops);
        const rate = await standIn.result;
        const used = cpu({ standIn: await standIn.cpuMs });
        const to = performance.now();
        const r = await load.stop();
        return { rate, used, cards: load.between(from, to).length, failed: r.failed, seconds: (to - from) / 1000 };
      });
      rates[side].push(w.result.rate);
      Object.assign(cards[side], { n: cards[side].n + w.result.cards, seconds: cards[side].seconds + w.result.seconds, failed: cards[side].failed + w.result.failed });
      cards[side].hostCpu.push(w.hostCpu);
      cards[side].share.push(w.share);
      cards[side].used.push(w.result.used);
    }
  }
  const avg = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const alone = avg(rates.alone);
  const standInRow = (system: string, rate: number, note: string, figures?: Record<string, number>): Row => ({
    scenario: 'guest: host protection', system, concurrency: loops, calls: 0, failed: 0, seconds: seconds * rounds, perSecond: rate, p50: NaN, p99: NaN, mean: NaN, note, figures,
  });
  const beside = (side: 'guest' | 'dedicated') => {
    const ratio = avg(rates[side]) / alone;
    const c = cards[side];
    const dips = `DIPS meanwhile ${(c.n / c.seconds).toFixed(0)} cards/s${c.failed ? `, ${c.failed} failed` : ''}`;
    const view = side === 'guest' ? `; the guest saw host CPU ${pct(avg(c.hostCpu))}, offered ${pct(avg(c.share))} of its slots` : '';
    const used = Object.fromEntries(Object.keys(c.used[0]).map((k) => [k, avg(c.used.map((u) => u[k]))]));
    return standInRow(`stand-in beside a saturated ${side} node`, avg(rates[side]), `${ratio.toFixed(3)}x alone; ${dips}${view}; CPU of all cores meanwhile: ${shares(used)}`, { ratio, cardsPerSecond: c.n / c.seconds, ...Object.fromEntries(Object.entries(used).map(([k, v]) => [`cpu_${k}`, v])) });
  };
  return [
    standInRow('stand-in alone', alone, `${loops} busy loops (one per core) at normal priority, M steps/s; ${rounds} rounds in turns; CPU of all cores taken by other processes on this machine meanwhile: ${pct(avg(others))}`, { cpu_others: avg(others) }),
    beside('guest'),
    beside('dedicated'),
  ];
}

/**
 * Figure 3: two guests, g-busy on a host whose own work (the stand-in) is
 * above its threshold and g-idle on a host whose own work is idle; native
 * callers for `seconds`; the share of jobs each ran, from the agents' done
 * counts. Each agent's view of /proc/stat holds only its own host: g-busy's
 * the stand-in, g-idle's nothing (see HostView). On one machine the stand-in
 * can take only part of the cores, or g-idle's SCHED_IDLE workers would get
 * no CPU at all: it runs on half of them, and g-busy's threshold is 0.4
 * instead of the default 0.8, so that half is "above it".
 */
async function routing(nodes: Nodes, ctx: BenchContext, seconds: number, view: () => HostView): Promise<Row[]> {
  const system = 'g-idle and g-busy, stand-in on g-busy\'s host';
  const busyView = view();
  const idleView = view();
  await nodes.agent('g-busy', 'guest', { DIPS_AGENT_GUEST_HOST_CPU_MAX: String(BUSY_HOST_CPU_MAX) }, busyView.prefix);
  await nodes.agent('g-idle', 'guest', {}, idleView.prefix);
  busyView.hide(await nodes.pidsOf('g-idle'));
  idleView.hide(await nodes.pidsOf('g-busy'));
  const loops = Math.ceil(os.availableParallelism() / 2);
  // the stand-in runs from before the callers start until after they stop: the agents first see it, then the jobs come
  const standIn = startStandIn(seconds + 8, loops);
  idleView.hide(standIn.pids);
  ctx.progress(`routing: stand-in on ${loops} of ${os.availableParallelism()} cores, waiting for g-busy to take no new job`);
  await nodes.until(async () => (await nodes.status()).get('g-busy')?.guest?.share === 0, 5000, 'g-busy to see its host busy').catch(() => undefined);
  const before = await nodes.status();
  ctx.progress(`routing: ${CALLERS} native ecard callers, ${seconds} s`);
  const load = startLoad(nodes.client);
  const from = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const to = performance.now();
  const r = await load.stop();
  const after = await nodes.status();
  const busyShare = after.get('g-busy')?.guest?.share ?? NaN;
  const idleShare = after.get('g-idle')?.guest?.share ?? NaN;
  await standIn.result;
  const byIdle = doneBy(after.get('g-idle')) - doneBy(before.get('g-idle'));
  const byBusy = doneBy(after.get('g-busy')) - doneBy(before.get('g-busy'));
  const share = byIdle / (byIdle + byBusy);
  const cards = load.between(from, to).map((c) => c.ms);
  return [{
    scenario: 'guest: routing', system, concurrency: CALLERS, ...summarize(cards, r.failed, (to - from) / 1000), figures: { share, byIdle, byBusy },
    note: `g-idle ran ${byIdle} of ${byIdle + byBusy} jobs (${pct(share)}), g-busy ${byBusy}; slots offered at the end: g-idle ${pct(idleShare)}, g-busy ${pct(busyShare)}. Two hosts simulated on one machine (bench/README.md)`,
  }];
}
