// The DIPS dashboard page: live fleet over server-sent events, 15-minute charts
// (uPlot), and controls that broadcast on dips.control.* through the server.
// Plain browser JavaScript: no build step, nothing fetched from elsewhere.
'use strict';

const state = { samples: [], markers: [], latest: undefined, charts: [], chartFunctions: '', chartOrder: [], inputs: {}, deadLetters: [], deadSeen: undefined, deadLoadedAt: 0, stored: [], storedSeen: undefined, storedLoadedAt: 0 };
window.dipsDashboard = state; // for tests and for the curious

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('data-') || k === 'aria-label' || k === 'type' || k === 'min' || k === 'value' || k === 'title') node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? '')));
  return node;
};
const num = (v, digits = 1) => (v === null || v === undefined ? '-' : Number(v).toFixed(digits));
const uptime = (s) => (s === undefined ? '' : s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${(s / 3600).toFixed(1)}h`);

// ---- controls --------------------------------------------------------------

async function control(verb, request, description) {
  if (!window.confirm(`${description}?\n\nThis runs: dipsctl ${verb} on the fleet.`)) return;
  $('#result').textContent = `${description}: running…`;
  try {
    const res = await fetch(`/api/control/${verb}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
    const body = await res.json();
    $('#result').textContent = body.text ?? body.error ?? JSON.stringify(body);
  } catch (err) {
    $('#result').textContent = `${description} failed: ${err.message}`;
  }
}

function button(label, verb, request, description) {
  const id = `btn-${verb}-${(request.nodes ?? ['all']).join('_')}-${(request.functions ?? ['all']).join('_')}`;
  return el('button', { id, type: 'button', 'data-verb': verb, 'data-target': JSON.stringify(request), onclick: () => control(verb, request, description) }, label);
}

// ---- tables ----------------------------------------------------------------

function renderNats(nats) {
  $('#nats').replaceChildren(...nats.map((n) => el('span', { class: `pill ${n.up ? 'up' : 'down'}`, 'data-url': n.url, title: n.problem ?? '' },
    n.up ? `NATS ${n.name ?? n.url}: up, ${n.connections} connections, ${n.routes} routes` : `NATS ${n.url}: DOWN`)));
}

function renderFunctions(functions, pausedEverywhere) {
  const rows = Object.entries(functions).sort(([a], [b]) => a.localeCompare(b)).map(([fn, p]) =>
    el('tr', { 'data-function': fn },
      el('td', {}, fn, pausedEverywhere.has(fn) ? el('span', { class: 'paused' }, ' (paused)') : ''),
      el('td', { class: 'num' }, num(p.jobsPerSec)), el('td', { class: 'num' }, num(p.p50Ms, 2)), el('td', { class: 'num' }, num(p.p99Ms, 2)),
      el('td', { class: 'num' }, num(p.failuresPerSec)), el('td', { class: 'num' }, p.waiting),
      el('td', {}, el('span', { class: 'controls' },
        button('pause', 'pause', { functions: [fn] }, `Pause ${fn} on every node`),
        button('resume', 'resume', { functions: [fn] }, `Resume ${fn} on every node`)))));
  $('#functions tbody').replaceChildren(...rows);
}

/** A node's release in dipsctl status's words (releaseWords on the server); nothing for an agent that reports none. */
function releaseLine(node, words) {
  if (!words) return '';
  return el('p', { class: 'muted release' }, `${node}: ${words.current}`,
    words.rolling ? el('span', { class: 'rolling' }, `, ${words.rolling}`) : '',
    words.refused ? el('span', { class: 'paused refused' }, `; ${words.refused}`) : '');
}

