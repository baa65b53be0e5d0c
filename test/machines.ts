/**
 * A mesh across test machines (network namespaces, test/netns.ts) and the
 * callers that measure what a fault costs: real native callers (DipsClient,
 * 5 s deadline) and the seed's PHP client through gateways (10 s timeout).
 * The fault tests (machines.test.ts) and the deploy tests use it.
 */
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DipsClient } from '../src/client/index.js';
import { startLocalProcess } from '../src/control/local.js';
import { freePort, startNode, waitForRoutes, type RunningNode } from '../src/control/nats-node.js';
import { phpSerialize } from '../src/mesh/codec/php.js';
import { loadConfig, projectRoot } from '../src/shared/config.js';
import type { Role } from '../src/control/spawn.js';
import type { Proc } from './harness.js';
import { TestNet, type TestHost } from './netns.js';

export { netnsUnavailable } from './netns.js';

export const CARD = { pSN: '7', pData: Array.from({ length: 80 }, (_, i) => i % 100) };
const NATIVE_DEADLINE_MS = 5000;
const PHP_TIMEOUT_MS = 10_000;
const SLOWEST_ALLOWED_MS = 3000;

interface Tally {
  ok: number;
  failed: string[];
  slowestMs: number;
}

export interface LoadResult {
  native: Tally;
  php: Array<{ ok: number; failed: number; slowestMs: number; errors: string[] }>;
  /** Callers of a dips-http, when the case runs one. */
  http?: Tally;
}

/** A dips-http the load also calls (POST /fn/ecard with its API key), as a service without a NATS client would. */
export interface HttpTarget {
  url: string;
  apiKey: string;
}

export class Machines {
  readonly net = new TestNet();
  readonly scratch = mkdtempSync(path.join(os.tmpdir(), 'dips-machines-'));
  /** What a case started: DIPS processes stop first (an agent stops its workers), NATS nodes last. */
  private readonly started: { dips: Proc[]; nats: RunningNode[] } = { dips: [], nats: [] };

  /** A NATS node on `host` (undefined: this machine, on the bridge), routed to the given peers. */
  async natsNode(name: string, host: TestHost | undefined, routes: string[], clusterAddress?: string): Promise<RunningNode & { url: string; route: string }> {
    const address = host?.address ?? this.net.localAddress;
    const [clientPort, clusterPort, httpPort] = host ? [4222, 6222, 8222] : await Promise.all([freePort(), freePort(), freePort()]);
    const node = await startNode({ name, host: address, clientPort, clusterPort, httpPort, routes, clusterHost: clusterAddress ?? address, prefix: host?.prefix });
    this.started.nats.push(node);
    return Object.assign(node, { url: `nats://${address}:${clientPort}`, route: `nats-route://${clusterAddress ?? address}:${clusterPort}` });
  }

  /** Both NATS nodes on this machine (on the bridge, so other hosts reach them). */
  async natsHere() {
    const a = await this.natsNode('a', undefined, []);
    const b = await this.natsNode('b', undefined, [a.route]);
    await waitForRoutes(a.httpPort, 1, 10_000, this.net.localAddress);
    return { a, b, servers: [a.url, b.url] };
  }

  async process(role: Role, servers: string[], host: TestHost | undefined, env: Record<string, string> = {}): Promise<Proc> {
    const proc = await startLocalProcess(role, servers, { DIPS_AGENT_METRICS_PORT: '0', ...env }, undefined, host?.prefix);
    this.started.dips.push(proc);
    return proc;
  }

  /** A node agent running two workers (ecard only unless `env` says otherwise), on this machine or `host`. */
  agent(node: string, servers: string[], host?: TestHost, env: Record<string, string> = {}): Promise<Proc> {
    return this.process('agent', servers, host, { DIPS_WORKER_PROCESSES: '2', DIPS_AGENT_NODE: node, DIPS_WORKER_FUNCTIONS: 'ecard', ...env });
  }

