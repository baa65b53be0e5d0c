/**
 * Issue 13's speed targets (and the two report tables), judged from the rows of one bench run: each names
 * the figure, the goal computed from the anchor rows of the same run, whether
 * it is met and, where a floor measured in the same run bounds it, that floor.
 */
import type { Row } from './scenarios.js';
import { markdownTable } from './stats.js';

export interface TargetResult {
  target: string;
  measured: string;
  goal: string;
  met: boolean;
  floor?: string;
}

const find = (rows: Row[], scenario: string, system: string, concurrency: number) =>
  rows.find((r) => r.scenario === scenario && r.system === system && r.concurrency === concurrency);

const ms = (n: number) => `${n.toFixed(2)} ms`;
const rate = (n: number) => `${n.toFixed(0)}/s`;
const us = (n: number) => `${(n * 1000).toFixed(0)} µs`;
/** The words after a floor that is already on the wrong side of its goal ('' when it is not). */
const outOfReach = (beyond: boolean, side: 'above' | 'below', what = '') => (beyond ? ` (${side} the goal: out of reach${what && ` with ${what}`})` : '');

export function judgeTargets(rows: Row[]): TargetResult[] {
  const out: TargetResult[] = [];
  const gearmandEcho = (c: number) => find(rows, 'echo', 'gearmand + PHP worker', c);
  const library = (c: number) => find(rows, 'echo floor', 'nats.js request/respond', c);
  const natsFloor = find(rows, 'echo floor', 'nats-server round trip', 1);
  const libraryFloor = (c: number, goal: number) => {
    const lib = library(c);
    return lib ? `nats.js alone ${rate(lib.perSecond)}${outOfReach(lib.perSecond < goal, 'below', 'nats.js')}` : undefined;
  };

  const relay = (c: number) => find(rows, 'echo floor', 'Gearman relay to nats.js', c);
  for (const c of [8, 64]) {
    const g = gearmandEcho(c);
    const d = find(rows, 'echo', 'DIPS via gateway', c);
    const r = relay(c);
    const floor = r && g ? `bare relay ${rate(r.perSecond)}${outOfReach(r.perSecond < g.perSecond, 'below', 'Node + nats.js')}; ${libraryFloor(c, g.perSecond) ?? ''}` : libraryFloor(c, g?.perSecond ?? 0);
    if (g && d) out.push({ target: `1. gateway echo, ${c} PHP callers`, measured: rate(d.perSecond), goal: `≥ ${rate(g.perSecond)} (gearmand)`, met: d.perSecond >= g.perSecond, floor });
  }
  {
    const g = gearmandEcho(1);
    const d = find(rows, 'echo', 'DIPS via gateway', 1);
    const r = relay(1);
    if (g && d && natsFloor) {
      const goal = g.p50 + natsFloor.p50;
      out.push({ target: '2. gateway echo p50, 1 caller', measured: ms(d.p50), goal: `≤ ${ms(goal)} (gearmand ${ms(g.p50)} + nats-server ${ms(natsFloor.p50)})`, met: d.p50 <= goal, floor: r ? `bare relay p50 ${ms(r.p50)}${outOfReach(r.p50 > goal, 'above', 'Node + nats.js')}` : undefined });
    }
  }
  {
    const g = gearmandEcho(8);
    const d = find(rows, 'echo', 'DIPS native NATS', 8);
    if (g && d) out.push({ target: '3a. native echo, 8 callers', measured: rate(d.perSecond), goal: `≥ ${rate(g.perSecond)} (gearmand)`, met: d.perSecond >= g.perSecond, floor: libraryFloor(8, g.perSecond) });
    const n1 = find(rows, 'echo', 'DIPS native NATS', 1);
    const lib1 = library(1);
    if (n1 && natsFloor) out.push({ target: '3b. native echo p50, 1 caller', measured: ms(n1.p50), goal: `≤ ${ms(2 * natsFloor.p50)} (2 x nats-server)`, met: n1.p50 <= 2 * natsFloor.p50, floor: lib1 ? `nats.js alone p50 ${ms(lib1.p50)}${outOfReach(lib1.p50 > 2 * natsFloor.p50, 'above', 'nats.js')}` : undefined });
  }
  for (const size of ['65 KB', '829 KB']) {
    const g = find(rows, `echo ${size}`, 'gearmand + PHP worker', 1);
    const d = find(rows, `echo ${size}`, 'DIPS via gateway', 1);
    const lib = find(rows, `echo ${size} floor`, 'nats.js request/respond', 1);
    const server = find(rows, `echo ${size} floor`, 'nats-server round trip', 1);
    const goal = 1.5 * (g?.p50 ?? Infinity);
    const relayed = find(rows, `echo ${size} floor`, 'Gearman relay to nats.js', 1);
    const floor = [
      relayed ? `bare relay p50 ${ms(relayed.p50)}${outOfReach(relayed.p50 > goal, 'above', 'Node + nats.js')}` : '',
      server ? `nats-server alone ${ms(server.p50)}` : '',
      lib ? `nats.js alone ${ms(lib.p50)}${outOfReach(lib.p50 > goal, 'above', 'nats.js')}` : '',
    ].filter(Boolean).join(', ') || undefined;
    if (g && d) out.push({ target: `4. ${size} echo from PHP, p50`, measured: ms(d.p50), goal: `≤ ${ms(1.5 * g.p50)} (1.5 x gearmand ${ms(g.p50)})`, met: d.p50 <= 1.5 * g.p50, floor });
  }
  {
    const gw = find(rows, 'echo', 'DIPS via gateway', 64);
    const nat = find(rows, 'echo', 'DIPS native NATS', 64);
    const gearmand = gearmandEcho(64)?.cpuMsPerCall?.gearmand;
    const relayCpu = relay(64)?.cpuMsPerCall?.relay;
    const answerCpu = find(rows, 'echo floor', 'Gearman answered in Node', 64)?.cpuMsPerCall?.answer;
    const gatewayFloor = [
      relayCpu === undefined ? '' : `a bare relay spends ${us(relayCpu)}/job${outOfReach(relayCpu > 0.05, 'above', 'Node + nats.js')}`,
      answerCpu === undefined ? '' : `answering the PHP sockets alone, no NATS: ${us(answerCpu)}`,
      gearmand === undefined ? '' : `gearmand (C) ${us(gearmand)} on the same client sockets`,
    ].filter(Boolean).join('; ');
    if (gw?.cpuMsPerCall) out.push({ target: '5a. gateway CPU per job, 64 callers', measured: us(gw.cpuMsPerCall.gateway), goal: '≤ 50 µs', met: gw.cpuMsPerCall.gateway <= 0.05, floor: gatewayFloor || undefined });
    const responders = library(64)?.cpuMsPerCall?.responders;
    if (nat?.cpuMsPerCall) out.push({ target: '5b. worker CPU per echo job, 64 native callers', measured: us(nat.cpuMsPerCall.workers), goal: '≤ 60 µs', met: nat.cpuMsPerCall.workers <= 0.06, floor: responders === undefined ? undefined : `a bare nats.js responder spends ${us(responders)}/job${outOfReach(responders > 0.06, 'above', 'nats.js')}` });
  }
  {
    const g = find(rows, 'ecard', 'gearmand + PHP GD', 4);
    const d = find(rows, 'ecard', 'DIPS via gateway', 4);
    if (g && d) {
      const floor = find(rows, 'ecard floor', 'Gearman relay to nats.js', 4);
      const floorRatio = floor ? floor.perSecond / g.perSecond : undefined;
      const relayFloor = floor ? `bare relay + card drawers ${rate(floor.perSecond)} = ${floorRatio!.toFixed(1)}x${outOfReach(floorRatio! < 25, 'below', 'Node + nats.js')}` : undefined;
      out.push({
        target: '6a. ecard via gateway, 4 PHP callers', measured: `${rate(d.perSecond)} = ${(d.perSecond / g.perSecond).toFixed(1)}x`, goal: `≥ 25x gearmand + GD (${rate(g.perSecond)})`, met: d.perSecond >= 25 * g.perSecond,
        floor: [relayFloor, ecardFloor(rows, g.perSecond)].filter(Boolean).join('; ') || undefined,
      });
      out.push({
        target: '6b. ecard via gateway p50, 4 PHP callers', measured: ms(d.p50), goal: '≤ 3.00 ms', met: d.p50 <= 3,
        floor: floor ? `bare relay + card drawers p50 ${ms(floor.p50)}${outOfReach(floor.p50 > 3, 'above', 'Node + nats.js')}` : undefined,
      });
    }
  }
  out.push(...httpTargets(rows));
  out.push(...guestTargets(rows));
  return out;
}