function renderNodes(nodes, missing, functions, sharing, releases) {
  const blocks = nodes.map((n) => {
    // the tables are redrawn every second: what the operator typed or picked survives it
    const kept = (id, fallback, node) => {
      node.id = id;
      node.value = state.inputs[id] ?? fallback;
      node.addEventListener('input', () => { state.inputs[id] = node.value; });
      return node;
    };
    const fnSelect = kept(`fn-${n.node}`, Object.keys(functions).sort()[0] ?? '', el('select', { 'aria-label': `function to pause or resume on ${n.node}` }, ...Object.keys(functions).sort().map((fn) => el('option', { value: fn }, fn))));
    const workersInput = kept(`workers-${n.node}`, String(n.desiredWorkers), el('input', { type: 'number', min: '0', 'aria-label': `worker processes on ${n.node}` }));
    const target = { nodes: [n.node] };
    const rows = n.workers.map((w) => {
      const fns = w.functions ?? [];
      const paused = fns.filter((f) => f.paused).map((f) => f.name);
      return el('tr', { 'data-pid': String(w.pid) },
        el('td', { class: 'num' }, w.pid), el('td', {}, w.state),
        el('td', {}, fns.length ? `${fns.length - paused.length}/${fns.length}` : '', paused.length ? el('span', { class: 'paused' }, ` paused: ${paused.join(', ')}`) : ''),
        el('td', { class: 'num' }, w.inFlight ?? ''), el('td', { class: 'num' }, w.done ?? ''), el('td', { class: 'num' }, w.failed ?? ''),
        el('td', { class: 'num' }, num(w.p50Ms, 2)), el('td', { class: 'num' }, w.restarts), el('td', {}, w.version ?? ''),
        // as dipsctl status: blank until the worker answers, '-' when it serves no bundle
        el('td', { class: 'bundle' }, w.version === undefined ? '' : (w.bundle ?? '-')), el('td', {}, uptime(w.uptimeSec)));
    });
    return el('div', { class: 'node', 'data-node': n.node },
      el('h3', {}, `node ${n.node}`, el('span', { class: 'muted' }, `agent ${n.agentPid}, ${n.workers.length}/${n.desiredWorkers} workers, up ${uptime(n.uptimeSec)}`),
        el('span', { class: 'controls' },
          fnSelect,
          el('button', { id: `btn-pause-node-${n.node}`, type: 'button', 'data-verb': 'pause-node', onclick: () => control('pause', { ...target, functions: [fnSelect.value] }, `Pause ${fnSelect.value} on ${n.node}`) }, 'pause'),
          el('button', { id: `btn-resume-node-${n.node}`, type: 'button', 'data-verb': 'resume-node', onclick: () => control('resume', { ...target, functions: [fnSelect.value] }, `Resume ${fnSelect.value} on ${n.node}`) }, 'resume'),
          workersInput,
          el('button', { id: `btn-scale-${n.node}`, type: 'button', 'data-verb': 'scale', onclick: () => control('scale', { ...target, workers: Number(workersInput.value) }, `Scale ${n.node} to ${workersInput.value} worker processes`) }, 'scale'),
          button('reload', 'reload', target, `Rolling reload of ${n.node}`),
          button('drain', 'drain', target, `Drain ${n.node}`))),
      el('p', { class: 'muted sharing' }, sharing[n.node] ?? ''),
      releaseLine(n.node, releases[n.node]),
      el('table', {},
        el('thead', {}, el('tr', {}, ...['pid', 'state', 'functions', 'in flight', 'done', 'failed', 'p50 ms', 'restarts', 'version', 'bundle', 'uptime'].map((h) => el('th', {}, h)))),
        el('tbody', {}, ...rows)));
  });
  const fleet = el('div', { class: 'controls' }, button('rolling reload of every node', 'reload', {}, 'Rolling reload of every node'), button('drain every node', 'drain', {}, 'Drain every node'));
  $('#nodes').replaceChildren(fleet, ...blocks, ...missing.map((m) => el('p', { class: 'paused' }, `node ${m} did not answer`)));
}

