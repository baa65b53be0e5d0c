#!/usr/bin/env node
/** dipsctl: see and steer every node of the mesh through dips.control.* broadcasts, and the gateways' dead letters through dips.admin.deadletter.*. */
import { Command, Option } from 'commander';
import type { NatsConnection } from 'nats';
import { loadConfig, type DipsConfig } from '../shared/config.js';
import type { ControlRequest, NodeReply, Verb } from '../shared/control.js';
import type { DeadLetterAction } from '../shared/dead-letter.js';
import { connectNats } from '../shared/nats.js';
import { ExitCode, runMain, version } from '../shared/process.js';
import { broadcast } from './broadcast.js';
import { askGateways, deadLetterDone, deadLetterTable, judgeDeadLetters } from './dead-letters.js';
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

/** Connect as the global options say, run `use`, close. */
async function withNats(use: (nc: NatsConnection, config: DipsConfig, opts: GlobalOptions) => Promise<number>): Promise<number> {
  const opts = program.opts<GlobalOptions>();
  const config = loadConfig({ overrides: opts.servers ? { nats: { servers: opts.servers.split(',') } } : undefined });
  const nc = await connectNats({ ...config, nats: { ...config.nats } }, { name: `dipsctl-${process.pid}` });
  try {
    return await use(nc, config, opts);
  } finally {
    await nc.close();
  }
}

function run(verb: Verb, request: ControlRequest, print: (replies: NodeReply[]) => void): Promise<number> {
  return withNats(async (nc, config, opts) => {
    const result = await broadcast(nc, verb, request, Number(opts.timeout) || config.control.timeoutMs);
    if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else print(result.replies);
    const outcome = judge(result);
    for (const line of outcome.problems) process.stderr.write(`${line}\n`);
    return outcome.exitCode;
  });
}

/** Ask every gateway about its dead letters (`handle` for retry and drop). */
function deadLetter(action: DeadLetterAction, handle?: string): Promise<number> {
  return withNats(async (nc, config, opts) => {
    const replies = await askGateways(nc, action, { handle }, Number(opts.timeout) || config.control.timeoutMs);
    if (opts.json) process.stdout.write(`${JSON.stringify({ replies }, null, 2)}\n`);
    else if (action === 'list') process.stdout.write(`${deadLetterTable(replies)}\n`);
    else for (const line of deadLetterDone(replies)) process.stdout.write(`${line}\n`);
    const outcome = judgeDeadLetters(action, replies, handle);
    for (const line of outcome.problems) process.stderr.write(`${line}\n`);
    return outcome.exitCode;
  });
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

const deadLetters = program.command('dead-letter')
  .description('background jobs the gateways gave up on (attempts used up, or a failure of the job itself), kept for an operator: list them, run one again, or drop it')
  .addHelpText('after', '\nExit codes: 0 done, 1 a gateway reported an error or none holds the handle, 69 no gateway answered.');
deadLetters.command('list').description('every gateway\'s dead letters: handle, function, attempts, how long dead, last error')
  .action(async () => finish(await deadLetter('list')));
deadLetters.command('retry').description('put a dead letter back in its gateway\'s queue with a fresh budget of attempts')
  .argument('<handle>', 'the job handle, as `dead-letter list` shows it')
  .action(async (handle: string) => finish(await deadLetter('retry', handle)));
deadLetters.command('drop').description('delete a dead letter for good')
  .argument('<handle>', 'the job handle, as `dead-letter list` shows it')
  .action(async (handle: string) => finish(await deadLetter('drop', handle)));

runMain(() => program.parseAsync().then(() => undefined));
