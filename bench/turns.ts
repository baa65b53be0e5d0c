/**
 * The sides of a comparison measured in turns: every side runs once per round,
 * one after another, for `rounds` rounds, so a slow spell of this shared
 * machine (back-to-back runs here differ by 30 % and more) falls on every side
 * alike rather than on whichever ran during it. A side's result pools its
 * rounds: every latency, the seconds summed, CPU per call weighted by calls.
 */
import { cpuPerCall } from './cpu.js';

export interface Run {
  latencies: number[];
  failed: number;
  seconds: number;
}

export interface Side {
  /** Said in the progress line of each turn. */
  label: string;
  run: () => Promise<Run>;
  /** Process groups whose CPU per call is measured on each turn. */
  cpu?: Record<string, Array<number | undefined>>;
}

export interface Pooled extends Run {
  cpuMsPerCall?: Record<string, number>;
}

export async function inTurns(rounds: number, sides: Side[], progress: (line: string) => void): Promise<Pooled[]> {
  const runs: Run[] = sides.map(() => ({ latencies: [], failed: 0, seconds: 0 }));
  const cpuMs: Array<Record<string, number>> = sides.map(() => ({}));
  for (let round = 1; round <= rounds; round++) {
    for (const [i, side] of sides.entries()) {
      progress(`${side.label}, round ${round} of ${rounds}`);
      const cpu = side.cpu && cpuPerCall(side.cpu);
      const r = await side.run();
      const pooled = runs[i];
      for (const ms of r.latencies) pooled.latencies.push(ms);
      pooled.failed += r.failed;
      pooled.seconds += r.seconds;
      if (cpu && r.latencies.length) {
        for (const [group, perCall] of Object.entries(cpu(r.latencies.length))) cpuMs[i][group] = (cpuMs[i][group] ?? 0) + perCall * r.latencies.length;
      }
    }
  }
  return runs.map((run, i) => {
    if (!sides[i].cpu || !run.latencies.length) return run;
    return { ...run, cpuMsPerCall: Object.fromEntries(Object.entries(cpuMs[i]).map(([group, ms]) => [group, ms / run.latencies.length])) };
  });
}