function renderGateways(gateways) {
  $('#gateways tbody').replaceChildren(...gateways.map((g) => {
    const waiting = Object.entries(g.waiting).map(([fn, w]) => `${fn} ${w.high}/${w.normal}/${w.low}`).join(', ') || 'none';
    return el('tr', { 'data-gateway': g.id }, el('td', {}, `:${g.port}`), el('td', {}, g.host), el('td', { class: 'num' }, g.pid), el('td', { class: 'num' }, g.connections),
      el('td', { class: 'num' }, g.jobs), el('td', { class: 'num' }, g.stored), el('td', { class: `num${g.deadLetters ? ' paused' : ''}`, 'data-dead': String(g.deadLetters ?? 0) }, g.deadLetters ?? '-'),
      el('td', {}, waiting), el('td', {}, uptime(g.uptimeSec)));
  }));
}

// ---- dead letters ------------------------------------------------------------

/** The list is fetched (not part of the live snapshot) when the gateways' counts change, and after a retry or drop. */
async function loadDeadLetters() {
  try {
    const body = await (await fetch('/api/dead-letters')).json();
    state.deadLetters = (body.replies ?? []).flatMap((r) => (r.jobs ?? []).map((j) => ({ ...j, gateway: `${r.gateway.host}:${r.gateway.port}` })));
  } catch {
    state.deadLetters = [];
  }
  renderDeadLetters();
}

/** How long a list with dead letters in it is trusted: a retry and a new dead letter between two snapshots leave the counts as they were. */
const DEAD_LIST_MAX_AGE_MS = 10_000;

function noticeDeadLetters(gateways) {
  const seen = gateways.map((g) => `${g.id}=${g.deadLetters ?? 0}`).join(',');
  const any = gateways.some((g) => g.deadLetters);
  if (seen === state.deadSeen && !(any && Date.now() - state.deadLoadedAt > DEAD_LIST_MAX_AGE_MS)) return;
  state.deadSeen = seen;
  state.deadLoadedAt = Date.now();
  void loadDeadLetters();
}

async function deadLetterAction(action, handle, description) {
  if (!window.confirm(`${description}?\n\nThis runs: dipsctl dead-letter ${action} ${handle}`)) return;
  $('#result').textContent = `${description}: running…`;
  try {
    const res = await fetch(`/api/dead-letters/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ handle }) });
    const body = await res.json();
    $('#result').textContent = body.text ?? body.error ?? JSON.stringify(body);
  } catch (err) {
    $('#result').textContent = `${description} failed: ${err.message}`;
  }
  state.deadSeen = undefined; // the counts the next snapshot brings may equal the old ones: read the list again then
  await loadDeadLetters();
}

function renderDeadLetters() {
  const focused = document.activeElement?.id;
  const rows = state.deadLetters.map((j) => {
    const safe = j.handle.replace(/[^A-Za-z0-9_-]/g, '_');
    return el('tr', { 'data-handle': j.handle },
      el('td', {}, j.gateway), el('td', {}, j.handle), el('td', {}, j.fn), el('td', { class: 'num' }, j.attempts),
      el('td', {}, new Date(j.deadAt).toLocaleString()), el('td', { class: 'error', title: j.lastError }, j.lastError),
      el('td', {}, el('span', { class: 'controls' },
        el('button', { id: `btn-dead-retry-${safe}`, type: 'button', 'data-verb': 'dead-retry', onclick: () => deadLetterAction('retry', j.handle, `Run ${j.handle} (${j.fn}) again with a fresh budget`) }, 'retry'),
        el('button', { id: `btn-dead-drop-${safe}`, type: 'button', 'data-verb': 'dead-drop', onclick: () => deadLetterAction('drop', j.handle, `Drop ${j.handle} (${j.fn}) for good`) }, 'drop'))));
  });
  $('#dead-letters tbody').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { class: 'muted' }, 'none'))]));
  if (focused) document.getElementById(focused)?.focus();
}

// ---- waiting stored jobs -----------------------------------------------------

/** The list is fetched when the gateways' stored counts change, and every STORED_MAX_AGE_MS while any are stored: whether a worker serves a function changes without them. */
const STORED_MAX_AGE_MS = 5_000;

async function loadStored() {
  try {
    const body = await (await fetch('/api/stored')).json();
    const at = Date.now();
    state.stored = (body.replies ?? []).flatMap((r) => (r.jobs ?? []).map((j) => ({ ...j, gateway: `${r.gateway.host}:${r.gateway.port}`, seenAt: at })));
  } catch {
    state.stored = [];
  }
  renderStored();
}

function noticeStored(gateways) {
  const seen = gateways.map((g) => `${g.id}=${g.stored ?? 0}`).join(',');
  const any = gateways.some((g) => g.stored) || state.stored.length > 0;
  if (seen === state.storedSeen && !(any && Date.now() - state.storedLoadedAt > STORED_MAX_AGE_MS)) return renderStored();
  state.storedSeen = seen;
  state.storedLoadedAt = Date.now();
  void loadStored();
}

async function storedAction(action, handle, description) {
  if (!window.confirm(`${description}?\n\nThis runs: dipsctl stored ${action} ${handle}`)) return;
  $('#result').textContent = `${description}: running…`;
  try {
    const res = await fetch(`/api/stored/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ handle }) });
    const body = await res.json();
    $('#result').textContent = body.text ?? body.error ?? JSON.stringify(body);
  } catch (err) {
    $('#result').textContent = `${description} failed: ${err.message}`;
  }
  state.storedSeen = undefined;
  state.deadSeen = undefined; // a job moved to the dead letters shows there
  await loadStored();
}