/** Issue 27's goals for the guest scenario (bench/guest.ts): the host's own work first, little cost on an idle host, jobs to idle hosts. */
function guestTargets(rows: Row[]): TargetResult[] {
  const out: TargetResult[] = [];
  const byRow = (scenario: string, system: string) => rows.find((r) => r.scenario === scenario && r.system === system)?.figures;
  const times = (n: number) => `${n.toFixed(2)}x`;
  const guest = byRow('guest: host protection', 'stand-in beside a saturated guest node');
  const dedicated = byRow('guest: host protection', 'stand-in beside a saturated dedicated node');
  const alone = byRow('guest: host protection', 'stand-in alone');
  if (guest) {
    // what DIPS itself took from the cores while the stand-in ran, and what other processes of this machine took (a shared VM)
    const dips = ['workers', 'agents', 'nats', 'callers'].reduce((a, k) => a + (guest[`cpu_${k}`] ?? 0), 0);
    const others = `other processes on this machine took ${(100 * (guest.cpu_others ?? NaN)).toFixed(0)} % of the cores meanwhile (${(100 * (alone?.cpu_others ?? NaN)).toFixed(0)} % beside the stand-in alone)`;
    out.push({
      target: '27. host work beside a saturated guest node', measured: `${times(guest.ratio)} its speed alone`, goal: '≥ 0.95x', met: guest.ratio >= 0.95,
      floor: [dedicated ? `beside a dedicated node: ${times(dedicated.ratio)}` : '', guest.ratio < 0.95 ? `the DIPS processes, callers and NATS included, took ${(100 * dips).toFixed(0)} % of the cores; ${others}` : ''].filter(Boolean).join('; ') || undefined,
    });
  }
  const idle = byRow('guest: idle host', 'guest node');
  if (idle) {
    out.push({
      target: '27. guest vs dedicated ecard, host idle', measured: times(idle.ratio), goal: '≥ 0.90x', met: idle.ratio >= 0.9,
      floor: idle.ratio < 0.9
        ? `its agent saw host CPU ${(idle.hostCpu * 100).toFixed(0)} % and offered ${(idle.share * 100).toFixed(0)} % of its slots; its SCHED_IDLE workers yield to the bench's callers and NATS on the same cores` +
          (Number.isFinite(idle.pinnedRatio) ? `; with those on a core of their own (as on separate machines) the guest does ${times(idle.pinnedRatio)} a dedicated node${idle.pinnedRatio >= 0.9 ? ' (out of reach only while callers share its cores)' : ''}` : '')
        : undefined,
    });
  }
  const routed = byRow('guest: routing', "g-idle and g-busy, stand-in on g-busy's host");
  if (routed) {
    out.push({ target: '27. jobs on the idle host\'s guest, the other host busy', measured: `${(routed.share * 100).toFixed(0)} %`, goal: '≥ 80 %', met: routed.share >= 0.8 });
  }
  return out;
}

