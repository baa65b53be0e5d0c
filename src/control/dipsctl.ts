#!/usr/bin/env node
/** dipsctl: see and steer every node of the mesh through dips.control.* broadcasts, and the gateways' dead letters and waiting stored jobs through dips.admin.deadletter.* and dips.admin.stored.*. */
import { Command, Option } from 'commander';
import type { NatsConnection } from 'nats';
import { loadConfig, schema, type DipsConfig } from '../shared/config.js';
import type { ControlRequest, NodeReply, Verb } from '../shared/control.js';
import type { DeadLetterAction, DeadLetterReply, StoredAction, StoredJobsReply } from '../shared/dead-letter.js';
import { connectNats, NatsConnectError } from '../mesh/nats.js';
import { ExitCode, quietOnClosedStdout, runMain, version } from '../shared/process.js';
import { broadcast } from './broadcast.js';
import { askGateways, askStored, deadLetterDone, deadLetterTable, judgeDeadLetters, storedTable } from './dead-letters.js';
import { doneLines, formatUptime, judge, statusTable } from './report.js';
import { createPublicKey } from 'node:crypto';
import { packBundle } from './release/archive.js';
import { generateKeys, loadSigningKey, loadTrustedKeys } from './release/keys.js';
import { deploy, rollback, type RolloutResult, type Signer } from './release/rollout.js';
import { releaseLabel, ReleaseRefused } from './release/statement.js';

interface GlobalOptions {
  json?: boolean;
  timeout?: string;
  servers?: string;
  config?: string;
  node?: string[];
}

// commander's errors reach runMain (unknown option or command: 64); the subcommands made below inherit this
const program = new Command('dipsctl')
  .description('Control the DIPS mesh: status, pause/resume, scale, rolling reload, drain, stop/start, deploy and roll back function bundles; config shows the configuration in force')
  .version(version)
  .exitOverride()
  .option('-c, --config <file>', 'configuration file (also DIPS_CONFIG)')
  .option('-s, --servers <urls>', 'comma-separated NATS servers (default: nats.servers)')
  .option('--json', 'print JSON for scripts instead of tables')
  .option('-t, --timeout <ms>', 'how long to gather answers (default: control.timeoutMs)')
  .addHelpText('after', '\nConnecting to NATS gives up after --timeout (at least two dial timeouts, 2 × 2 × nats.pingIntervalMs) with exit 69, naming the servers.\n\nExit codes: 0 every targeted node answered ok, 1 a node reported an error, 64 bad usage, 69 NATS unreachable or a targeted node did not answer (or none is up), 78 bad configuration.');
quietOnClosedStdout();

const nodeOption = () => new Option('-n, --node <name...>', 'only these nodes');
const functionOption = () => new Option('-f, --function <name...>', 'only these functions');

/** A one-line usage error (exit 64 through runMain's handling of commander's errors), before anything is sent. */
function usage(message: string): never {
  program.error(message, { exitCode: ExitCode.usage, code: 'dipsctl.usage' });
  throw new Error('unreachable: exitOverride throws'); // commander's typings do not say error() never returns
}

/** The configuration as the global options say: -c/--config (commander parsed it; loadConfig alone sees only --config), -s. */
function effectiveConfig(): DipsConfig {
  const opts = program.opts<GlobalOptions>();
  return loadConfig({ argv: opts.config ? ['--config', opts.config] : [], overrides: opts.servers ? { nats: { servers: opts.servers.split(',') } } : undefined });
}

/** --timeout in ms, or control.timeoutMs. */
function gatherMs(config: DipsConfig): number {
  const { timeout } = program.opts<GlobalOptions>();
  if (timeout === undefined) return config.control.timeoutMs;
  const ms = Number(timeout);
  if (!(Number.isSafeInteger(ms) && ms > 0)) usage(`--timeout takes a whole number of milliseconds above 0, got ${JSON.stringify(timeout)}`);
  return ms;
}

