/**
 * What a control broadcast came to, in words: the status table, one line per
 * node for the other verbs, the problems, and the exit code. dipsctl prints
 * them; the dashboard shows the same lines.
 */
import type { NodeReply } from '../shared/control.js';
import { ExitCode } from '../shared/errors.js';
import type { BroadcastResult } from './broadcast.js';

export function statusTable(replies: NodeReply[]): string {
  const header = ['node', 'pid', 'state', 'functions', 'in-flight', 'done', 'failed', 'p50 ms', 'uptime', 'restarts', 'version'];
  const rows: string[][] = [];
  for (const r of replies) {
    if (r.workers.length === 0) rows.push([r.node, '-', `${r.desiredWorkers ? 'starting' : 'no workers'}`, '', '', '', '', '', '', '', r.agentVersion]);
    for (const w of r.workers) {
      const fns = w.functions ?? [];
      const paused = fns.filter((f) => f.paused).map((f) => f.name);
      rows.push([
        r.node,
        String(w.pid),
        w.state,
        fns.length ? `${fns.length - paused.length}/${fns.length}${paused.length ? ` (paused: ${paused.join(',')})` : ''}` : '',
        String(w.inFlight ?? ''),
        String(w.done ?? ''),
        String(w.failed ?? ''),
        w.p50Ms === null || w.p50Ms === undefined ? '-' : w.p50Ms.toFixed(2),
        w.uptimeSec === undefined ? '' : formatUptime(w.uptimeSec),
        String(w.restarts),
        w.version ?? '',
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), ...rows.map(line), ...replies.map(sharingLine)].join('\n');
}

/** How a node shares its machine: `n1: guest — host CPU 35 %, pressure 2.1 %, taking 60 % of its slots (3 of 4)`. */
export function sharingLine(r: NodeReply): string {
  const g = r.guest;
  if (!g) return `${r.node}: (no sharing figures: an older agent)`;
  const pressure = g.pressure === null ? '' : `, CPU pressure ${g.pressure.toFixed(1)} %`;
  if (g.mode === 'dedicated') return `${r.node}: dedicated${pressure}`;
  const offered = r.workers.reduce((n, w) => n + (w.slotsOffered ?? 0), 0);
  const host = g.hostCpu === null ? 'host CPU not measured yet' : `host CPU ${Math.round(g.hostCpu * 100)} %`;
  const taking = g.share === 0 ? 'taking no new job' : `taking ${Math.round(g.share * 100)} % of its slots (${offered} offered)`;
  return `${r.node}: guest — ${host}${pressure}, ${taking}`;
}

export function formatUptime(sec: number): string {
  if (sec < 120) return `${sec}s`;
  if (sec < 7200) return `${Math.round(sec / 60)}m`;
  return `${(sec / 3600).toFixed(1)}h`;
}

/** One line per node for pause, resume, scale, reload, drain, stop, start. */
export function doneLines(replies: NodeReply[]): string[] {
  return replies.map((r) => `${r.node}: ${r.ok ? (r.done ?? 'ok') : `error: ${r.error}`}`);
}

/** The problems to report (missing or failing nodes, nobody up) and the exit code dipsctl gives. */
export function judge({ replies, missing }: BroadcastResult): { problems: string[]; exitCode: number } {
  const problems = [...missing.map((node) => `node ${node} did not answer`), ...replies.filter((r) => !r.ok).map((r) => `node ${r.node}: ${r.error}`)];
  if (replies.length === 0 && missing.length === 0) {
    return { problems: ['no agent answered: is dips-agent running and connected to these NATS servers?'], exitCode: ExitCode.unavailable };
  }
  if (missing.length) return { problems, exitCode: ExitCode.unavailable };
  return { problems, exitCode: replies.every((r) => r.ok) ? ExitCode.ok : ExitCode.failure };
}
