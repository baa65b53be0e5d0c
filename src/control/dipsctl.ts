#!/usr/bin/env node
/** dipsctl: see and steer every node of the mesh through dips.control.* broadcasts. */
import { Command, Option } from 'commander';
import { loadConfig } from '../shared/config.js';
import type { ControlRequest, NodeReply, Verb } from '../shared/control.js';
import { connectNats } from '../shared/nats.js';
import { ExitCode, runMain, version } from '../shared/process.js';
import { broadcast } from './broadcast.js';

interface GlobalOptions {
  json?: boolean;
  timeout?: string;
  servers?: string;
  node?: string[];
}

const program = new Command('dipsctl')
  .description('Control the DIPS mesh: status, pause/resume, scale, rolling reload, drain, stop/start')
  .version(version)
  .option('-c, --config <file>', 'configuration file (also DIPS_CONFIG)')
  .option('-s, --servers <urls>', 'comma-separated NATS servers (default: nats.servers)')
  .option('--json', 'print JSON for scripts instead of tables')
  .option('-t, --timeout <ms>', 'how long to gather answers (default: control.timeoutMs)')
  .addHelpText('after', '\nExit codes: 0 every targeted node answered ok, 1 a node reported an error, 69 a targeted node did not answer (or none is up), 78 bad configuration.');

const nodeOption = () => new Option('-n, --node <name...>', 'only these nodes');
const functionOption = () => new Option('-f, --function <name...>', 'only these functions');

async function run(verb: Verb, request: ControlRequest, print: (replies: NodeReply[]) => void): Promise<number> {
  const opts = program.opts<GlobalOptions>();
  const config = loadConfig({ overrides: opts.servers ? { nats: { servers: opts.servers.split(',') } } : undefined });
  const nc = await connectNats({ ...config, nats: { ...config.nats } }, { name: `dipsctl-${process.pid}` });
  try {
    const { replies, missing } = await broadcast(nc, verb, request, Number(opts.timeout) || config.control.timeoutMs);
    if (opts.json) process.stdout.write(`${JSON.stringify({ replies, missing }, null, 2)}\n`);
    else print(replies);
    for (const node of missing) process.stderr.write(`node ${node} did not answer\n`);
    for (const r of replies) if (!r.ok) process.stderr.write(`node ${r.node}: ${r.error}\n`);
    if (replies.length === 0 && missing.length === 0) {
      process.stderr.write('no agent answered: is dips-agent running and connected to these NATS servers?\n');
      return ExitCode.unavailable;
    }
    if (missing.length) return ExitCode.unavailable;
    return replies.every((r) => r.ok) ? ExitCode.ok : ExitCode.failure;
  } finally {
    await nc.close();
  }
}

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
  return [line(header), ...rows.map(line)].join('\n');
}

function formatUptime(sec: number): string {
  if (sec < 120) return `${sec}s`;
  if (sec < 7200) return `${Math.round(sec / 60)}m`;
  return `${(sec / 3600).toFixed(1)}h`;
}

const printStatus = (replies: NodeReply[]) => process.stdout.write(`${statusTable(replies)}\n`);
const printDone = (replies: NodeReply[]) => {
  for (const r of replies) process.stdout.write(`${r.node}: ${r.ok ? (r.done ?? 'ok') : `error: ${r.error}`}\n`);
};
const finish = (code: number) => {
  process.exitCode = code;
};

program.command('status').description('a table of every worker: node, pid, functions, in-flight, done, failed, p50 latency, uptime, restarts, code version')
  .addOption(nodeOption())
  .action(async (o: { node?: string[] }) => finish(await run('status', { nodes: o.node }, printStatus)));

program.command('ping').description('which agents are up').addOption(nodeOption())
  .action(async (o: { node?: string[] }) => finish(await run('ping', { nodes: o.node }, (replies) => {
    for (const r of replies) process.stdout.write(`${r.node}\tagent pid ${r.agentPid}\tup ${formatUptime(r.uptimeSec)}\t${r.desiredWorkers} workers wanted\t${r.agentVersion}\n`);
  })));

for (const verb of ['pause', 'resume'] as const) {
  program.command(verb).description(verb === 'pause' ? 'stop taking jobs (all or some functions); jobs in flight finish' : 'take jobs again')
    .addOption(nodeOption()).addOption(functionOption())
    .action(async (o: { node?: string[]; function?: string[] }) => finish(await run(verb, { nodes: o.node, functions: o.function }, printDone)));
}

program.command('scale').description('run N worker processes on the targeted nodes')
  .requiredOption('-w, --workers <n>', 'worker processes per node').addOption(nodeOption())
  .action(async (o: { workers: string; node?: string[] }) => finish(await run('scale', { nodes: o.node, workers: Number(o.workers) }, printDone)));

program.command('reload').description('rolling code update: new workers on the code now on disk take jobs, then old ones drain and exit')
  .addOption(nodeOption())
  .action(async (o: { node?: string[] }) => finish(await run('reload', { nodes: o.node }, printDone)));

program.command('drain').description('stop taking jobs and wait until none is in flight (before maintenance); exit 1 if some still are after --wait')
  .addOption(nodeOption()).addOption(functionOption())
  .option('-w, --wait <seconds>', 'longest wait for jobs in flight', '60')
  .action(async (o: { node?: string[]; function?: string[]; wait: string }) => {
    const seconds = Number(o.wait);
    if (!(seconds > 0)) {
      process.stderr.write(`--wait takes a number of seconds above 0, got ${JSON.stringify(o.wait)}\n`);
      return finish(ExitCode.usage);
    }
    finish(await run('drain', { nodes: o.node, functions: o.function, waitMs: seconds * 1000 }, printDone));
  });

for (const verb of ['stop', 'start'] as const) {
  program.command(verb).description(verb === 'stop' ? 'stop every worker process (they drain first)' : 'start the worker processes again')
    .addOption(nodeOption())
    .action(async (o: { node?: string[] }) => finish(await run(verb, { nodes: o.node }, printDone)));
}

program.command('watch').description('status, refreshed every --interval seconds until Ctrl-C')
  .addOption(nodeOption()).option('-i, --interval <s>', 'seconds between refreshes', '2')
  .action(async (o: { node?: string[]; interval: string }) => {
    for (;;) {
      await run('status', { nodes: o.node }, (replies) => process.stdout.write(`\x1b[2J\x1b[H${new Date().toISOString()}\n${statusTable(replies)}\n`));
      await new Promise((r) => setTimeout(r, (Number(o.interval) || 2) * 1000));
    }
  });

runMain(() => program.parseAsync().then(() => undefined));