/** Connect as the global options say, run `use`, close. */
async function withNats(use: (nc: NatsConnection, config: DipsConfig, opts: GlobalOptions) => Promise<number>): Promise<number> {
  const opts = program.opts<GlobalOptions>();
  const config = effectiveConfig();
  // an operator's command must not hang on a NATS that is down or mute: give up like the gathering does, but
  // leave room for one dial that gets no answer (a vanished first node) before the second node is tried
  const connectMs = Math.max(gatherMs(config), 2 * 2 * config.nats.pingIntervalMs);
  let nc: NatsConnection;
  try {
    nc = await connectNats(config, { name: `dipsctl-${process.pid}`, signal: AbortSignal.timeout(connectMs) });
  } catch (err) {
    throw err instanceof NatsConnectError ? new NatsConnectError(`${err.message} (gave up after ${connectMs} ms)`, { cause: err }) : err;
  }
  try {
    return await use(nc, config, opts);
  } finally {
    await nc.close();
  }
}

function run(verb: Verb, request: ControlRequest, print: (replies: NodeReply[]) => void): Promise<number> {
  return withNats(async (nc, config, opts) => {
    const result = await broadcast(nc, verb, request, gatherMs(config));
    if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else print(result.replies);
    const outcome = judge(result);
    for (const line of outcome.problems) process.stderr.write(`${line}\n`);
    return outcome.exitCode;
  });
}

/**
 * Ask every gateway about one kind of its background jobs (dead letters, or
 * waiting stored jobs) and report: a table for `list`, a line per gateway for
 * the other actions, and the exit code (`handle`: the job retry, drop or bury names).
 */
async function gatewayJobs<A extends DeadLetterAction | StoredAction, R extends DeadLetterReply | StoredJobsReply>(
  kind: { ask: (nc: NatsConnection, action: A, body: { handle?: string }, ms: number) => Promise<R[]>; table: (replies: R[]) => string; what?: string; listing?: string },
  action: A,
  handle?: string,
): Promise<number> {
  return withNats(async (nc, config, opts) => {
    const replies = await kind.ask(nc, action, { handle }, gatherMs(config));
    if (opts.json) process.stdout.write(`${JSON.stringify({ replies }, null, 2)}\n`);
    else if (action === 'list') process.stdout.write(`${kind.table(replies)}\n`);
    else for (const line of deadLetterDone(replies)) process.stdout.write(`${line}\n`);
    const outcome = judgeDeadLetters(action, replies, handle, kind.what, kind.listing);
    for (const line of outcome.problems) process.stderr.write(`${line}\n`);
    return outcome.exitCode;
  });
}

const deadLetter = (action: DeadLetterAction, handle?: string) => gatewayJobs({ ask: askGateways, table: deadLetterTable }, action, handle);
const stored = (action: StoredAction, handle?: string) =>
  gatewayJobs({ ask: askStored, table: storedTable, what: 'a waiting stored job', listing: '`dipsctl stored list`' }, action, handle);

const printStatus = (replies: NodeReply[]) => process.stdout.write(`${statusTable(replies)}\n`);
const printDone = (replies: NodeReply[]) => {
  for (const line of doneLines(replies)) process.stdout.write(`${line}\n`);
};
const finish = (code: number) => {
  process.exitCode = code;
};

program.command('status').description('a table of every worker: node, pid, functions, in-flight, done, failed, p50 latency (of the jobs that ended in the last worker.latencyWindowSec seconds, 60 by default; - when none did), uptime, restarts, code version, bundle; then each node\'s sharing and release')
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
  .action(async (o: { workers: string; node?: string[] }) => {
    // the agent would refuse it too, but only after connecting: say it here, in one line, with nothing sent
    const workers = Number(o.workers);
    if (!/^\d+$/.test(o.workers) || workers > 256) usage(`--workers takes a whole number from 0 to 256, got ${JSON.stringify(o.workers)}`);
    finish(await run('scale', { nodes: o.node, workers }, printDone));
  });

program.command('reload').description('rolling code update: new workers on the code now on disk take jobs, then old ones drain and exit')
  .addOption(nodeOption())
  .action(async (o: { node?: string[] }) => finish(await run('reload', { nodes: o.node }, printDone)));

