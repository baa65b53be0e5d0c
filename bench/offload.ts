/**
 * The seed's headline result on this machine: a PHP page (php-fpm behind nginx)
 * that returns the ecard, with the web tier pinned to core 0 and DIPS (NATS,
 * gateway, workers) and the load generator pinned to core 1. At a fixed request
 * rate, the web tier's CPU per request, its share of core 0 (its "load") and the
 * page's p50/p99 when the card is drawn in-process with GD versus when the page
 * calls DIPS through the gateway.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort, portOpen, sleep } from '../src/control/nats-node.js';
import { stopChild } from '../src/control/spawn.js';
import { Fonts } from '../src/services/image/fonts.js';
import { processCpuMs } from './cpu.js';
import { anchorsDir } from './peers.js';
import { summarize } from './stats.js';
import { startMesh } from './systems.js';
import type { Row, Scenario } from './scenarios.js';

const NGINX = '/usr/sbin/nginx';
const PHP_FPM = '/usr/sbin/php-fpm8.2';
/** Requests per second: what PHP + GD on one core serves without queueing, so both modes run the same load. */
const RATE = 20;

/** Pin a process and all its threads to one CPU. */
const pin = (pid: number | undefined, cpu: number) => pid && spawnSync('taskset', ['-a', '-cp', String(cpu), String(pid)], { stdio: 'ignore' });

/** A process and its children (php-fpm's pool, nginx's workers). */
function withChildren(pid: number): number[] {
  const children = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [pid, ...children];
}

async function startWebTier(gatewayPort: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dips-offload-'));
  const fpmPort = await freePort();
  const webPort = await freePort();
  writeFileSync(
    path.join(dir, 'fpm.conf'),
    `[global]\npid = ${dir}/fpm.pid\nerror_log = ${dir}/fpm.log\ndaemonize = no\n[web]\nuser = root\nlisten = 127.0.0.1:${fpmPort}\npm = static\npm.max_children = 4\nclear_env = no\n`,
  );
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `user root;\nworker_processes 1;\ndaemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/nginx-error.log;\nevents { worker_connections 1024; }\n` +
      `http {\n  access_log off;\n  upstream fpm { server 127.0.0.1:${fpmPort}; keepalive 8; }\n  server {\n    listen 127.0.0.1:${webPort};\n` +
      `    location = /card.php {\n      include /etc/nginx/fastcgi_params;\n      fastcgi_param SCRIPT_FILENAME ${path.join(anchorsDir, 'card-page.php')};\n` +
      `      fastcgi_param DIPS_FONT ${Fonts.monoBold.file};\n      fastcgi_param DIPS_GATEWAY_PORT ${gatewayPort};\n      fastcgi_keep_conn on;\n      fastcgi_pass fpm;\n    }\n  }\n}\n`,
  );
  const fpm = spawn('taskset', ['-c', '0', PHP_FPM, '-F', '-R', '-y', path.join(dir, 'fpm.conf')], { stdio: 'ignore' });
  const nginx = spawn('taskset', ['-c', '0', NGINX, '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' });
  for (let i = 0; i < 200 && !((await portOpen('127.0.0.1', webPort)) && (await portOpen('127.0.0.1', fpmPort))); i++) await sleep(25);
  await sleep(300); // pool children up
  const pids = () => [...withChildren(Number(readFileSync(path.join(dir, 'fpm.pid'), 'utf8'))), ...withChildren(Number(readFileSync(path.join(dir, 'nginx.pid'), 'utf8')))];
  return { webPort, pids, stop: () => Promise.all([fpm, nginx].map((c: ChildProcess) => stopChild(c, 'SIGTERM', 3000))) };
}

/** `seconds` of GETs at `rate` per second, open loop (a slow page does not slow the arrivals). */
async function fixedRate(port: number, query: string, rate: number, seconds: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const latencies: number[] = [];
  let failed = 0;
  const total = Math.round(rate * seconds);
  const started = performance.now();
  const requests: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    requests.push(
      new Promise<void>((resolve) => {
        const t = performance.now();
        http
          .get({ host: '127.0.0.1', port, path: `/card.php?${query}`, agent }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const body = Buffer.concat(chunks);
              if (res.statusCode === 200 && body.subarray(1, 4).toString() === 'PNG') latencies.push(performance.now() - t);
              else failed++;
              resolve();
            });
          })
          .on('error', () => {
            failed++;
            resolve();
          });
      }),
    );
  }
  await Promise.all(requests);
  agent.destroy();
  return { latencies, failed, seconds: (performance.now() - started) / 1000 };
}

export const offload: Scenario = {
  title: `the seed's offload: a PHP page (php-fpm + nginx on core 0) returning the ecard at ${RATE}/s, drawn with GD in-process vs by DIPS (NATS, gateway, workers on core 1)`,
  async run(ctx) {
    if (!existsSync(NGINX) || !existsSync(PHP_FPM)) throw new Error('the offload scenario needs nginx and php8.2-fpm: apt-get install -y nginx php8.2-fpm php8.2-gd');
    pin(process.pid, 1); // the load generator stays off the web tier's core
    const mesh = await startMesh(2);
    for (const pid of [...mesh.pids.workers, ...mesh.pids.gateway, ...mesh.pids.nats]) pin(pid, 1);
    const web = await startWebTier(mesh.port);
    const rows: Row[] = [];
    const perRequest: Record<string, number> = {};
    try {
      for (const [mode, system] of [['gd', 'web tier draws (PHP + GD)'], ['dips', 'web tier calls DIPS']] as const) {
        await fixedRate(web.webPort, `mode=${mode}`, RATE, 1); // warm-up: pool, opcache, connections
        ctx.progress(`${system}: ${RATE}/s for ${Math.round(10 * ctx.scale)} s`);
        const pids = web.pids();
        const cpuBefore = pids.reduce((ms, pid) => ms + processCpuMs(pid), 0);
        const run = await fixedRate(web.webPort, `mode=${mode}`, RATE, Math.max(2, 10 * ctx.scale));
        const cpuMs = pids.reduce((ms, pid) => ms + processCpuMs(pid), 0) - cpuBefore;
        perRequest[mode] = cpuMs / Math.max(1, run.latencies.length);
        const busy = (100 * cpuMs) / (run.seconds * 1000);
        rows.push({
          scenario: 'offload',
          system,
          concurrency: RATE,
          note: `web tier CPU ${perRequest[mode].toFixed(2)} ms/request, core 0 ${busy.toFixed(1)} % busy`,
          cpuMsPerCall: { webTier: perRequest[mode] },
          ...summarize(run.latencies, run.failed, run.seconds),
        });
      }
      rows[rows.length - 1].note += `; ${(perRequest.gd / perRequest.dips).toFixed(1)}x less web-tier CPU per request than drawing in-process`;
    } finally {
      await web.stop();
      await mesh.stop();
      // back on every core: the scenarios after this one (and the processes they start, which inherit it) must not run on one
      spawnSync('taskset', ['-a', '-cp', `0-${os.cpus().length - 1}`, String(process.pid)], { stdio: 'ignore' });
    }
    return rows;
  },
};
