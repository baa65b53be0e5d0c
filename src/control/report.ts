/**
 * What a control broadcast came to, in words: the status table, one line per
 * node for the other verbs, the problems, and the exit code. dipsctl prints
 * them; the dashboard shows the same lines.
 */
import type { NodeReply, ReleaseSummary } from '../shared/control.js';
import { ExitCode } from '../shared/errors.js';
import type { BroadcastResult } from './broadcast.js';

export function statusTable(replies: NodeReply[]): string {
  const header = ['node', 'pid', 'state', 'functions', 'in-flight', 'done', 'failed', 'p50 ms', 'uptime', 'restarts', 'version', 'bundle'];
  const rows: string[][] = [];
  for (const r of replies) {
    if (r.workers.length === 0) rows.push([r.node, '-', `${r.desiredWorkers ? 'starting' : 'no workers'}`, '', '', '', '', '', '', '', r.agentVersion, '']);
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
        // a worker that has not answered yet says nothing about its bundle; one that answered without one serves none
        w.version === undefined ? '' : w.bundle === undefined ? '-' : oneLine(w.bundle),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const releases = replies.map(releaseLine).filter((l): l is string => l !== undefined);
  return [line(header), ...rows.map(line), ...replies.map(sharingLine), ...releases].join('\n');
}

/** A node's release in words: what is in force, what its workers are being rolled onto, what it last refused. */
export interface ReleaseWords {
  /** `release hello@1.2.0 (sha256 1a2b3c4d…, signed 2026-12-03 04:30 UTC)` or `no release deployed`. */
  current: string;
  /** `rolling onto hello@1.3.0`. */
  rolling?: string;
  /** `last refused: hello@1.4.0: <error>`. */
  refused?: string;
}

/** Undefined for an agent that reports no release (one older than dipsctl deploy). */
export function releaseWords(r: NodeReply): ReleaseWords | undefined {
  const release = r.release;
  if (!release) return undefined;
  const current = release.current ? `release ${releaseName(release.current)} (sha256 ${oneLine(release.current.sha256).slice(0, 8)}…, signed ${signedAt(release.current.issuedAt)})` : 'no release deployed';
  return {
    current,
    ...(release.rolling ? { rolling: `rolling onto ${releaseName(release.rolling)}` } : {}),
    ...(release.lastError ? { refused: `last refused: ${releaseName(release.lastError.release)}: ${clip(oneLine(release.lastError.error), ERROR_CHARS)}` } : {}),
  };
}

/** `n1: release hello@1.2.0 (sha256 1a2b3c4d…, signed 2026-12-03 04:30 UTC), rolling onto hello@1.3.0; last refused: hello@1.4.0: …`; undefined for an older agent. */
export function releaseLine(r: NodeReply): string | undefined {
  const words = releaseWords(r);
  if (!words) return undefined;
  return `${r.node}: ${words.current}${words.rolling ? `, ${words.rolling}` : ''}${words.refused ? `; ${words.refused}` : ''}`;
}

/** The longest refusal shown in the status line; --json has all of it. */
const ERROR_CHARS = 200;

const releaseName = (s: ReleaseSummary) => oneLine(`${s.name}@${s.version}`);

function signedAt(ms: number): string {
  const date = new Date(ms);
  if (!Number.isFinite(date.getTime())) return 'at an unknown time';
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * Text an agent or worker sent, made one line of plain characters: a line
 * break would break the table, and a control character (an escape sequence)
 * would reach the operator's terminal.
 */
function oneLine(text: string): string {
  return String(text).replace(/[\p{Cc}\p{Zl}\p{Zp}]+/gu, ' ').replace(/ {2,}/g, ' ').trim();
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

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