program.command('drain').description('stop taking jobs and wait until none is in flight (before maintenance); exit 1 if some still are after --wait')
  .addOption(nodeOption()).addOption(functionOption())
  .option('-w, --wait <seconds>', 'longest wait for jobs in flight', '60')
  .action(async (o: { node?: string[]; function?: string[]; wait: string }) => {
    const seconds = Number(o.wait);
    if (!(seconds > 0)) usage(`--wait takes a number of seconds above 0, got ${JSON.stringify(o.wait)}`);
    finish(await run('drain', { nodes: o.node, functions: o.function, waitMs: seconds * 1000 }, printDone));
  });

for (const verb of ['stop', 'start'] as const) {
  program.command(verb).description(verb === 'stop' ? 'stop every worker process (they drain first)' : 'start the worker processes again')
    .addOption(nodeOption())
    .action(async (o: { node?: string[] }) => finish(await run(verb, { nodes: o.node }, printDone)));
}

program.command('watch').description('status, refreshed every --interval seconds until Ctrl-C (into a pipe or file: one table after another)')
  .addOption(nodeOption()).option('-i, --interval <s>', 'seconds between refreshes', '2')
  .action(async (o: { node?: string[]; interval: string }) => {
    const seconds = Number(o.interval);
    if (!(seconds > 0)) usage(`--interval takes a number of seconds above 0, got ${JSON.stringify(o.interval)}`);
    // clearing the screen is for a terminal; into a pipe or a file the escape codes would only be noise
    const clear = process.stdout.isTTY ? '\x1b[2J\x1b[H' : '';
    const gap = process.stdout.isTTY ? '' : '\n';
    for (let first = true; ; first = false) {
      await run('status', { nodes: o.node }, (replies) => process.stdout.write(`${first ? '' : gap}${clear}${new Date().toISOString()}\n${statusTable(replies)}\n`));
      await new Promise((r) => setTimeout(r, seconds * 1000));
    }
  });

program.command('config').description('print the configuration in force (defaults, config/default.json, -c or DIPS_CONFIG, DIPS_* variables, -s) as JSON; secrets show as [Sensitive] when set')
  .action(() => {
    process.stdout.write(`${JSON.stringify(maskSecrets(effectiveConfig()), null, 2)}\n`);
    finish(ExitCode.ok);
  });

/**
 * The configuration with every `sensitive` key of the schema (passwords, tokens, keys) masked the way convict's
 * toString() masks them, except that an empty one stays empty: whether a secret is set is what an operator checks.
 */
function maskSecrets(config: DipsConfig): unknown {
  const walk = (node: Record<string, unknown>, value: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const spec = node[key] as Record<string, unknown> | undefined;
      if (spec && typeof spec === 'object' && 'doc' in spec) out[key] = spec.sensitive && v !== '' ? '[Sensitive]' : v;
      else if (spec && v && typeof v === 'object' && !Array.isArray(v)) out[key] = walk(spec, v as Record<string, unknown>);
      else out[key] = v;
    }
    return out;
  };
  return walk(schema as unknown as Record<string, unknown>, config as unknown as Record<string, unknown>);
}

/** The operator's signing key: --key, or deploy.signingKey. */
function signer(config: DipsConfig, key?: string): Signer {
  return loadSigningKey(key ?? config.deploy.signingKey);
}

/** A deploy's or rollback's outcome: one line per node, the time it took, the exit code. */
function rolloutOutcome(result: RolloutResult, json: boolean | undefined): number {
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    for (const line of doneLines(result.replies)) process.stdout.write(`${line}\n`);
    const ok = result.replies.filter((r) => r.ok).length;
    process.stdout.write(`${releaseLabel(result.release)}: ${ok} of ${result.replies.length + result.missing.length} nodes serving it, ${(result.ms / 1000).toFixed(1)} s\n`);
  }
  const outcome = judge(result);
  for (const line of outcome.problems) process.stderr.write(`${line}\n`);
  if (result.missing.length) process.stderr.write(`a node that did not answer takes the release from its peers when it is back (deploy.syncIntervalMs)\n`);
  return outcome.exitCode;
}

/** A release refused before anything was sent (bad bundle, nothing to roll back): one line, exit 1. */
async function refusedAsFailure(step: () => Promise<number>): Promise<number> {
  try {
    return await step();
  } catch (err) {
    if (!(err instanceof ReleaseRefused)) throw err;
    process.stderr.write(`${err.message}\n`);
    return ExitCode.failure;
  }
}

