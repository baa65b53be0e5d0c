/**
 * The dashboard in a real browser on a real mesh: headless Chromium (Debian's
 * chromium, driven by puppeteer-core) sees both NATS nodes, the node's workers
 * and the gateway; the jobs/s chart rises under load; pausing ecard from the
 * page makes ecard calls fail fast with the paused message, resuming brings
 * them back; a reload from the page replaces the worker pids; a killed NATS
 * node shows as down within 2 s. A screenshot under load is written to
 * test/artifacts/dashboard.png.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { DipsClient } from '../src/client/index.js';
import { freePort } from '../src/control/nats-node.js';
import { projectRoot } from '../src/shared/config.js';
import { chromiumPath, clientFor, SEED_PDATA, startCluster, startProcess, waitFor, type Cluster, type Proc } from './harness.js';

let cluster: Cluster;
let agent: Proc;
let gateway: Proc;
let dashboard: Proc;
let browser: Browser;
let page: Page;
let dips: DipsClient;
let url: string;
let loading = false;
let load: Promise<void> = Promise.resolve();
const ARTIFACTS = path.join(projectRoot, 'test', 'artifacts');

const card = () => dips.call('ecard', { pSN: '1234567890', pData: SEED_PDATA }, { timeoutMs: 4000 });

/** What the page holds (window.dipsDashboard) or shows. */
const inPage = <T>(fn: () => T): Promise<T> => page.evaluate(fn);

function startLoad(): void {
  loading = true;
  load = Promise.all(Array.from({ length: 4 }, async () => {
    while (loading) await card().catch(() => undefined);
  })).then(() => undefined);
}

async function workerPids(): Promise<number[]> {
  return inPage(() => [...document.querySelectorAll('[data-node="n1"] tr[data-pid]')].map((tr) => Number(tr.getAttribute('data-pid'))).sort());
}

test.before(async () => {
  try {
    await setUp();
  } catch (err) {
    // uvu swallows a failing before hook: say why here
    process.stderr.write(`set-up failed: ${(err as Error).stack}\n`);
    throw err;
  }
});

async function setUp(): Promise<void> {
  cluster = await startCluster();
  const agentMetrics = await freePort();
  agent = await startProcess('agent', cluster, { DIPS_WORKER_PROCESSES: '2', DIPS_AGENT_NODE: 'n1', DIPS_AGENT_METRICS_PORT: String(agentMetrics) }, '"msg":"agent ready"');
  gateway = await startProcess('gateway', cluster, { DIPS_GATEWAY_PORT: String(await freePort()), DIPS_GATEWAY_DATA_DIR: path.join(projectRoot, 'run', `dashboard-test-${process.pid}`) });
  const port = await freePort();
  dashboard = await startProcess('dashboard', cluster, {
    DIPS_DASHBOARD_PORT: String(port),
    DIPS_DASHBOARD_NATS_MONITOR_URLS: cluster.nodes.map((n) => `http://127.0.0.1:${n.httpPort}`).join(','),
  });
  url = `http://127.0.0.1:${port}/`;
  dips = clientFor(cluster, 4000);
  await waitFor(async () => (await card().then(() => true, () => false)), 15_000, 'ecard served');
  browser = await puppeteer.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1000 });
  page.on('dialog', (dialog) => void dialog.accept()); // the controls ask for confirmation
  await page.goto(url, { waitUntil: 'networkidle2' });
}

test.after(async () => {
  loading = false;
  await load;
  await browser?.close();
  await dips?.close();
  await dashboard?.stop();
  await gateway?.stop();
  await agent?.stop();
  await cluster?.stop();
});

test('the page shows both NATS nodes, the node with its workers, and the gateway', async () => {
  await page.waitForFunction(() => document.querySelectorAll('#nats .pill.up').length === 2, { timeout: 5000 });
  const pills = await inPage(() => [...document.querySelectorAll('#nats .pill')].map((p) => p.textContent ?? ''));
  assert.ok(pills.every((p) => /up, \d+ connections, 1 routes/.test(p)), pills.join(' | '));
  await page.waitForFunction(() => document.querySelectorAll('[data-node="n1"] tr[data-pid]').length === 2, { timeout: 5000 });
  assert.is((await workerPids()).length, 2);
  await page.waitForFunction(() => document.querySelectorAll('#gateways tr[data-gateway]').length === 1, { timeout: 5000 });
});

