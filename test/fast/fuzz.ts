/**
 * The fuzz tier's shared settings (test/fast/*.props.test.ts): property-based
 * tests with fast-check, thousands of generated cases per property per run.
 *
 *   DIPS_FUZZ_SEED=<int>   replay: every property of the file draws from this seed
 *                          (a failure prints its seed; set it and rerun the same file)
 *   DIPS_FUZZ_RUNS=<int>   cases per property instead of each property's own count
 *                          (e.g. 100000 for a long soak, 50 for a smoke run)
 *
 * Not named *.test.ts, so test/run.ts does not run it as a test file.
 */
import fc from 'fast-check';

const seedEnv = process.env.DIPS_FUZZ_SEED;
if (seedEnv !== undefined && !/^-?\d+$/.test(seedEnv)) throw new Error(`DIPS_FUZZ_SEED must be an integer, got ${JSON.stringify(seedEnv)}`);
const runsEnv = process.env.DIPS_FUZZ_RUNS;
if (runsEnv !== undefined && !/^[1-9]\d*$/.test(runsEnv)) throw new Error(`DIPS_FUZZ_RUNS must be a positive integer, got ${JSON.stringify(runsEnv)}`);

/**
 * One seed per file run, printed up front: fast-check prints it again (with
 * the shrink path and the counterexample) when a property fails, but a seed in
 * the log of a green run lets anyone replay exactly what ran.
 */
export const seed = seedEnv !== undefined ? Number(seedEnv) : (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;

/** Cases for a property whose own default is `n` (DIPS_FUZZ_RUNS overrides every property). */
export function runs(n: number): number {
  return runsEnv !== undefined ? Number(runsEnv) : n;
}

/** fc.assert with the file's seed and the run count; the thrown error names seed, path and counterexample. */
export function check<Ts>(property: fc.IProperty<Ts>, numRuns: number): void {
  // includeErrorInReport: the failing assertion's own message in the report (else only in err.cause, which uvu does not print)
  fc.assert(property, { seed, numRuns: runs(numRuns), includeErrorInReport: true });
}

export function announce(file: string): void {
  process.stdout.write(`${file}: fuzz seed ${seed} (replay: DIPS_FUZZ_SEED=${seed} node dist/test/fast/${file}.js)\n`);
}