program.command('keygen').description('make the operator\'s Ed25519 deploy key pair: <dir>/dips-deploy.pem (private: deploy.signingKey, for dipsctl) and dips-deploy.pub.pem (deploy.publicKeys, for every agent)')
  .argument('[dir]', 'folder to write the two files in', '.')
  .action((dir: string) => {
    const made = generateKeys(dir);
    process.stdout.write(`private key ${made.privateFile} (keep it to yourself: deploy.signingKey)\npublic key  ${made.publicFile} (give it to every agent: deploy.publicKeys)\nkey id      ${made.id}\n`);
    finish(ExitCode.ok);
  });

program.command('deploy').description('sign a bundle of functions (a folder with dips-bundle.json, or a tarball of one) and roll every node onto it; a node whose new workers fail to start rolls back and the command exits 1')
  .argument('<bundle>', 'bundle folder or .tar.gz')
  .option('-k, --key <file>', 'the operator\'s private key (default: deploy.signingKey)')
  .addOption(nodeOption())
  .action(async (source: string, o: { key?: string; node?: string[] }) => finish(await refusedAsFailure(async () => {
    const config = effectiveConfig();
    const key = signer(config, o.key);
    const { archive, manifest } = await packBundle(source, config.deploy);
    return withNats(async (nc, cfg, opts) => rolloutOutcome(await deploy(nc, archive, manifest, key, o.node, gatherMs(cfg)), opts.json));
  })));

program.command('rollback').description('roll every node back onto the release before the one in force (or --to a release they keep), without sending the code again')
  .option('--to <release>', 'the release to return to: a version, name@version, or a SHA-256 prefix (dipsctl status lists what nodes keep)')
  .option('-k, --key <file>', 'the operator\'s private key (default: deploy.signingKey)')
  .addOption(nodeOption())
  .action(async (o: { to?: string; key?: string; node?: string[] }) => finish(await refusedAsFailure(async () => {
    const config = effectiveConfig();
    const key = signer(config, o.key);
    // the release rolled back to is checked against the operator's own key and those the agents trust, when configured here
    const trusted = [{ id: key.id, key: createPublicKey(key.key), file: o.key ?? config.deploy.signingKey }, ...loadTrustedKeys(config.deploy.publicKeys)];
    return withNats(async (nc, cfg, opts) => rolloutOutcome(await rollback(nc, key, trusted, o.to, o.node, gatherMs(cfg)), opts.json));
  })));

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

const storedJobs = program.command('stored')
  .description('background jobs the gateways keep on disk that no worker holds yet (waiting for a worker, their time or their next attempt): list them, run one now, drop one, or move one to the dead letters')
  .addHelpText('after', '\nExit codes: 0 done, 1 a gateway reported an error or none holds the handle, 69 no gateway answered.');
storedJobs.command('list').description('every gateway\'s waiting stored jobs: handle, function, what it waits for, age, attempts, and how many workers serve its function now (0: it waits for a worker nobody runs)')
  .action(async () => finish(await stored('list')));
storedJobs.command('retry').description('send a job waiting for its time or its next attempt to a worker now')
  .argument('<handle>', 'the job handle, as `stored list` shows it')
  .action(async (handle: string) => finish(await stored('retry', handle)));
storedJobs.command('drop').description('delete a waiting stored job: it never runs')
  .argument('<handle>', 'the job handle, as `stored list` shows it')
  .action(async (handle: string) => finish(await stored('drop', handle)));
storedJobs.command('bury').description('move a waiting stored job to the dead letters (`dead-letter retry` runs it again later)')
  .argument('<handle>', 'the job handle, as `stored list` shows it')
  .action(async (handle: string) => finish(await stored('bury', handle)));

// A one-shot command ends when its work is done: nats.js 2.29 never closes a socket whose server accepted
// and then said nothing (its transport's close skips a socket that never got INFO), and that socket
// alone would keep the process alive after the answer. stdout and stderr are written synchronously here
// (files, pipes and terminals on Linux), so nothing printed is lost.
runMain(() => program.parseAsync().then(() => process.exit()));
