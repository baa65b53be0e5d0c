/**
 * Fuzz tier: the configuration loader (src/shared/config.ts) under arbitrary
 * DIPS_* environment variables. loadConfig takes the environment as an
 * argument, so each case passes its own and process.env is never touched.
 * DIPS_FUZZ_SEED / DIPS_FUZZ_RUNS: see fuzz.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ConfigError, loadConfig, schema, type DipsConfig } from '../../src/shared/config.js';
import { announce, check } from './fuzz.js';

announce('config.props.test');

interface Leaf {
  path: string;
  env: string;
  format: unknown;
}
/** Every key of the schema that an environment variable sets. */
const leaves: Leaf[] = [];
(function walk(node: Record<string, unknown>, prefix: string): void {
  for (const [k, v] of Object.entries(node)) {
    const entry = v as Record<string, unknown>;
    if ('doc' in entry) {
      if (typeof entry.env === 'string') leaves.push({ path: prefix + k, env: entry.env, format: entry.format });
    } else walk(entry, `${prefix}${k}.`);
  }
})(schema as unknown as Record<string, unknown>, '');

const get = (config: DipsConfig, path: string): unknown => path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], config);

/** Values an operator might type, right or wrong, for any key. */
const anyValue = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 20 }),
  fc.oneof(fc.integer(), fc.integer({ min: -1, max: 70000 }), fc.double()).map(String),
  fc.constantFrom('', ' ', 'true', 'false', 'TRUE', '0', '-1', '65536', '1e9', '0x10', 'NaN', 'null', '[]', '{}', '*', ',', ',,', 'a=b', 'a=', '=b', 'nats://h:1', 'nats://h:1,tls://g:2', 'h:1', 'abcd', 'abc', 'info', 'silent'),
  fc.array(fc.oneof(fc.constantFrom('nats://127.0.0.1:4222', 'echo', 'a-b_c', 'x=y', '*'), fc.string({ maxLength: 6 })), { maxLength: 4 }).map((xs) => xs.join(',')),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean())).map((o) => JSON.stringify(o)),
  fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b).toString('hex')),
);

/**
 * A string-map key (presets, localRoots) given a malformed JSON object escapes
 * as a SyntaxError, and one with a "." in a name fails with convict's internal
 * TypeError text (two skipped findings below): the main property sends those
 * keys only values that are not "{…" or are well-formed JSON, with no "." in a
 * name (a name=value pair without "=" counted whole, as it may become a name).
 */
const startsJson = (v: string) => v.trim().startsWith('{');
const wellFormed = (v: string): boolean => {
  try {
    JSON.parse(v);
    return true;
  } catch {
    return false;
  }
};
const mapNames = (v: string): string[] =>
  startsJson(v) ? Object.keys(JSON.parse(v) as object) : v.split(',').map((p) => p.trim()).map((p) => (p.includes('=') ? p.slice(0, p.indexOf('=')) : p));
const mapValueOk = (v: string): boolean => (!startsJson(v) || wellFormed(v)) && !mapNames(v).some((k) => k.includes('.'));
const envFor = fc
  .uniqueArray(fc.constantFrom(...leaves), { minLength: 1, maxLength: 3, selector: (l) => l.env })
  .chain((keys) => fc.tuple(...keys.map((l) => anyValue.filter((v) => l.format !== 'string-map' || mapValueOk(v)).map((v) => [l, v] as const))));

const LISTS = new Set(['nats-url-list', 'function-list', 'gearman-function-list', 'string-list']);

/** A loaded value has the type its format promises (a format added later is only checked to be there). */
function assertTyped(leaf: Leaf, value: unknown): void {
  const where = `${leaf.path} = ${JSON.stringify(value)}`;
  const f = leaf.format;
  if (f === 'nat') assert.ok(Number.isInteger(value) && (value as number) >= 0, where);
  else if (f === 'positive-int') assert.ok(Number.isSafeInteger(value) && (value as number) >= 1, where);
  else if (f === 'port') assert.ok(Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 65535, where);
  else if (f === Boolean) assert.type(value, 'boolean', where);
  else if (f === String || f === 'hex') assert.type(value, 'string', where);
  else if (Array.isArray(f)) assert.ok(f.includes(value), where);
  else if (f === 'string-map') assert.ok(value !== null && typeof value === 'object' && Object.values(value).every((v) => typeof v === 'string' && v !== ''), where);
  else if (typeof f === 'string' && LISTS.has(f)) assert.ok(Array.isArray(value) && value.every((v) => typeof v === 'string'), where);
  else assert.ok(value !== undefined, where);
}

test('the schema has env keys to fuzz', () => {
  assert.ok(leaves.length > 40, `${leaves.length} keys`);
  assert.ok(leaves.every((l) => l.env.startsWith('DIPS_')));
});

test('arbitrary DIPS_* values: the config loads with typed values, or ConfigError names a key that was set', () => {
  check(
    fc.property(envFor, (pairs) => {
      const env = Object.fromEntries(pairs.map(([l, v]) => [l.env, v]));
      let config: DipsConfig;
      try {
        config = loadConfig({ env, argv: [] });
      } catch (err) {
        assert.instance(err, ConfigError, `${JSON.stringify(env)}: ${String(err)}`);
        const message = (err as Error).message;
        assert.match(message, /^invalid configuration: /);
        assert.ok(
          pairs.some(([l]) => message.includes(l.path) || message.includes(l.env)),
          `${JSON.stringify(env)}: the message names none of the keys set: ${message}`,
        );
        return;
      }
      for (const leaf of leaves) assertTyped(leaf, get(config, leaf.path));
      assert.ok(config.gateway.maxPacketBytes <= config.nats.maxPayloadBytes);
      assert.ok(Object.isFrozen(config) && Object.isFrozen(config.nats));
    }),
    3000,
  );
});

