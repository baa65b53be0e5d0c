#!/usr/bin/env node
/**
 * `npm run bench`: DIPS against its anchors (gearmand 1.1 with PHP workers) on
 * this machine, in one run. Prints a table, writes bench/reports/<stamp>.json
 * and .md. Each scenario starts what it needs and stops it after.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { renderChart } from './chart.js';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { projectRoot } from '../src/shared/config.js';
import { ExitCode, runMain } from '../src/shared/process.js';
import { gearmandPath, phpHas, versionOf } from './peers.js';
import { scenarios, type Row } from './scenarios.js';
import { judgeTargets, renderTable, renderTargets } from './targets.js';

const program = new Command('dips-bench')
  .description('Benchmark DIPS against gearmand + PHP workers on this machine')
  .option('-o, --only <names>', `comma-separated scenarios: ${Object.keys(scenarios).join(', ')}`)
  .option('-s, --scale <factor>', 'multiply call counts (0.2 for a quick look)', '1')
  .parse();

runMain(async () => {
  const opts = program.opts<{ only?: string; scale: string }>();
  const names = opts.only ? opts.only.split(',') : Object.keys(scenarios);
  // scenarios without anchors (guest) run where gearmand and PHP are not installed
  const anchored = names.some((name) => !scenarios[name]?.standalone);
  const missing = !anchored ? [] : [
    !gearmandPath() && 'gearmand (apt-get install gearman-job-server)',
    !phpHas('gearman') && 'php8.2-gearman',
    !phpHas('gd') && 'php8.2-gd',
  ].filter(Boolean);
  if (missing.length) {
    process.stderr.write(`bench needs: ${missing.join(', ')}\n`);
    return ExitCode.unavailable;
  }
  const machine = {
    cpu: os.cpus()[0]?.model ?? '?',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    natsServer: versionOf('nats-server'),
    gearmand: versionOf(gearmandPath() ?? 'gearmand'),
    php: versionOf('php', ['-r', 'echo PHP_VERSION;']),
    imagick: phpHas('imagick'),
  };
  process.stderr.write(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, node ${machine.node}, ${machine.natsServer}, ${machine.gearmand}\n`);
  const rows: Row[] = [];
  for (const name of names) {
    const scenario = scenarios[name];
    if (!scenario) throw new Error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(', ')}`);
    process.stderr.write(`\n[${name}] ${scenario.title}\n`);
    rows.push(...(await scenario.run({ scale: Number(opts.scale) || 1, progress: (line) => process.stderr.write(`  ${line}\n`) })));
  }
  const targets = judgeTargets(rows);
  const table = [renderTable(rows), targets.length ? `\nTargets (issues 13, 14 and 27), judged against the anchors of this run:\n\n${renderTargets(targets)}` : ''].join('\n');
  process.stdout.write(`\n${table}\n`);
  const dir = path.join(projectRoot, 'bench', 'reports');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(path.join(dir, `${stamp}.json`), JSON.stringify({ machine, rows, targets }, null, 2));
  writeFileSync(path.join(dir, `${stamp}.md`), `# DIPS benchmark ${stamp}\n\nMachine: ${JSON.stringify(machine)}\n\n${table}\n`);
  const chart = renderChart(rows, `DIPS benchmark ${stamp.slice(0, 10)}: ${machine.cpu}, ${machine.cores} cores`);
  writeFileSync(path.join(dir, `${stamp}.svg`), chart);
  // the whole run is what bench/README.md shows: a partial run (--only) leaves its chart alone
  if (!opts.only) writeFileSync(path.join(projectRoot, 'bench', 'latest.svg'), chart);
  process.stdout.write(`\nreports: bench/reports/${stamp}.json, .md and .svg${opts.only ? '' : '; chart of the full run: bench/latest.svg'}\n`);
});
