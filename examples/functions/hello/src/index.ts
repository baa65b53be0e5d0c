/**
 * An example bundle: two functions of an operator's own, written against
 * `dips/function`, the API DIPS's built-in functions use. `npm run build`
 * compiles this to dist/index.js, the entry dips-bundle.json names; a worker
 * started with DIPS_WORKER_BUNDLE_DIR=<this folder> serves both beside the
 * built-in functions. docs/functions.md walks through it.
 */
import { bytesResult, DipsError, ErrorCode, Params, valueResult, type FunctionDef } from 'dips/function';

const GREETINGS = { en: 'Hello', fr: 'Bonjour', de: 'Hallo' } as const;
const LANGS = Object.keys(GREETINGS) as Array<keyof typeof GREETINGS>;

/** hello: parameters in, a structured value out (a map; a PHP caller unserialize()s it). */
export const hello: FunctionDef = {
  name: 'hello',
  description: 'Greets name (1-40 letters) in lang en|fr|de, times 1-5 times, reporting status as it goes',
  // the same parameters give the same answer: running it twice (a retry after a lost reply) is harmless
  idempotent: true,
  input: 'params',
  async run(job) {
    // Params checks each parameter and throws a 400 naming it: "hello: times must be an integer from 1 to 5, got 9"
    const p = new Params(job.fn, job.params);
    const name = p.string('name', /^\p{L}[\p{L} '-]{0,39}$/u, '1 to 40 letters');
    const lang = p.oneOf('lang', LANGS, 'en');
    const times = p.int('times', 1, 5, 1);
    // anything else the caller sent is a typo to report, not to ignore: "hello: unknown parameter "nmae"; did you mean name? …"
    p.refuseUnknown();
    const greetings: string[] = [];
    for (let i = 1; i <= times; i++) {
      greetings.push(`${GREETINGS[lang]}, ${name}!`);
      // a native caller that listens gets a status event, a Gearman caller WORK_STATUS; nobody listening costs nothing
      job.progress.status(i, times);
    }
    return valueResult({ greeting: greetings.join(' '), lang });
  },
};

const MAX_BYTES = 64 * 1024;

/** reverse: the request body in, bytes out. */
export const reverse: FunctionDef = {
  name: 'reverse',
  description: 'Returns the body (at most 64 KiB) with its bytes in reverse order',
  idempotent: true,
  // the body reaches run() untouched, as job.body, and job.params stays empty
  input: 'bytes',
  async run(job) {
    // a DipsError's code reaches the caller (413 here; a PHP caller gets the message as a WORK_EXCEPTION)
    if (job.body.length > MAX_BYTES) throw new DipsError(ErrorCode.tooLarge, `${job.fn}: the body is ${job.body.length} bytes, at most ${MAX_BYTES}`);
    return bytesResult(Uint8Array.from(job.body).reverse(), 'application/octet-stream');
  },
};

// the functions this entry serves; `export const functions = [...]` works as well
export default [hello, reverse];
