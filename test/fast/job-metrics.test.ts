/** Job series by function stay bounded: a made-up name gets none of its own, and at most MAX_FUNCTION_LABELS names do. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Counter, Histogram, Registry } from 'prom-client';
import { jobRecorder, MAX_FUNCTION_LABELS, OTHER_FUNCTIONS } from '../../src/shared/metrics.js';

function recorder() {
  const registry = new Registry();
  const jobs = new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['function', 'outcome'], registers: [registry] });
  const duration = new Histogram({ name: 'job_seconds', help: 'duration', labelNames: ['function'], buckets: [1], registers: [registry] });
  const functions = async () => new Set((await jobs.get()).values.map((v) => String(v.labels.function)));
  return { record: jobRecorder(jobs, duration), functions };
}

test('names no worker served share one series; a served name gets its own', async () => {
  const { record, functions } = recorder();
  for (let i = 0; i < 5000; i++) record.record(`made-up-${i}`, i % 2 ? 'NO_WORKER' : 'CANCELLED', 0.1);
  assert.equal([...(await functions())], [OTHER_FUNCTIONS]);
  record.record('resize', 'ok', 0.01);
  record.record('resize', 'BAD_REQUEST', 0.01);
  assert.equal([...(await functions())].sort(), [OTHER_FUNCTIONS, 'resize']);
  assert.is(record.label('resize'), 'resize');
  assert.is(record.label('made-up-1'), OTHER_FUNCTIONS);
});

test(`at most ${MAX_FUNCTION_LABELS} names have series of their own, however many are served`, async () => {
  const { record, functions } = recorder();
  for (let i = 0; i < MAX_FUNCTION_LABELS * 2; i++) record.record(`served-${i}`, 'ok', 0.01);
  const names = await functions();
  assert.ok(names.has(OTHER_FUNCTIONS));
  assert.is(names.size - 1, MAX_FUNCTION_LABELS, 'the first names served, and the rest as one');
});

test.run();