const WAITING_FOR = { worker: 'a worker', time: 'its time', retry: 'its next attempt' };

/** Grouped by function (a row saying how many wait, the oldest's age, and whether any worker serves it), then one row per job; ages count on from when the gateway answered. */
function renderStored() {
  const focused = document.activeElement?.id;
  const byFn = new Map();
  for (const j of state.stored) (byFn.get(j.fn) ?? byFn.set(j.fn, []).get(j.fn)).push(j);
  const age = (j) => uptime(Math.round((j.ageMs + Date.now() - j.seenAt) / 1000));
  const rows = [];
  for (const [fn, jobs] of [...byFn].sort(([a], [b]) => a.localeCompare(b))) {
    jobs.sort((a, b) => b.ageMs - a.ageMs);
    const unserved = jobs.every((j) => !j.workers);
    rows.push(el('tr', { class: 'group', 'data-stored-function': fn, 'data-unserved': String(unserved) },
      el('td', {}, fn), el('td', { colSpan: 7 }, `${jobs.length} waiting, the oldest for ${age(jobs[0])}`,
        unserved ? el('span', { class: 'unserved' }, ' — no worker serves this function') : '')));
    for (const j of jobs) {
      const safe = j.handle.replace(/[^A-Za-z0-9_-]/g, '_');
      rows.push(el('tr', { 'data-stored-handle': j.handle, 'data-unserved': String(!j.workers) },
        el('td', {}, j.fn), el('td', {}, j.handle), el('td', {}, j.gateway),
        el('td', { title: j.lastError ?? '' }, j.waitingFor === 'time' && j.runAt ? `its time (${new Date(j.runAt * 1000).toLocaleString()})` : WAITING_FOR[j.waitingFor] ?? j.waitingFor),
        el('td', { class: 'num' }, age(j)), el('td', { class: 'num' }, j.attempts),
        el('td', { class: j.workers ? 'num' : 'num unserved' }, j.workers ? j.workers : '0: none serves it'),
        el('td', {}, el('span', { class: 'controls' },
          j.waitingFor === 'worker' ? '' : el('button', { id: `btn-stored-retry-${safe}`, type: 'button', 'data-verb': 'stored-retry', onclick: () => storedAction('retry', j.handle, `Send ${j.handle} (${j.fn}) to a worker now`) }, 'run now'),
          el('button', { id: `btn-stored-bury-${safe}`, type: 'button', 'data-verb': 'stored-bury', onclick: () => storedAction('bury', j.handle, `Move ${j.handle} (${j.fn}) to the dead letters`) }, 'to dead letters'),
          el('button', { id: `btn-stored-drop-${safe}`, type: 'button', 'data-verb': 'stored-drop', onclick: () => storedAction('drop', j.handle, `Drop ${j.handle} (${j.fn}): it never runs`) }, 'drop')))));
    }
  }
  $('#stored tbody').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { class: 'muted' }, 'none'))]));
  if (focused) document.getElementById(focused)?.focus();
}

