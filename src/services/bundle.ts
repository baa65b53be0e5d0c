/**
 * Bundles: an operator's own functions, deployed as a folder outside the DIPS
 * checkout and served by workers beside the built-in ones (worker.bundleDir).
 *
 *   hello/
 *     dips-bundle.json   {"name": "hello", "version": "1.0.0", "entry": "dist/index.js"}
 *     package.json       {"type": "module", …}   (so that Node loads dist/*.js as ESM)
 *     dist/index.js      export default [hello, reverse]   (FunctionDef objects)
 *
 * A bundle is compiled ESM JavaScript plus a manifest, nothing to build or
 * install where it runs: that is what a later `dipsctl deploy` ships (a folder,
 * named by name and version so that versions sit side by side, signed as a
 * whole). Everything is checked when the worker starts, before it takes a job:
 * a bad bundle stops the worker with exit code 78 and one line naming the file
 * and the problem, as a bad configuration does, rather than failing callers
 * later.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../shared/config.js';
import { errorMessage } from '../shared/errors.js';
import { isValidFunctionName, MAX_FUNCTION_NAME_BYTES } from '../mesh/subjects.js';
import type { FunctionDef } from './job.js';
import { shown } from './params.js';

export const MANIFEST = 'dips-bundle.json';

export interface BundleManifest {
  /** Letters, digits, '.', '_', '-': also a folder name once bundles are deployed side by side. */
  name: string;
  version: string;
  /** Entry files relative to the bundle folder, each exporting a list of FunctionDef. */
  entry: string[];
  description?: string;
}

export interface LoadedBundle {
  dir: string;
  manifest: BundleManifest;
  functions: FunctionDef[];
}

/** A bundle the worker refuses: a ConfigError, so the worker exits 78 with the message alone (no stack trace). */
export class BundleError extends ConfigError {
  override name = 'BundleError';
}

const MANIFEST_KEYS = ['name', 'version', 'entry', 'description'];
const DEF_KEYS = ['name', 'description', 'idempotent', 'input', 'init', 'run'];
/** Safe as one path segment and in a NATS subject token, for the deploy that will keep versions in folders. */
export const BUNDLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const BUNDLE_VERSION = /^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$/;

/**
 * Read, import and check the bundle in `dir` (relative: to the working
 * directory). `builtins`: the names of the built-in functions, which a bundle
 * may not take (a caller asking for `resize` must get DIPS's resize).
 */
export async function loadBundle(dir: string, builtins: readonly string[]): Promise<LoadedBundle> {
  const root = path.resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new BundleError(`invalid bundle: worker.bundleDir ${root} is not a directory`);
  const manifest = readManifest(root);
  useWorkersFunctionApi();
  const functions: FunctionDef[] = [];
  const taken = new Map<string, string>();
  for (const entry of manifest.entry) {
    const file = path.join(root, entry);
    const list = await importEntry(root, file);
    list.forEach((def, i) => {
      checkDef(def, file, i + 1, builtins, taken);
      functions.push(def as FunctionDef);
    });
  }
  return { dir: root, manifest, functions };
}

