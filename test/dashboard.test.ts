/**
 * The dashboard in a real browser on a real mesh: headless Chromium (Debian's
 * chromium, driven by puppeteer-core) sees both NATS nodes, the node's workers
 * and the gateway; the jobs/s chart rises under load; pausing ecard from the
 * page makes ecard calls fail fast with the paused message, resuming brings
 * them back; a reload from the page replaces the worker pids; a killed NATS
 * node shows as down within 2 s. At 1280, 1600 and 1920 px with 40 busy functions the
 * charts stay inside their cards and the page never scrolls sideways; legends stay
 * shorter than their charts; markers a few pixels apart are drawn as one with a count. Forged cross-site POSTs, non-JSON POSTs and
 * foreign Host headers (DNS rebinding) are refused; the token cookie is
 * HttpOnly, SameSite=Strict, and Secure over TLS. The node's workers serve the example
 * bundle: each shows it (hello@<version>) in dipsctl status and on the page, and text an
 * agent sends is shown as text, never as markup. A slow job shows in p99, then leaves it once
 * the workers' latency window (3 s here) has passed. A screenshot under load is written to
 * test/artifacts/dashboard.png.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { DipsClient } from '../src/client/index.js';
import { freePort } from '../src/control/nats-node.js';
import { projectRoot } from '../src/shared/config.js';
import { buildExampleBundle, chromiumPath, clientFor, runDipsctl, SEED_PDATA, startCluster, startProcess, waitFor, type Cluster, type Proc } from './harness.js';

let cluster: Cluster;
let agent: Proc;
let gateway: Proc;
let dashboard: Proc;
let browser: Browser;
let page: Page;
let dips: DipsClient;
let url: string;
let dashboardPort: number;
let bundleDir: string | undefined;
/** `name@version` of the example bundle, as the workers report it. */
let bundle: string;
let loading = false;
let load: Promise<void> = Promise.resolve();
const ARTIFACTS = path.join(projectRoot, 'test', 'artifacts');
/** The workers' latency window (worker.latencyWindowSec), short so that a slow job leaves it during the test. */
const LATENCY_WINDOW_SEC = 3;

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
  bundleDir = buildExampleBundle();
  const manifest = JSON.parse(readFileSync(path.join(bundleDir, 'dips-bundle.json'), 'utf8')) as { name: string; version: string };
  bundle = `${manifest.name}@${manifest.version}`;
  cluster = await startCluster();
  const agentMetrics = await freePort();
  agent = await startProcess('agent', cluster, {
    DIPS_WORKER_PROCESSES: '2', DIPS_AGENT_NODE: 'n1', DIPS_AGENT_METRICS_PORT: String(agentMetrics), DIPS_WORKER_BUNDLE_DIR: bundleDir,
    DIPS_WORKER_LATENCY_WINDOW_SEC: String(LATENCY_WINDOW_SEC),
  }, '"msg":"agent ready"');
  gateway = await startProcess('gateway', cluster, { DIPS_GATEWAY_PORT: String(await freePort()), DIPS_GATEWAY_DATA_DIR: path.join(projectRoot, 'run', `dashboard-test-${process.pid}`) });
  const port = await freePort();
  dashboardPort = port;
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
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
});