test('gateway.maxPacketBytes above nats.maxPayloadBytes fails naming both keys', () => {
  check(
    fc.property(fc.nat({ max: 1 << 30 }), fc.integer({ min: 1, max: 1 << 30 }), (payload, over) => {
      const env = { DIPS_NATS_MAX_PAYLOAD_BYTES: String(payload), DIPS_GATEWAY_MAX_PACKET_BYTES: String(payload + over) };
      assert.throws(() => loadConfig({ env, argv: [] }), (err: Error) => err instanceof ConfigError && /gateway\.maxPacketBytes/.test(err.message) && /nats\.maxPayloadBytes/.test(err.message));
    }),
    500,
  );
});

/*
 * Found by this tier, fixed: a malformed JSON object in a string-map
 * env var (DIPS_HTTP_PRESETS, DIPS_HTTP_LOCAL_ROOTS) escapes loadConfig as a
 * bare SyntaxError that names no key: the format's coerce runs JSON.parse when
 * convict(schema, { env }) reads the environment, which is outside loadConfig's
 * try. Counterexample: { DIPS_HTTP_PRESETS: '{bad' } → "SyntaxError: Expected
 * property name or '}' in JSON at position 1"; { DIPS_HTTP_LOCAL_ROOTS: '{"a":' }
 * → "SyntaxError: Unexpected end of JSON input". A process then dies with a
 * stack trace instead of exit 78 and one line naming the key.
 */
test('a malformed JSON map in DIPS_HTTP_PRESETS / DIPS_HTTP_LOCAL_ROOTS fails with a ConfigError naming the key', () => {
  const maps = leaves.filter((l) => l.format === 'string-map');
  check(
    fc.property(fc.constantFrom(...maps), fc.string({ maxLength: 12 }).map((s) => `{${s}`).filter((v) => !wellFormed(v)), (leaf, v) => {
      assert.throws(() => loadConfig({ env: { [leaf.env]: v }, argv: [] }), (err: Error) => err instanceof ConfigError && err.message.includes(leaf.path));
    }),
    300,
  );
});

/*
 * Found by this tier, fixed: a map name holding "." in a JSON string-map env var is
 * taken by convict as a path into the map; next to a plain name it fails with
 * convict's internal TypeError text, naming no key. Counterexample:
 * { DIPS_HTTP_PRESETS: '{"a":"x","a.b":"y"}' } → "ConfigError: invalid
 * configuration: Cannot use 'in' operator to search for 'b' in x" (also
 * '{"":"",".":"x"}'); alone, '{"a.b":"x"}' gives "cannot find configuration
 * param 'http.presets.a.b'" instead of the format's "names must be letters…".
 * The name=value form does the same: { DIPS_HTTP_PRESETS: 'a=x,a.b=y' }, and
 * the main property's seed 996752948 (DIPS_FUZZ_RUNS=10000) found
 * { DIPS_HTTP_PRESETS: '*,.!' } → "Cannot use 'in' operator to search for ''
 * in *" (names "" and "." by the next finding's slicing).
 */
test('a "." in a string-map name fails with the format\'s own message naming the key', () => {
  const maps = leaves.filter((l) => l.format === 'string-map');
  const name = fc.string({ unit: fc.constantFrom('a', 'b', '.', '_'), maxLength: 4 });
  const asEnv = (map: Record<string, string>, json: boolean) => (json ? JSON.stringify(map) : Object.entries(map).map(([k, v]) => `${k}=${v}`).join(','));
  check(
    fc.property(fc.constantFrom(...maps), fc.dictionary(name, fc.constantFrom('x', 'y'), { minKeys: 1, maxKeys: 3 }).filter((o) => Object.keys(o).some((k) => k.includes('.'))), fc.boolean(), (leaf, map, json) => {
      const env = { [leaf.env]: asEnv(map, json) };
      assert.throws(() => loadConfig({ env, argv: [] }), (err: Error) => err instanceof ConfigError && err.message.includes(`${leaf.path}: names must be`));
    }),
    300,
  );
});

/*
 * Found by this tier, fixed: in the name=value form, a pair without "=" is not refused:
 * the coerce slices at indexOf('=') = -1, so the name is the pair minus its
 * last character and the value the whole pair. Counterexample:
 * { DIPS_HTTP_LOCAL_ROOTS: 'photos' } loads as { photo: 'photos' };
 * { DIPS_HTTP_PRESETS: 'thumb' } as { thum: 'thumb' }.
 */
test('a name=value map pair without "=" fails with a ConfigError naming the key', () => {
  const maps = leaves.filter((l) => l.format === 'string-map');
  check(
    fc.property(fc.constantFrom(...maps), fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/), (leaf, word) => {
      assert.throws(() => loadConfig({ env: { [leaf.env]: word }, argv: [] }), (err: Error) => err instanceof ConfigError && err.message.includes(leaf.path));
    }),
    300,
  );
});

test.run();
