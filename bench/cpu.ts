/** CPU time of processes (Linux /proc), to say where each job's CPU goes. */
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux architecture Node runs on

/** User + system CPU milliseconds a process has used so far (0 once it is gone). */
export function processCpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    // fields after "(comm) ": state is field 0, utime field 11, stime field 12
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** CPU used by groups of processes between start() and the returned stop(), per call. */
export function cpuPerCall(groups: Record<string, Array<number | undefined>>) {
  const sample = () => Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, pids.reduce<number>((ms, pid) => ms + processCpuMs(pid), 0)]));
  const own = process.cpuUsage();
  const before = sample();
  return (calls: number): Record<string, number> => {
    const after = sample();
    const mine = process.cpuUsage(own);
    const perCall = Object.fromEntries(Object.keys(groups).map((name) => [name, (after[name] - before[name]) / calls]));
    perCall.callers = (mine.user + mine.system) / 1000 / calls;
    return perCall;
  };
}