/** A request with exactly these headers (Host, Origin and Sec-Fetch-* included: fetch would not forge them). */
function request(port: number, urlPath: string, headers: Record<string, string>, method = 'GET', body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('cross-site POSTs, non-JSON POSTs and foreign Host headers (DNS rebinding) are refused; the page\'s own requests are not', async () => {
  const own = `http://127.0.0.1:${dashboardPort}`;
  const json = { 'content-type': 'application/json' };
  const ping = (headers: Record<string, string>, body = '{}') => request(dashboardPort, '/api/control/ping', headers, 'POST', body);
  const refused: Array<[string, Record<string, string>, number]> = [
    ['a foreign Origin, text/plain (a form or no-cors fetch)', { origin: 'http://evil.example', 'content-type': 'text/plain' }, 403],
    ['a foreign Origin, JSON', { origin: 'http://evil.example', ...json }, 403],
    ['Origin null (a sandboxed frame)', { origin: 'null', ...json }, 403],
    ['the same host on another port', { origin: `http://127.0.0.1:${dashboardPort + 1}`, ...json }, 403],
    ['no Origin, Sec-Fetch-Site cross-site', { 'sec-fetch-site': 'cross-site', ...json }, 403],
    ['no Origin, a foreign Referer', { referer: 'http://evil.example/page', ...json }, 403],
    ['our Origin but text/plain', { origin: own, 'content-type': 'text/plain' }, 415],
    ['our Origin but no content type', { origin: own }, 415],
    ['a rebound Host', { host: `evil.example:${dashboardPort}`, origin: `http://evil.example:${dashboardPort}`, ...json }, 403],
  ];
  for (const [what, headers, status] of refused) {
    const r = await ping(headers);
    assert.is(r.status, status, `${what}: ${r.status} ${r.body.slice(0, 200)}`);
    assert.ok(!/"verb"/.test(r.body), `${what}: nothing was broadcast`);
    assert.match(r.body, /origin|Origin|Host|content type|Content-Type|JSON/, `${what}: the answer says why: ${r.body}`);
  }
  for (const [what, headers] of [
    ['the page (same Origin)', { origin: own, ...json }],
    ['the page (same-origin Sec-Fetch-Site)', { 'sec-fetch-site': 'same-origin', referer: `${own}/`, ...json }],
    ['a script without a browser', json],
    ['localhost', { host: `localhost:${dashboardPort}`, origin: `http://localhost:${dashboardPort}`, ...json }],
  ] as Array<[string, Record<string, string>]>) {
    const r = await ping(headers);
    assert.is(r.status, 200, `${what}: ${r.status} ${r.body.slice(0, 200)}`);
  }
  for (const p of ['/', '/app.js', '/api/history', '/events']) {
    const r = await request(dashboardPort, p, { host: `evil.example:${dashboardPort}` });
    assert.is(r.status, 403, `GET ${p} with a foreign Host: ${r.status}`);
    assert.match(r.body, /Host/);
  }
  assert.is((await request(dashboardPort, '/', {})).status, 200);
  assert.is((await request(dashboardPort, '/', { host: `[::1]:${dashboardPort}` })).status, 200);
});

test('the token cookie is HttpOnly and SameSite=Strict, and Secure when the dashboard is reached over TLS', async () => {
  const port = await freePort();
  const token = 'dashboard-test-token';
  const guarded = await startProcess('dashboard', cluster, { DIPS_DASHBOARD_PORT: String(port), DIPS_DASHBOARD_TOKEN: token, DIPS_DASHBOARD_NATS_MONITOR_URLS: `http://127.0.0.1:${cluster.nodes[0].httpPort}` });
  try {
    assert.is((await request(port, '/', {})).status, 401);
    const plain = await request(port, `/?token=${token}`, {});
    assert.is(plain.status, 302);
    const cookie = String(plain.headers['set-cookie']);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.not.match(cookie, /Secure/, 'over plain HTTP a Secure cookie would never come back');
    const viaTls = await request(port, `/?token=${token}`, { 'x-forwarded-proto': 'https' });
    assert.match(String(viaTls.headers['set-cookie']), /; Secure/, 'behind a TLS proxy the cookie is Secure');
    const withCookie = await request(port, '/', { cookie: `dips_dashboard=${token}` });
    assert.is(withCookie.status, 200);
    const rebound = await request(port, `/?token=${token}`, { host: `evil.example:${port}` });
    assert.is(rebound.status, 403, 'a foreign Host is refused before the token is looked at');
  } finally {
    await guarded.stop();
  }
});

test('the page shows both NATS nodes, the node with its workers, and the gateway', async () => {
  await page.waitForFunction(() => document.querySelectorAll('#nats .pill.up').length === 2, { timeout: 5000 });
  const pills = await inPage(() => [...document.querySelectorAll('#nats .pill')].map((p) => p.textContent ?? ''));
  assert.ok(pills.every((p) => /up, \d+ connections, 1 routes/.test(p)), pills.join(' | '));
  await page.waitForFunction(() => document.querySelectorAll('[data-node="n1"] tr[data-pid]').length === 2, { timeout: 5000 });
  assert.is((await workerPids()).length, 2);
  // how the node shares its machine, in dipsctl status's words (this one is dedicated: the whole mesh is on this machine)
  assert.match(await inPage(() => document.querySelector('[data-node="n1"] .sharing')?.textContent ?? ''), /^n1: dedicated/);
  await page.waitForFunction(() => document.querySelectorAll('#gateways tr[data-gateway]').length === 1, { timeout: 5000 });
});

test('each worker shows the bundle it serves, in dipsctl status and on the page', async () => {
  const workerLines = (out: string) => out.split('\n').filter((l) => /^n1\s+\d+\s/.test(l));
  let last = '';
  // a worker shows its bundle once it has answered the agent's first status request
  await waitFor(async () => {
    const run = await runDipsctl(cluster, 'status');
    last = `exit ${run.code}\n${run.out}${run.err}`;
    const rows = workerLines(run.out);
    return run.code === 0 && rows.length === 2 && rows.every((l) => l.trimEnd().endsWith(`  ${bundle}`));
  }, 15_000, 'dipsctl status to show the bundle of both workers').catch((err: Error) => {
    throw new Error(`${err.message}; last run: ${last}`);
  });
  const header = last.split('\n')[1];
  assert.match(header, /\sversion\s+bundle$/, `the bundle column: ${header}`);
  await page.waitForFunction((b: string) => {
    const cells = [...document.querySelectorAll('[data-node="n1"] tr[data-pid] td.bundle')].map((td) => td.textContent);
    return cells.length === 2 && cells.every((c) => c === b);
  }, { timeout: 5000 }, bundle);
  const headings = await inPage(() => [...document.querySelectorAll('[data-node="n1"] thead th')].map((th) => th.textContent));
  assert.ok(headings.includes('bundle'), headings.join(', '));
  // the release line, when this agent reports one (nothing is deployed here), is dipsctl status's line
  const release = await inPage(() => document.querySelector('[data-node="n1"] .release')?.textContent);
  if (release !== undefined) {
    assert.match(release, /^n1: (no release deployed|release )/);
    assert.ok(last.split('\n').includes(release), `dipsctl status says it too: ${last}`);
  }
});

test('what an agent says (bundle, release, refusal) is shown as text, never as markup', async () => {
  type Words = { current: string; rolling?: string; refused?: string };
  type Snap = { nodes: Array<{ node: string; workers: Array<{ pid: number; bundle?: string }> }>; releases?: Record<string, Words> };
  const shown = await inPage(() => {
    const st = (window as unknown as { dipsDashboard: { latest: Snap; render: (s: Snap) => void } }).dipsDashboard;
    const hostile = '<img src=x onerror="window.dipsInjected=1"><b>bold</b>';
    // the next snapshot from the server (within a second) draws the real fleet again
    const snap = structuredClone(st.latest);
    const n = snap.nodes.find((x) => x.node === 'n1')!;
    n.workers[0].bundle = hostile;
    snap.releases = { n1: { current: `release ${hostile}`, rolling: `rolling onto ${hostile}`, refused: `last refused: x@1: ${hostile}` } };
    st.render(snap);
    const block = document.querySelector('[data-node="n1"]')!;
    return {
      release: block.querySelector('.release')?.textContent,
      refused: block.querySelector('.release .refused')?.textContent,
      bundle: block.querySelector(`tr[data-pid="${n.workers[0].pid}"] td.bundle`)?.textContent,
      elements: block.querySelectorAll('img, b').length,
      hostile,
    };
  });
  assert.is(shown.elements, 0, 'no element was made from the text');
  assert.is(shown.release, `n1: release ${shown.hostile}, rolling onto ${shown.hostile}; last refused: x@1: ${shown.hostile}`);
  assert.is(shown.refused, `; last refused: x@1: ${shown.hostile}`);
  assert.is(shown.bundle, shown.hostile);
  assert.is(await inPage(() => (window as unknown as { dipsInjected?: number }).dipsInjected), undefined);
  // and the real fleet is back with the next snapshot
  await page.waitForFunction((b: string) => [...document.querySelectorAll('[data-node="n1"] td.bundle')].every((td) => td.textContent === b), { timeout: 5000 }, bundle);
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

interface ChartFit { width: number; scrollWidth: number; charts: number; series: number; problems: string[] }

/** How the charts sit in the page: nothing wider than the window, every canvas inside its card, no legend taller than its chart. */
function chartFit(): ChartFit {
  const problems: string[] = [];
  const cards = [...document.querySelectorAll<HTMLElement>('.chart')];
  for (const card of cards) {
    const box = card.getBoundingClientRect();
    const name = card.getAttribute('data-chart');
    for (const canvas of card.querySelectorAll('canvas')) {
      const r = canvas.getBoundingClientRect();
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5) problems.push(`${name}: canvas ${r.left}..${r.right} outside card ${box.left}..${box.right}`);
    }
    const legend = card.querySelector('.u-legend')?.getBoundingClientRect().height ?? 0;
    const chart = card.querySelector('canvas')?.getBoundingClientRect().height ?? 0;
    if (legend > chart) problems.push(`${name}: legend ${legend}px taller than chart ${chart}px`);
  }
  const cardRects = cards.map((c) => c.getBoundingClientRect());
  cardRects.forEach((a, i) => cardRects.slice(i + 1).forEach((b) => {
    if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5) problems.push('two chart cards overlap');
  }));
  const scrollWidth = document.documentElement.scrollWidth;
  if (scrollWidth > window.innerWidth) problems.push(`page scrolls sideways: ${scrollWidth} > ${window.innerWidth}`);
  const charts = (window as unknown as { dipsDashboard: { charts: Array<{ plot: { series: unknown[] } }> } }).dipsDashboard.charts;
  return { width: window.innerWidth, scrollWidth, charts: cards.length, series: charts[0]?.plot.series.length ?? 0, problems };
}

test('at 1280, 1600 and 1920 px with 40 busy functions the charts fit their cards and the legends stay shorter than the charts', async () => {
  // 40 more functions in the page's 15-minute history: the charts list every function busy in the window, so this is what
  // 40 registered, busy functions look like to the page (new samples from the server keep the window, and so them, in place)
  await inPage(() => {
    const samples = (window as unknown as { dipsDashboard: { samples: Array<{ functions: Record<string, unknown> }> } }).dipsDashboard.samples;
    for (const [i, s] of samples.entries()) {
      for (let f = 0; f < 40; f++) s.functions[`synthetic-function-${String(f).padStart(2, '0')}`] = { jobsPerSec: (f + i) % 7, failuresPerSec: 0, p50Ms: f, p99Ms: 2 * f, waiting: f % 3 };
    }
  });
  await page.waitForFunction(() => (window as unknown as { dipsDashboard: { charts: Array<{ plot: { series: unknown[] } }> } }).dipsDashboard.charts[0]?.plot.series.length > 40, { timeout: 5000 });
  try {
    for (const width of [1280, 1600, 1920]) {
      await page.setViewport({ width, height: 1000 });
      // the ResizeObserver resizes the charts on the next frame or two
      let fit = await page.evaluate(chartFit);
      for (const until = Date.now() + 3000; fit.problems.length && Date.now() < until; fit = await page.evaluate(chartFit)) await new Promise((r) => setTimeout(r, 100));
      assert.is(fit.charts, 4);
      assert.ok(fit.series > 40, `${fit.series - 1} series drawn`);
      assert.equal(fit.problems, [], `at ${width} px: ${fit.problems.join('; ')}`);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-1920-40-functions.png'), fullPage: false });
  } finally {
    await page.setViewport({ width: 1280, height: 1000 });
  }
});

test('markers within a few pixels of each other are drawn as one line with a count', async () => {
  const groups = await inPage(() => {
    const { markerGroups } = (window as unknown as { dipsDashboard: { markerGroups: (p: Array<{ x: number; text: string }>, within: number) => Array<{ x: number; count: number }> } }).dipsDashboard;
    const burst = Array.from({ length: 12 }, (_, i) => ({ x: 100 + i * 0.5, text: `n1: worker ${i}` }));
    return markerGroups([...burst, { x: 300, text: 'n1: ecard paused' }, { x: 304, text: 'n1: ecard resumed' }, { x: 320, text: 'n1: scaled to 2 workers' }], 6);
  });
  assert.equal(groups.map((g) => [g.x, g.count]), [[100, 12], [300, 2], [320, 1]]);
  // and on a real chart: a burst of 20 markers within 40 ms is one line (the burst stands in for the server's markers for one redraw)
  const drawn = await inPage(async () => {
    type Plot = { redraw: (paths?: boolean) => void; dipsMarkerGroups?: number };
    const st = (window as unknown as { dipsDashboard: { markers: Array<{ time: number; text: string }>; samples: Array<{ time: number }>; charts: Array<{ plot: Plot }> } }).dipsDashboard;
    const real = st.markers;
    const at = st.samples.at(-3)!.time;
    st.markers = Array.from({ length: 20 }, (_, i) => ({ time: at + i * 2, text: `n1: burst ${i}` }));
    try {
      const plot = st.charts[0].plot;
      plot.dipsMarkerGroups = undefined;
      plot.redraw(false);
      for (let i = 0; i < 5 && plot.dipsMarkerGroups === undefined; i++) await Promise.resolve(); // uPlot draws on a microtask
      return plot.dipsMarkerGroups;
    } finally {
      st.markers = real;
    }
  });
  assert.is(drawn, 1, '20 markers within 40 ms: one line');
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

test('p50 and p99 cover the last worker.latencyWindowSec seconds: a slow job shows, then leaves the figures', async () => {
  const p99 = () => inPage(() => document.querySelector('#functions tr[data-function="delay"] td:nth-child(4)')?.textContent ?? '');
  await dips.call('delay', { ms: 1500 });
  await page.waitForFunction(() => Number(document.querySelector('#functions tr[data-function="delay"] td:nth-child(4)')?.textContent) >= 1500, { timeout: 10_000 });
  assert.match(await inPage(() => document.querySelector('#latency-window')?.textContent ?? ''), new RegExp(`last ${LATENCY_WINDOW_SEC} s`));
  const status = await runDipsctl<{ replies: Array<{ workers: Array<{ latencyWindowSec?: number }> }> }>(cluster, 'status', '--json');
  assert.is(status.code, 0, status.err);
  assert.ok(status.json!.replies.flatMap((r) => r.workers).every((w) => w.latencyWindowSec === LATENCY_WINDOW_SEC), status.out);
  // no other delay job: once the window has passed the slow one, the function has no latency to show
  await page.waitForFunction(() => document.querySelector('#functions tr[data-function="delay"] td:nth-child(4)')?.textContent === '-', { timeout: 15_000 });
  assert.is(await p99(), '-');
});

test('a killed NATS node shows as down within 2 s', async () => {
  const victim = cluster.nodes[1];
  await victim.stop('SIGKILL');
  const killedAt = Date.now();
  await page.waitForFunction((u: string) => document.querySelector(`#nats .pill.down[data-url="${u}"]`) !== null, { timeout: 2000 }, `http://127.0.0.1:${victim.httpPort}`);
  assert.ok(Date.now() - killedAt <= 2000);
});


test.run();