  /**
   * 4 native ecard callers with a 5 s deadline, two PHP callers (seed client, 10 s timeout) on each of the
   * given gateways, and with `http` two HTTP callers of that dips-http (5 s deadline).
   */
  load(servers: string[], gateways: Array<{ host?: TestHost; address: string; port: number }>, http?: HttpTarget) {
    const client = new DipsClient({ config: loadConfig({ argv: [], env: {}, overrides: { nats: { servers } } }), timeoutMs: NATIVE_DEADLINE_MS });
    let running = true;
    const callers = (count: number, call: () => Promise<unknown>) => {
      const tally: Tally = { ok: 0, failed: [], slowestMs: 0 };
      const loops = Array.from({ length: count }, async () => {
        while (running) {
          const t = Date.now();
          try {
            await call();
            tally.ok++;
          } catch (err) {
            tally.failed.push(`${Date.now() - t} ms: ${(err as Error).message}`);
          }
          tally.slowestMs = Math.max(tally.slowestMs, Date.now() - t);
        }
      });
      return { tally, done: Promise.all(loops) };
    };
    const native = callers(4, () => client.call('ecard', CARD));
    const body = JSON.stringify(CARD);
    const web = http
      ? callers(2, async () => {
          const res = await fetch(`${http.url}/fn/ecard`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': http.apiKey }, body, signal: AbortSignal.timeout(NATIVE_DEADLINE_MS) });
          const bytes = Buffer.from(await res.arrayBuffer());
          if (res.status !== 200 || bytes.subarray(1, 4).toString() !== 'PNG') throw new Error(`HTTP ${res.status}: ${bytes.subarray(0, 200).toString()}`);
        })
      : undefined;
    const stopFile = path.join(this.scratch, `stop-${Date.now()}`);
    const payloadFile = path.join(this.scratch, 'card.php');
    writeFileSync(payloadFile, phpSerialize(CARD));
    const php = gateways.flatMap((g) =>
      [0, 1].map(
        () =>
          new Promise<LoadResult['php'][number]>((resolve) => {
            const argv = ['php', path.join(projectRoot, 'test', 'callers', 'php-caller.php'), g.address, String(g.port), 'ecard', payloadFile, stopFile, String(PHP_TIMEOUT_MS)];
            const [bin, ...args] = [...(g.host?.prefix ?? []), ...argv];
            const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
            let out = '';
            child.stdout.on('data', (d) => (out += d));
            child.on('close', () => resolve(out ? JSON.parse(out) : { ok: 0, failed: 1, slowestMs: 0, errors: ['the PHP caller died'] }));
          }),
      ),
    );
    return {
      native: native.tally,
      async stop(): Promise<LoadResult> {
        running = false;
        writeFileSync(stopFile, '');
        await Promise.all([native.done, web?.done]);
        await client.close();
        return { native: native.tally, php: await Promise.all(php), http: web?.tally };
      },
    };
  }

  /** Stop what a case started: DIPS processes first, then NATS. */
  async stopAll(): Promise<void> {
    await Promise.all(this.started.dips.splice(0).map((p) => p.stop('SIGTERM').catch(() => undefined)));
    await Promise.all(this.started.nats.splice(0).map((n) => n.stop('SIGKILL')));
  }

  cleanup(): void {
    this.net.cleanup();
    rmSync(this.scratch, { recursive: true, force: true });
  }
}

/** No native or PHP call failed or took 3 s or more, and calls went on (`phpOnly`: the PHP callers that count). */
export function assertNoCallLost(result: LoadResult, phpOnly?: number[]): void {
  const tallied = (t: Tally) => `${t.ok} ok, ${t.failed.length} failed, slowest ${t.slowestMs} ms`;
  console.log(`native: ${tallied(result.native)}; php: ${result.php.map((p) => `${p.ok} ok, ${p.failed} failed, slowest ${p.slowestMs} ms`).join('; ')}${result.http ? `; http: ${tallied(result.http)}` : ''}`);
  for (const [who, tally, least] of [['native', result.native, 100], ['http', result.http, 20]] as const) {
    if (!tally) continue;
    assert.equal(tally.failed, [], `${who} callers: no failed call`);
    assert.ok(tally.ok > least, `${who} calls went on (${tally.ok})`);
    assert.ok(tally.slowestMs < SLOWEST_ALLOWED_MS, `${who}: slowest call ${tally.slowestMs} ms`);
  }
  result.php.forEach((p, i) => {
    if (phpOnly && !phpOnly.includes(i)) return;
    assert.is(p.failed, 0, `PHP caller ${i}: ${p.errors.join('; ')}`);
    assert.ok(p.ok > 20, `PHP caller ${i} went on (${p.ok})`);
    assert.ok(p.slowestMs < SLOWEST_ALLOWED_MS, `PHP caller ${i}: slowest call ${p.slowestMs} ms`);
  });
}
