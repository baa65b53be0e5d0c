#!/usr/bin/env node
/** dipsctl: see and steer every node of the mesh through dips.control.* broadcasts. */
import { Command, Option } from 'commander';
import { loadConfig } from '../shared/config.js';
import type { ControlRequest, NodeReply, Verb } from '../shared/control.js';
import { connectNats } from '../shared/nats.js';
import { ExitCode, runMain, version } from '../shared/process.js';
import { broadcast } from './broadcast.js';
import { doneLines, formatUptime, judge, statusTable } from './report.js';

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
    const result = await broadcast(nc, verb, request, Number(opts.timeout) || config.control.timeoutMs);
    if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else print(result.replies);
    const outcome = judge(result);
    for (const line of outcome.problems) process.stderr.write(`${line}\n`);
    return outcome.exitCode;
  } finally {
    await nc.close();
  }
}

const printStatus = (replies: NodeReply[]) => process.stdout.write(`${statusTable(replies)}\n`);
const printDone = (replies: NodeReply[]) => {
  for (const line of doneLines(replies)) process.stdout.write(`${line}\n`);
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