/** The manifest of the bundle folder `root`, checked (dipsctl deploy reads it before packing; the worker before importing). */
export function readManifest(root: string): BundleManifest {
  const file = path.join(root, MANIFEST);
  const fail = (problem: string): never => {
    throw new BundleError(`invalid bundle ${file}: ${problem}`);
  };
  if (!existsSync(file)) fail(`no such file: a bundle is a folder with a ${MANIFEST} ({"name", "version", "entry"}) and its compiled JavaScript`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return fail(`not JSON: ${errorMessage(err)}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return fail(`must be a JSON object with name, version and entry, got ${shown(raw)}`);
  const m = raw as Record<string, unknown>;
  const unknown = Object.keys(m).filter((k) => !MANIFEST_KEYS.includes(k));
  // a misspelt key would otherwise be ignored without a word
  if (unknown.length) fail(`unknown key ${unknown.map((k) => JSON.stringify(k)).join(', ')} (a manifest has ${MANIFEST_KEYS.join(', ')})`);
  if (typeof m.name !== 'string' || !BUNDLE_NAME.test(m.name)) fail(`name must be 1 to 64 letters, digits, '.', '_' or '-', got ${shown(m.name)}`);
  if (typeof m.version !== 'string' || !BUNDLE_VERSION.test(m.version)) fail(`version must be 1 to 64 letters, digits, '.', '+', '_' or '-' (e.g. "1.0.0"), got ${shown(m.version)}`);
  if (m.description !== undefined && typeof m.description !== 'string') fail(`description must be text, got ${shown(m.description)}`);
  const entries = typeof m.entry === 'string' ? [m.entry] : m.entry;
  if (!Array.isArray(entries) || entries.length === 0 || entries.some((e) => typeof e !== 'string' || e === '')) {
    fail(`entry must be a file (or a list of files) of the bundle, e.g. "dist/index.js", got ${shown(m.entry)}`);
  }
  for (const entry of entries as string[]) checkEntry(root, entry, fail);
  return { name: m.name as string, version: m.version as string, entry: entries as string[], ...(m.description !== undefined ? { description: m.description as string } : {}) };
}

function checkEntry(root: string, entry: string, fail: (problem: string) => never): void {
  const file = path.resolve(root, entry);
  // inside the folder only: what is signed and shipped as the bundle must be all that runs
  if (path.isAbsolute(entry) || path.relative(root, file).startsWith('..')) fail(`entry ${JSON.stringify(entry)} must be a path inside the bundle folder`);
  if (!existsSync(file) || !statSync(file).isFile()) fail(`entry ${JSON.stringify(entry)}: ${file} does not exist (is the bundle built?)`);
  if (file.endsWith('.mjs')) return;
  if (!file.endsWith('.js')) fail(`entry ${JSON.stringify(entry)} must be compiled JavaScript, a .js or .mjs file`);
  // Node loads a .js file as CommonJS unless the nearest package.json says "type": "module"; `export` would then fail with a cryptic SyntaxError
  const pkg = nearestPackageJson(path.dirname(file));
  let type: unknown;
  try {
    type = pkg ? (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: unknown }).type : undefined;
  } catch {
    type = undefined;
  }
  if (type !== 'module') {
    const says = pkg ? `${pkg} does not say "type": "module"` : 'no package.json above it says "type": "module"';
    fail(`entry ${JSON.stringify(entry)} is a .js file but ${says}, so Node would not load it as ESM; add a package.json with {"type": "module"} to the bundle, or name the file .mjs`);
  }
}

function nearestPackageJson(dir: string): string | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    const candidate = path.join(d, 'package.json');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(d) === d) return undefined;
  }
}

let hooked = false;

/** From now on `import … from 'dips/function'` in any module means this worker's function API (see bundle-hooks.ts). */
function useWorkersFunctionApi(): void {
  if (hooked) return;
  hooked = true;
  register(new URL('./bundle-hooks.js', import.meta.url), { data: { functionApi: new URL('./function-api.js', import.meta.url).href } });
}

async function importEntry(root: string, file: string): Promise<unknown[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    // a SyntaxError or a missing module says so by its name; a plain Error's name adds nothing
    const what = err instanceof Error && err.name !== 'Error' ? `${err.name}: ${err.message}` : errorMessage(err);
    throw new BundleError(`invalid bundle ${file}: importing it failed: ${what}${whereIn(err, root)}`);
  }
  const fail = (problem: string): never => {
    throw new BundleError(`invalid bundle ${file}: ${problem}`);
  };
  const hasDefault = mod.default !== undefined;
  const hasNamed = mod.functions !== undefined;
  if (!hasDefault && !hasNamed) fail('it exports no functions: write `export default [myFunction, …]` or `export const functions = [myFunction, …]`');
  if (hasDefault && hasNamed && mod.default !== mod.functions) fail('it exports both a default and `functions`: export the list of functions once');
  const list = hasNamed ? mod.functions : mod.default;
  const which = hasNamed ? '`functions`' : 'default';
  if (!Array.isArray(list)) return fail(`its ${which} export must be a list of functions (FunctionDef objects), got ${described(list)}`);
  if (list.length === 0) fail(`its ${which} export is an empty list: a bundle entry serves at least one function`);
  return list;
}

/** Where in the bundle an import-time error was thrown (its first stack frame inside the folder), so the author can go straight there. */
function whereIn(err: unknown, root: string): string {
  const stack = err instanceof Error ? (err.stack ?? '') : '';
  const url = pathToFileURL(root).href;
  const line = stack.split('\n').find((l) => l.includes(url) || l.includes(root));
  return line ? ` (${line.trim()})` : '';
}

/** Check the `index`th (from 1) function `file` exports; `taken`: names seen so far in the bundle, with where. */
function checkDef(value: unknown, file: string, index: number, builtins: readonly string[], taken: Map<string, string>): void {
  let which = `function ${index}`;
  const fail = (problem: string): never => {
    throw new BundleError(`invalid bundle ${file}: ${which}: ${problem}`);
  };
  if (!value || typeof value !== 'object' || Array.isArray(value)) fail(`must be a FunctionDef object (name, description, idempotent, input, run), got ${described(value)}`);
  const def = value as Record<string, unknown>;
  if (typeof def.name !== 'string' || !isValidFunctionName(def.name)) fail(`name must be a function name (1 to ${MAX_FUNCTION_NAME_BYTES} bytes, no NUL), got ${described(def.name)}`);
  const name = def.name as string;
  which = `${which} (${JSON.stringify(name)})`;
  const unknown = Object.keys(def).filter((k) => !DEF_KEYS.includes(k));
  // a misspelt idempotent or init would be ignored without a word; a property a newer DIPS knows would be too
  if (unknown.length) fail(`unknown property ${unknown.map((k) => JSON.stringify(k)).join(', ')} (a FunctionDef has ${DEF_KEYS.join(', ')})`);
  if (builtins.includes(name)) fail(`${JSON.stringify(name)} is a built-in function; a bundle may add functions, not replace DIPS's own: pick another name`);
  const earlier = taken.get(name);
  if (earlier) fail(`${JSON.stringify(name)} is also the name of ${earlier}`);
  taken.set(name, `${which} of ${file}`);
  if (typeof def.description !== 'string' || def.description.trim() === '') fail(`description must be one line of text (shown in $SRV.INFO), got ${described(def.description)}`);
  if (typeof def.idempotent !== 'boolean') fail(`idempotent must be true or false (true: running it twice is harmless, so a job lost with a NATS node may be sent again), got ${described(def.idempotent)}`);
  if (def.input !== 'params' && def.input !== 'bytes') fail(`input must be "params" (a map of parameters) or "bytes" (the body untouched), got ${described(def.input)}`);
  if (typeof def.run !== 'function') fail(`run must be a function (async run(job) returning bytesResult(…) or valueResult(…)), got ${described(def.run)}`);
  if (def.init !== undefined && typeof def.init !== 'function') fail(`init, when given, must be a function (async init(): warm-up before the first job), got ${described(def.init)}`);
}

function described(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  return shown(value);
}