// ---- charts ----------------------------------------------------------------

const COLORS = ['#1d4e89', '#c62828', '#2e7d32', '#ef6c00', '#6a1b9a', '#00838f', '#ad1457', '#4e342e', '#283593', '#558b2f'];
const CHARTS = [
  { title: 'jobs/s', series: [['jobsPerSec', '']] },
  { title: 'latency ms (p50 solid, p99 dashed)', series: [['p50Ms', ' p50'], ['p99Ms', ' p99']] },
  { title: 'failures/s', series: [['failuresPerSec', '']] },
  { title: 'waiting jobs', series: [['waiting', '']] },
];

/** Markers closer than this (CSS px) are drawn as one line with a count: a rolling reload or a paused fleet makes many within a second, and their lines and labels smeared into a grey band. */
const MARKER_MERGE_PX = 6;

/** Positions (sorted) → groups {x, count, texts}; a group spans at most `within` from its first marker, so a long run of markers still yields several lines. */
function markerGroups(points, within) {
  const groups = [];
  for (const p of points) {
    const last = groups.at(-1);
    if (last && p.x - last.x <= within) { last.count++; last.texts.push(p.text); } else groups.push({ x: p.x, count: 1, texts: [p.text] });
  }
  return groups;
}
state.markerGroups = markerGroups; // for tests

/** Vertical lines where the fleet changed; labels that would run into the previous one are left off (the title says what they all are). */
const markerPlugin = () => ({
  hooks: {
    draw: [(u) => {
      const ctx = u.ctx;
      const dpr = devicePixelRatio;
      const left = u.bbox.left;
      const right = left + u.bbox.width;
      const points = state.markers.map((m) => ({ x: u.valToPos(m.time / 1000, 'x', true), text: m.text }))
        .filter((p) => p.x >= left && p.x <= right).sort((a, b) => a.x - b.x);
      const groups = markerGroups(points, MARKER_MERGE_PX * dpr);
      u.dipsMarkerGroups = groups.length; // for tests
      ctx.save();
      ctx.strokeStyle = '#9e9e9e';
      ctx.fillStyle = '#616161';
      ctx.font = `${11 * dpr}px system-ui`;
      ctx.setLineDash([4 * dpr, 4 * dpr]);
      let labelEnd = -Infinity;
      for (const g of groups) {
        ctx.beginPath();
        ctx.moveTo(g.x, u.bbox.top);
        ctx.lineTo(g.x, u.bbox.top + u.bbox.height);
        ctx.stroke();
        const text = g.count === 1 ? g.texts[0].slice(0, 40) : `${g.count}× ${g.texts.at(-1).slice(0, 32)}`;
        const width = ctx.measureText(text).width;
        if (g.x + 3 * dpr < labelEnd || g.x + 3 * dpr + width > right) continue;
        ctx.fillText(text, g.x + 3 * dpr, u.bbox.top + 12 * dpr);
        labelEnd = g.x + 3 * dpr + width + 6 * dpr;
      }
      ctx.restore();
    }],
  },
});

/** Functions that did something in the window (jobs, failures or waiting jobs): an idle one would only add flat lines. */
function functionNames() {
  const names = new Set();
  for (const s of state.samples) for (const [fn, p] of Object.entries(s.functions)) if (p.jobsPerSec || p.failuresPerSec || p.waiting) names.add(fn);
  return [...names].sort();
}

function chartData(chart, fns) {
  const data = [state.samples.map((s) => s.time / 1000)];
  for (const fn of fns) for (const [key] of chart.series) data.push(state.samples.map((s) => s.functions[fn]?.[key] ?? null));
  return data;
}

const CHART_HEIGHT = 200;

/** A card's content width: the chart takes exactly that, whatever the grid makes of the page (two columns, three, one). */
function cardWidth(box) {
  const style = getComputedStyle(box);
  return Math.max(120, Math.floor(box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)));
}