/** Issue 14's goals for the http scenario. */
function httpTargets(rows: Row[]): TargetResult[] {
  const out: TargetResult[] = [];
  const dips = (c: number) => find(rows, 'http thumbnail', 'DIPS http gateway', c);
  const ipx = (c: number) => find(rows, 'http thumbnail', 'ipx', c);
  const transfer = find(rows, 'http floor', 'photo one way through NATS', 1)?.cpuMsPerCall;
  const ipxCpu = ipx(8)?.cpuMsPerCall?.ipx;
  // DIPS does ipx's work plus moving the photo through NATS, on the same two cores
  const ceiling = transfer && ipxCpu ? (2 * 1000) / (ipxCpu + transfer.callers + transfer.nats + transfer.responder) : undefined;
  for (const c of [1, 8, 32]) {
    const d = dips(c);
    const i = ipx(c);
    if (!d || !i) continue;
    out.push({
      target: `14. http thumbnails, ${c} clients`, measured: `${rate(d.perSecond)} = ${(d.perSecond / i.perSecond).toFixed(2)}x ipx`, goal: `≥ 0.9x ipx (${rate(i.perSecond)})`, met: d.perSecond >= 0.9 * i.perSecond,
      floor: c === 8 && ceiling ? `ipx's ${ipxCpu!.toFixed(1)} ms CPU + the photo through NATS ${(transfer!.callers + transfer!.nats + transfer!.responder).toFixed(1)} ms: at most ${rate(ceiling)} = ${(ceiling / i.perSecond).toFixed(2)}x on 2 cores` : undefined,
    });
  }
  const d32 = dips(32);
  const i32 = ipx(32);
  if (d32 && i32) out.push({ target: '14. http p99, 32 clients', measured: ms(d32.p99), goal: `< ipx ${ms(i32.p99)}`, met: d32.p99 < i32.p99 });
  const nginx = find(rows, 'http thumbnail', 'nginx image_filter', 8);
  if (dips(8) && nginx) out.push({ target: '14. http thumbnails vs nginx image_filter, 8 clients', measured: `${(dips(8)!.perSecond / nginx.perSecond).toFixed(1)}x`, goal: '≥ 3x', met: dips(8)!.perSecond >= 3 * nginx.perSecond });
  const sharpRow = find(rows, 'http thumbnail', 'sharp in-process', 1);
  const oneWay = find(rows, 'http floor', 'photo one way through NATS', 1);
  if (dips(1) && sharpRow) {
    out.push({
      target: '14. http p50, 1 client, vs sharp in-process', measured: `${ms(dips(1)!.p50)} = ${(dips(1)!.p50 / sharpRow.p50).toFixed(2)}x`, goal: `≤ 1.5x (${ms(1.5 * sharpRow.p50)})`, met: dips(1)!.p50 <= 1.5 * sharpRow.p50,
      floor: oneWay ? `sharp ${ms(sharpRow.p50)} + the photo through NATS ${ms(oneWay.p50)} = ${ms(sharpRow.p50 + oneWay.p50)}` : undefined,
    });
  }
  return out;
}

/** Cards/s if the workers did nothing but draw and encode: the render row's time per card over 2 workers. */
function ecardFloor(rows: Row[], gearmand: number): string | undefined {
  const render = find(rows, 'ecard-render', 'draw + grey PNG (zlib)', 1);
  if (!render) return undefined;
  const ceiling = 2 * (1000 / render.mean);
  return `render alone on 2 cores: ${rate(ceiling)} = ${(ceiling / gearmand).toFixed(1)}x`;
}

export function renderTargets(results: TargetResult[]): string {
  return markdownTable(['target', 'measured', 'goal', 'met', 'floor measured in this run'], results.map((t) => [t.target, t.measured, t.goal, t.met ? 'met' : 'NOT met', t.floor ?? '']));
}

export function renderTable(rows: Row[]): string {
  return markdownTable(
    ['scenario', 'system', 'conc', 'calls', 'failed', 'per s', 'p50 ms', 'p99 ms', 'note'],
    rows.map((r) => [r.scenario, r.system, String(r.concurrency), String(r.calls), String(r.failed), r.perSecond.toFixed(1), r.p50.toFixed(3), r.p99.toFixed(3), r.note ?? '']),
  );
}
