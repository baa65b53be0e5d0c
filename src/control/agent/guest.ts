/**
 * Guest mode: DIPS on a server of another kind (disk-, I/O- or memory-bound)
 * whose own work comes first. Two parts:
 *
 * - Workers start through `chrt --idle 0`, `ionice -c 3` and `nice -n 19`
 *   (util-linux and coreutils, on every Debian): SCHED_IDLE threads get a CPU
 *   only when nothing else wants it, and libvips's threads inherit the policy.
 * - Once a second the agent measures the host's own CPU use — all busy time
 *   (/proc/stat) minus its workers' (/proc/<pid>/stat) — and tells the workers
 *   to offer callers only the share of their slots the host leaves idle (none
 *   past agent.guestHostCpuMax). A guest that offers no room gets no new job:
 *   callers' jobs go to idle hosts instead of queueing behind a busy one.
 *
 * Why the host's CPU and not PSI: /proc/pressure/cpu counts DIPS's own
 * runnable threads too, so a saturated guest would throttle itself; PSI is
 * reported (dipsctl status, the dashboard) for the operator to read.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { GuestState } from '../../shared/control.js';

/** The commands a guest's workers start through; empty when the tools are missing (then only nice, via os.setPriority). */
export function guestLaunchPrefix(): string[] {
  const found = (tool: string) => ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].some((dir) => existsSync(`${dir}/${tool}`));
  if (!found('chrt') || !found('ionice') || !found('nice')) return [];
  return ['chrt', '--idle', '0', 'ionice', '-c', '3', 'nice', '-n', '19'];
}

/** Busy and total jiffies of all CPUs (first line of /proc/stat). */
function cpuTimes(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
  const idle = fields[3] + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** utime + stime of a process, all its threads (jiffies); 0 when it is gone. */
export function processTime(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** % of the last 10 s some task waited for a CPU; null without PSI. */
export function cpuPressure(): number | null {
  try {
    const some = /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'latin1'));
    return some ? Number(some[1]) : null;
  } catch {
    return null;
  }
}

/** Below agent.guestHostCpuMax by this much before a guest that stopped taking jobs takes them again: no flapping at the line. */
const RESUME_MARGIN = 0.1;

/** The share of their slots (0-1) guest workers offer when the host's own processes use `hostCpu` of all CPUs (`previous`: the share offered now). */
export function shareFor(hostCpu: number, hostCpuMax: number, previous = 1): number {
  if (hostCpu >= hostCpuMax || (previous === 0 && hostCpu >= hostCpuMax - RESUME_MARGIN)) return 0;
  // in tenths, so a flickering measure does not send a message a second (rounded: a host at 3 % leaves every slot)
  return Math.max(0, Math.min(1, Math.round((1 - hostCpu) * 10) / 10));
}

export class GuestMonitor {
  private last?: { busy: number; total: number; workers: Map<number, number> };
  private state: GuestState;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly workerPids: () => number[],
    private readonly hostCpuMax: number,
    private readonly onShare: (share: number) => void,
    private readonly intervalMs = 1000,
  ) {
    this.state = { mode: 'guest', hostCpu: null, pressure: cpuPressure(), share: 1 };
  }

  get current(): GuestState {
    return this.state;
  }

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    const { busy, total } = cpuTimes();
    const workers = new Map(this.workerPids().map((pid) => [pid, processTime(pid)]));
    const last = this.last;
    this.last = { busy, total, workers };
    if (!last || total <= last.total) return;
    let workerBusy = 0;
    // a worker started since the last sample counts from 0: its whole time falls in this interval at most
    for (const [pid, time] of workers) workerBusy += Math.max(0, time - (last.workers.get(pid) ?? time));
    const measured = Math.max(0, Math.min(1, (busy - last.busy - workerBusy) / (total - last.total)));
    // smoothed over a few samples: one quiet second of a busy host is not an idle host
    const hostCpu = this.state.hostCpu === null ? measured : (this.state.hostCpu + measured) / 2;
    const share = shareFor(hostCpu, this.hostCpuMax, this.state.share);
    const changed = share !== this.state.share;
    this.state = { mode: 'guest', hostCpu: Math.round(hostCpu * 1000) / 1000, pressure: cpuPressure(), share };
    if (changed) this.onShare(share);
  }
}
