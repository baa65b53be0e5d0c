/**
 * The http scenario: thumbnails of the 2725 x 2225 JPEG to 200 px over HTTP at
 * 1, 8 and 32 concurrent clients, in one run, from DIPS's HTTP gateway (two
 * workers), ipx (one process, as it is deployed) and nginx's image_filter
 * module (libgd), with sharp called in-process as the floor.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { freePort, portOpen, sleep } from '../src/control/nats-node.js';
import { startLocalProcess } from '../src/control/local.js';
import { stopChild } from '../src/control/spawn.js';
import { buildImagePath, signedUrl, signingKey } from '../src/shared/url-signature.js';
import { benchPhoto } from './photo.js';
import { cpuPerCall } from './cpu.js';
import { startLibraryFloor } from './floors.js';
import { summarize, timedLoops } from './stats.js';
import { startMesh } from './systems.js';
import type { Row, Scenario } from './scenarios.js';

const IMAGE_FILTER_MODULE = '/usr/lib/nginx/modules/ngx_http_image_filter_module.so';
const CONCURRENCY = [1, 8, 32];

/** GET `url` and read the whole body; fails on anything but 200 with an image. */
function fetchImage(agent: http.Agent, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      let size = 0;
      res.on('data', (c: Buffer) => (size += c.length));
      res.on('end', () => (res.statusCode === 200 && size > 500 ? resolve() : reject(new Error(`${res.statusCode}, ${size} bytes`))));
    }).on('error', reject);
  });
}

async function startIpx(dir: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [new URL('./ipx-server.js', import.meta.url).pathname, dir, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout!, 'data');
  return { port, child };
}

async function startImageFilter(dir: string): Promise<{ port: number; child: ChildProcess }> {
  const conf = path.join(mkdtempSync(path.join(os.tmpdir(), 'dips-bench-nginx-')), 'nginx.conf');
  const port = await freePort();
  const root = path.dirname(conf);
  writeFileSync(conf,
    `load_module ${IMAGE_FILTER_MODULE};\n${process.getuid?.() === 0 ? 'user root;\n' : ''}daemon off;\nworker_processes 2;\npid ${root}/nginx.pid;\nerror_log ${root}/error.log;\nevents { worker_connections 1024; }\n` +
    `http {\n  access_log off;\n  client_body_temp_path ${root}/b;\n  proxy_temp_path ${root}/p;\n  fastcgi_temp_path ${root}/f;\n  uwsgi_temp_path ${root}/u;\n  scgi_temp_path ${root}/s;\n` +
    `  server {\n    listen 127.0.0.1:${port};\n    location /img/ {\n      alias ${dir}/;\n      image_filter resize 200 -;\n      image_filter_buffer 20M;\n      image_filter_jpeg_quality 80;\n    }\n  }\n}\n`);
  const child = spawn('nginx', ['-c', conf], { stdio: 'ignore' });
  for (let i = 0; i < 200 && !(await portOpen('127.0.0.1', port)); i++) await sleep(25);
  return { port, child };
}

export const httpScenario: Scenario = {
  title: 'thumbnails of the 2725 x 2225 JPEG to 200 px over HTTP at 1, 8, 32 clients: DIPS http gateway (2 workers) vs ipx vs nginx image_filter; sharp in-process as the floor',
  async run(ctx) {
    const photo = await benchPhoto();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dips-bench-photos-'));
    writeFileSync(path.join(dir, 'photo.jpg'), photo.bytes);
    const calls = (c: number) => Math.max(c * 2, Math.round((c === 1 ? 40 : 160) * ctx.scale));
    const rows: Row[] = [];
    /** Each concurrency in turn; CPU per request of the server's processes at 8 clients. */
    const measure = async (system: string, url: string, pids: Record<string, Array<number | undefined>>) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
      try {
        await fetchImage(agent, url); // warm-up: first decode, connections
        for (const c of CONCURRENCY) {
          ctx.progress(`${system}, ${c} clients`);
          const cpu = cpuPerCall(pids);
          const r = await timedLoops(c, Math.ceil(calls(c) / c), () => fetchImage(agent, url));
          const row: Row = { scenario: 'http thumbnail', system, concurrency: c, ...summarize(r.latencies, r.failed, r.seconds) };
          if (c === 8 && Object.keys(pids).length) {
            const perCall = cpu(r.latencies.length);
            delete perCall.callers; // the load generator is the same for every system
            row.cpuMsPerCall = perCall;
            row.note = `CPU ms/request: ${Object.entries(perCall).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`;
          }
          rows.push(row);
        }
      } finally {
        agent.destroy();
      }
    };

    // the floor: the same sharp work in this process, one at a time
    const inProcess = await timedLoops(1, calls(1), () => sharp(photo.bytes, { autoOrient: true }).resize({ width: 200, fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 80 }).toBuffer());
    rows.push({ scenario: 'http thumbnail', system: 'sharp in-process', concurrency: 1, note: photo.source, ...summarize(inProcess.latencies, inProcess.failed, inProcess.seconds) });

    const mesh = await startMesh(2);
    const key = '6469707362656e63686b6579';
    const port = await freePort();
    const gateway = await startLocalProcess('http', mesh.servers, { DIPS_HTTP_PORT: String(port), DIPS_HTTP_KEY: key, DIPS_HTTP_SALT: '', DIPS_HTTP_LOCAL_ROOTS: `bench=${dir}` });
    try {
      await measure('DIPS http gateway', signedUrl(`http://127.0.0.1:${port}`, signingKey(key, ''), buildImagePath('thumbnail', { width: 200 }, 'local:bench/photo.jpg')), { http: [gateway.child.pid], workers: mesh.pids.workers, nats: mesh.pids.nats });
      ctx.progress('floor: the photo through NATS once, nats.js to nats.js, no DIPS code');
      const library = await startLibraryFloor(mesh.servers[0], 1);
      try {
        const cpu = cpuPerCall({ responder: library.pids, nats: mesh.pids.nats });
        const r = await library.calls(photo.bytes, 1, 40, new Uint8Array(0));
        const perCall = cpu(r.latencies.length);
        rows.push({ scenario: 'http floor', system: 'photo one way through NATS', concurrency: 1, cpuMsPerCall: perCall, note: `CPU ms: sender ${perCall.callers.toFixed(1)}, nats-server ${perCall.nats.toFixed(1)}, receiver ${perCall.responder.toFixed(1)}`, ...summarize(r.latencies, r.failed, r.seconds) });
      } finally {
        await library.stop();
      }
    } finally {
      await gateway.stop();
      await mesh.stop();
    }
    const ipx = await startIpx(dir);
    try {
      await measure('ipx', `http://127.0.0.1:${ipx.port}/w_200,q_80/photo.jpg`, { ipx: [ipx.child.pid] });
    } finally {
      await stopChild(ipx.child, 'SIGTERM', 3000);
    }
    if (existsSync(IMAGE_FILTER_MODULE)) {
      const nginx = await startImageFilter(dir);
      try {
        await measure('nginx image_filter', `http://127.0.0.1:${nginx.port}/img/photo.jpg`, {});
      } finally {
        await stopChild(nginx.child, 'SIGQUIT', 3000);
      }
    } else ctx.progress('libnginx-mod-http-image-filter missing (apt-get install libnginx-mod-http-image-filter): no image_filter row');
    return rows;
  },
};
