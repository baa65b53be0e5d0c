/** dipsctl status's words (src/control/report.ts), which the dashboard shows too: the bundle column and the release line per node. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { NodeReply, ReleaseState, ReleaseSummary, WorkerRow } from '../../src/shared/control.js';
import { releaseLine, releaseWords, statusTable } from '../../src/control/report.js';

const SIGNED = Date.UTC(2026, 11, 3, 4, 30, 17);
const summary = (version: string, sha256 = '1a2b3c4d5e6f'.padEnd(64, '0')): ReleaseSummary => ({ name: 'hello', version, sha256, issuedAt: SIGNED });

const worker = (pid: number, extra: Partial<WorkerRow> = {}): WorkerRow => ({
  pid, state: 'running', restarts: 0, version: '1.0.0', uptimeSec: 30, functions: [{ name: 'hello', paused: false }], inFlight: 0, queued: 0, done: 3, failed: 0, p50Ms: 1.5, ...extra,
});

const node = (name: string, workers: WorkerRow[], release?: ReleaseState): NodeReply => ({
  node: name, ok: true, agentPid: 100, agentVersion: '1.0.0', uptimeSec: 60, desiredWorkers: workers.length, paused: [], workers,
  guest: { mode: 'dedicated', hostCpu: null, pressure: null, share: 1 },
  ...(release ? { release } : {}),
});

test('status: a bundle column per worker, `-` for one serving none, blank for one that has not answered yet', () => {
  const table = statusTable([
    node('n1', [worker(11, { bundle: 'hello@1.2.0' }), worker(12, { bundle: 'hello@1.3.0' }), worker(13)]),
    node('n2', [{ pid: 21, state: 'starting', restarts: 0 }]),
  ]).split('\n');
  const header = table[0].split(/\s{2,}/);
  assert.equal(header.slice(-2), ['version', 'bundle'], 'the new column comes last: the others keep their places');
  const cells = (pid: number) => table.find((l) => new RegExp(`^n\\d\\s+${pid}\\s`).test(l))!.split(/\s{2,}/);
  assert.is(cells(11).at(-1), 'hello@1.2.0');
  assert.is(cells(12).at(-1), 'hello@1.3.0', 'a fleet half way through a rolling deploy shows both versions');
  assert.is(cells(13).at(-1), '-');
  const starting = table.find((l) => /^n2\s+21\s/.test(l))!;
  assert.ok(starting.length < table[0].indexOf('bundle'), `nothing is claimed for a worker that has not answered: ${starting}`);
  // the bundle column is aligned like the others
  assert.is(table[0].indexOf('bundle'), table.find((l) => /^n1\s+11\s/.test(l))!.indexOf('hello@1.2.0'));
});

test('release line: in force, none, rolling onto another, last refused; nothing for an older agent', () => {
  assert.is(releaseLine(node('n1', [], { current: summary('1.2.0'), held: [] })), 'n1: release hello@1.2.0 (sha256 1a2b3c4d…, signed 2026-12-03 04:30 UTC)');
  assert.is(releaseLine(node('n1', [], { current: null, held: [] })), 'n1: no release deployed');
  assert.is(
    releaseLine(node('n1', [], { current: summary('1.2.0'), rolling: summary('1.3.0'), held: [summary('1.2.0')] })),
    'n1: release hello@1.2.0 (sha256 1a2b3c4d…, signed 2026-12-03 04:30 UTC), rolling onto hello@1.3.0',
  );
  assert.is(
    releaseLine(node('n1', [], { current: null, rolling: summary('1.3.0'), held: [], lastError: { release: summary('1.4.0'), error: 'signature does not verify', atMs: SIGNED } })),
    'n1: no release deployed, rolling onto hello@1.3.0; last refused: hello@1.4.0: signature does not verify',
  );
  assert.is(releaseLine(node('n1', [])), undefined);
  assert.is(releaseWords(node('n1', [])), undefined);
  assert.equal(releaseWords(node('n1', [], { current: summary('1.2.0'), rolling: summary('1.3.0'), held: [], lastError: { release: summary('1.4.0'), error: 'bad', atMs: SIGNED } })), {
    current: 'release hello@1.2.0 (sha256 1a2b3c4d…, signed 2026-12-03 04:30 UTC)',
    rolling: 'rolling onto hello@1.3.0',
    refused: 'last refused: hello@1.4.0: bad',
  });
});

test('status: one release line per node that reports one, after the sharing lines', () => {
  const lines = statusTable([
    node('n1', [worker(11, { bundle: 'hello@1.2.0' })], { current: summary('1.2.0'), held: [] }),
    node('n2', [worker(21)]),
    node('n3', [worker(31)], { current: null, held: [] }),
  ]).split('\n');
  assert.equal(lines.slice(-5), ['n1: dedicated', 'n2: dedicated', 'n3: dedicated', 'n1: release hello@1.2.0 (sha256 1a2b3c4d…, signed 2026-12-03 04:30 UTC)', 'n3: no release deployed']);
});

test('release line: an agent\'s text stays one line, without control characters, and a long refusal is cut short', () => {
  const error = 'manifest.json:\n  entry "dist/x.js" is missing\x1b[2J\x07 ' + 'x'.repeat(400);
  const line = releaseLine(node('n1', [], { current: null, held: [], lastError: { release: summary('1.4.0'), error, atMs: SIGNED } }))!;
  assert.not.match(line, /[\u0000-\u001f\u007f]/);
  assert.ok(line.startsWith('n1: no release deployed; last refused: hello@1.4.0: manifest.json: entry "dist/x.js" is missing [2J x'), line);
  assert.ok(line.length < 300, `${line.length} characters`);
  assert.ok(line.endsWith('…'));
  const odd = releaseLine(node('n1', [], { current: { ...summary('1.0.0'), issuedAt: Number.NaN }, held: [] }));
  assert.is(odd, 'n1: release hello@1.0.0 (sha256 1a2b3c4d…, signed at an unknown time)', 'a date the agent got wrong does not stop the table');
  const table = statusTable([node('n1', [worker(11, { bundle: 'evil\n@1\x1b[31m' })])]);
  assert.is(table.split('\n').length, 3, 'header, one worker row, the sharing line');
  assert.not.match(table, /\x1b/);
});

test.run();