test('under load the jobs/s chart rises; a screenshot is kept', async () => {
  startLoad();
  await page.waitForFunction(() => {
    const samples = (window as unknown as { dipsDashboard: { samples: Array<{ functions: Record<string, { jobsPerSec: number }> }> } }).dipsDashboard.samples;
    return samples.slice(-3).some((s) => (s.functions.ecard?.jobsPerSec ?? 0) > 20);
  }, { timeout: 10_000 });
  const row = await inPage(() => document.querySelector('#functions tr[data-function="ecard"]')?.textContent ?? '');
  assert.match(row, /ecard/);
  assert.is(await inPage(() => document.querySelectorAll('.chart canvas').length), 4, 'four charts drawn');
  await new Promise((r) => setTimeout(r, 3000)); // a few seconds of curve for the picture
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: false });
  assert.ok(existsSync(path.join(ARTIFACTS, 'dashboard.png')));
});

test('pause ecard from the page: calls fail fast with the paused message; resume brings them back', async () => {
  loading = false;
  await load;
  await page.click('#btn-pause-all-ecard');
  await page.waitForFunction(() => /n1: /.test(document.querySelector('#result')?.textContent ?? '') && !/running/.test(document.querySelector('#result')?.textContent ?? ''), { timeout: 10_000 });
  const result = await inPage(() => document.querySelector('#result')?.textContent ?? '');
  assert.match(result, /^dipsctl pause ecard fleet-wide\nn1: (?!error)/, result);
  const started = Date.now();
  const err = await card().then(() => undefined, (e: Error) => e);
  assert.ok(err, 'a paused function does not run');
  assert.match(err!.message, /ecard is paused/);
  assert.ok(Date.now() - started < 1500, `failed fast (${Date.now() - started} ms), not at its 4 s deadline`);
  await page.waitForFunction(() => /paused/.test(document.querySelector('#functions tr[data-function="ecard"]')?.textContent ?? ''), { timeout: 5000 });

  await page.click('#btn-resume-all-ecard');
  await page.waitForFunction(() => /^dipsctl resume/.test(document.querySelector('#result')?.textContent ?? ''), { timeout: 10_000 });
  await waitFor(async () => card().then(() => true, () => false), 5000, 'ecard runs again');
});

test('a rolling reload from the page brings new worker pids, and a marker on the charts', async () => {
  const before = await workerPids();
  await page.click('#btn-reload-n1-all');
  await page.waitForFunction(() => /^dipsctl reload on n1\nn1: /.test(document.querySelector('#result')?.textContent ?? ''), { timeout: 60_000 });
  await page.waitForFunction((old: number[]) => {
    const pids = [...document.querySelectorAll('[data-node="n1"] tr[data-pid]')].map((tr) => Number(tr.getAttribute('data-pid')));
    return pids.length === 2 && pids.every((p) => !old.includes(p));
  }, { timeout: 15_000 }, before);
  const markers = await inPage(() => (window as unknown as { dipsDashboard: { markers: Array<{ text: string }> } }).dipsDashboard.markers.map((m) => m.text));
  assert.ok(markers.some((m) => /reload on n1/.test(m)), markers.join(' | '));
});

test('a killed NATS node shows as down within 2 s', async () => {
  const victim = cluster.nodes[1];
  await victim.stop('SIGKILL');
  const killedAt = Date.now();
  await page.waitForFunction((u: string) => document.querySelector(`#nats .pill.down[data-url="${u}"]`) !== null, { timeout: 2000 }, `http://127.0.0.1:${victim.httpPort}`);
  assert.ok(Date.now() - killedAt <= 2000);
});


test.run();