/** One observer for all cards; setSize only when the width really changed (a redraw per resize event would be wasted work). */
const resizer = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const c = state.charts.find((x) => x.box === entry.target);
    const width = Math.max(120, Math.floor(entry.contentRect.width));
    if (c && c.plot.width !== width) c.plot.setSize({ width, height: CHART_HEIGHT });
  }
});

/** Busiest first (jobs, failures and waiting over the window), so the top of the scrolling legend is what matters. */
function byActivity(fns) {
  const total = new Map(fns.map((fn) => [fn, 0]));
  for (const s of state.samples) for (const fn of fns) { const p = s.functions[fn]; if (p) total.set(fn, total.get(fn) + p.jobsPerSec + p.failuresPerSec + p.waiting); }
  return [...fns].sort((a, b) => total.get(b) - total.get(a) || a.localeCompare(b));
}

function renderCharts() {
  const names = functionNames();
  const key = names.join(',');
  // the order is fixed when the set of functions changes: re-ranking every second would rebuild the charts every second
  if (key !== state.chartFunctions) state.chartOrder = byActivity(names);
  const fns = state.chartOrder;
  if (key !== state.chartFunctions) {
    state.chartFunctions = key;
    for (const c of state.charts) { resizer.unobserve(c.box); c.plot.destroy(); }
    $('#charts').replaceChildren();
    state.charts = CHARTS.map((chart) => {
      const box = el('div', { class: 'chart', 'data-chart': chart.title });
      $('#charts').append(box);
      const series = [{}];
      fns.forEach((fn, i) => chart.series.forEach(([, suffix], j) => series.push({ label: `${fn}${suffix}`, stroke: COLORS[i % COLORS.length], width: 1.5, dash: j ? [5, 4] : undefined, spanGaps: true })));
      const plot = new uPlot({ title: chart.title, width: cardWidth(box), height: CHART_HEIGHT, series, scales: { x: { time: true } }, axes: [{}, { size: 50 }], plugins: [markerPlugin()] }, chartData(chart, fns), box);
      resizer.observe(box);
      return { chart, plot, box };
    });
  } else {
    for (const c of state.charts) c.plot.setData(chartData(c.chart, fns));
  }
}

// ---- live ------------------------------------------------------------------

function render(snapshot) {
  state.latest = snapshot;
  const focused = document.activeElement?.id;
  renderNats(snapshot.nats);
  const pausedEverywhere = new Set(Object.keys(snapshot.functions).filter((fn) => snapshot.nodes.length > 0 && snapshot.nodes.every((n) => n.paused.includes(fn))));
  renderFunctions(snapshot.functions, pausedEverywhere);
  renderNodes(snapshot.nodes, snapshot.missing, snapshot.functions, snapshot.sharing ?? {}, snapshot.releases ?? {});
  renderGateways(snapshot.gateways);
  noticeDeadLetters(snapshot.gateways);
  noticeStored(snapshot.gateways);
  if (snapshot.latencyWindowSec) $('#latency-window').textContent = `(p50 and p99: jobs that ended in the last ${snapshot.latencyWindowSec} s; - when none did)`;
  renderCharts();
  if (focused) document.getElementById(focused)?.focus();
  $('#updated').textContent = `updated ${new Date(snapshot.time).toLocaleTimeString()}`;
}

state.render = render; // for tests

async function start() {
  const history = await (await fetch('/api/history')).json();
  state.samples = history.samples;
  state.markers = history.markers;
  if (history.latest) render(history.latest);
  const events = new EventSource('/events');
  events.onmessage = (event) => {
    const { snapshot, markers } = JSON.parse(event.data);
    if (!snapshot) return;
    state.markers = markers;
    if (state.samples.at(-1)?.time !== snapshot.time) state.samples.push({ time: snapshot.time, functions: snapshot.functions });
    while (state.samples.length > 900) state.samples.shift();
    render(snapshot);
  };
  events.onerror = () => { $('#updated').textContent = 'connection to the dashboard lost; retrying…'; };
}

start();
