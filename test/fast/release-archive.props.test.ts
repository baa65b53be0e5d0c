/**
 * Fuzz tier: unpacking a release archive (src/control/release/archive.ts) as a
 * hostile party would build one. Archives are made in memory, headers by hand
 * (so a test can say anything a header can: `../`, NUL, links, devices, pax
 * and GNU long names, lying sizes), and every case checks that unpackArchive
 * either refuses with a ReleaseRefused naming the problem and writes nothing,
 * or writes exactly the archive's files, and never a byte outside its folder.
 * DIPS_FUZZ_SEED / DIPS_FUZZ_RUNS: see fuzz.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, lstatSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync, deflateRawSync } from 'node:zlib';
import { packBundle, unpackArchive, type ArchiveLimits } from '../../src/control/release/archive.js';
import { ReleaseRefused } from '../../src/control/release/statement.js';
import { announce, check } from './fuzz.js';

announce('release-archive.props.test');

const LIMITS: ArchiveLimits = { maxBundleBytes: 1024 * 1024, maxUnpackedBytes: 256 * 1024, maxFiles: 50 };
const MANIFEST = 'dips-bundle.json';
const MANIFEST_JSON = JSON.stringify({ name: 'hostile', version: '1.0.0', entry: 'index.mjs' });

// ---- tar by hand ---------------------------------------------------------------

/** Tar type flags (POSIX ustar, pax and GNU). */
const T = { file: '0', oldFile: '\0', link: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6', contiguous: '7', pax: 'x', paxGlobal: 'g', gnuLongName: 'L', gnuLongLink: 'K' } as const;

interface RawEntry {
  name: string | Buffer;
  type: string;
  data?: Buffer;
  /** The size the header claims (the data's length unless a test lies). */
  size?: number;
  linkname?: string;
  /** Corrupt the checksum field. */
  badChecksum?: boolean;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(e: RawEntry): Buffer {
  const h = Buffer.alloc(512);
  const name = Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name, 'utf8');
  name.copy(h, 0, 0, Math.min(100, name.length));
  h.write(octal(0o644, 8), 100, 'latin1');
  h.write(octal(0, 8), 108, 'latin1');
  h.write(octal(0, 8), 116, 'latin1');
  const size = e.size ?? e.data?.length ?? 0;
  if (size < 0 || size >= 8 ** 11) {
    // base-256: what a header says for a size octal cannot hold (and the only way to say a negative one)
    h[124] = size < 0 ? 0xff : 0x80;
    h.writeBigInt64BE(BigInt(size), 128);
    if (size < 0) h.fill(0xff, 125, 128);
  } else h.write(octal(size, 12), 124, 'latin1');
  h.write(octal(0, 12), 136, 'latin1');
  h.write(e.type, 156, 'latin1');
  if (e.linkname) h.write(e.linkname, 157, 'utf8');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  if (e.badChecksum) sum += 1;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

function pad(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest ? Buffer.concat([data, Buffer.alloc(512 - rest)]) : data;
}

function entryBytes(e: RawEntry): Buffer {
  return Buffer.concat([header(e), pad(e.data ?? Buffer.alloc(0))]);
}

function paxRecord(key: string, value: string | Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.isBuffer(value) ? value : Buffer.from(value), Buffer.from('\n')]);
  // the length counts its own digits
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** A pax extended header (local or global) whose records rewrite the next entry. */
function pax(records: Buffer[], global = false): Buffer {
  return entryBytes({ name: global ? 'pax_global_header' : 'PaxHeader/x', type: global ? T.paxGlobal : T.pax, data: Buffer.concat(records) });
}

function gnuLongName(name: string | Buffer): Buffer {
  const data = Buffer.concat([Buffer.isBuffer(name) ? name : Buffer.from(name), Buffer.from([0])]);
  return entryBytes({ name: '././@LongLink', type: T.gnuLongName, data });
}

const file = (name: string, content: string | Buffer): Buffer => entryBytes({ name, type: T.file, data: Buffer.isBuffer(content) ? content : Buffer.from(content) });
const dir = (name: string): Buffer => entryBytes({ name: name.endsWith('/') ? name : `${name}/`, type: T.dir });
const END = Buffer.alloc(1024);
const tarOf = (...parts: Buffer[]): Buffer => Buffer.concat([...parts, END]);
const manifest = (): Buffer => file(MANIFEST, MANIFEST_JSON);

// ---- the sandbox ---------------------------------------------------------------

/** Every path under `root` with its kind and, for files, content: what "nothing else was written" compares. */
function snapshot(root: string): Map<string, string> {
  const seen = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(path.join(root, r));
      if (st.isDirectory()) {
        seen.set(r, 'dir');
        walk(r);
      } else if (st.isFile()) seen.set(r, `file:${readFileSync(path.join(root, r)).toString('base64')}`);
      else seen.set(r, 'other');
    }
  };
  walk('');
  return seen;
}

/**
 * A sandbox: `root/a/b/c/dest` is where the archive goes, with a bait file
 * beside it and above it (where `../` and `a/../../` would land). Returns what
 * unpackArchive threw (undefined when it did not), what appeared under dest,
 * and whether anything outside dest changed.
 */
function unpackInSandbox(archive: Buffer, limits: ArchiveLimits = LIMITS): { err?: unknown; files: Map<string, string>; outsideChanged: string[] } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'dips-archive-props-'));
  try {
    const parent = path.join(root, 'a', 'b', 'c');
    mkdirSync(parent, { recursive: true });
    for (const bait of ['x', 'a/x', 'a/b/x', 'a/b/c/x']) writeFileSync(path.join(root, bait), 'bait');
    const dest = path.join(parent, 'dest');
    const before = snapshot(root);
    let err: unknown;
    try {
      unpackArchive(archive, dest, limits, 'hostile.tar');
    } catch (e) {
      err = e;
    }
    const after = snapshot(root);
    const outsideChanged: string[] = [];
    for (const [p, v] of after) if (!p.startsWith('a/b/c/dest') && before.get(p) !== v) outsideChanged.push(p);
    for (const p of before.keys()) if (!after.has(p)) outsideChanged.push(p);
    const files = new Map<string, string>();
    for (const [p, v] of after) if (p.startsWith('a/b/c/dest/') && v.startsWith('file:')) files.set(p.slice('a/b/c/dest/'.length), Buffer.from(v.slice(5), 'base64').toString('latin1'));
    return { err, files, outsideChanged };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function assertRefused(archive: Buffer, problem: RegExp, label: string, limits?: ArchiveLimits): void {
  const { err, files, outsideChanged } = unpackInSandbox(archive, limits);
  assert.equal(outsideChanged, [], `${label}: wrote outside its folder`);
  assert.ok(err instanceof ReleaseRefused, `${label}: expected a ReleaseRefused, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  assert.match((err as Error).message, problem, `${label}: ${(err as Error).message}`);
  assert.equal([...files.keys()], [], `${label}: a refused archive is never partly unpacked`);
}

function assertUnpacks(archive: Buffer, expected: Record<string, string>, label: string, limits?: ArchiveLimits): void {
  const { err, files, outsideChanged } = unpackInSandbox(archive, limits);
  assert.equal(outsideChanged, [], `${label}: wrote outside its folder`);
  assert.is(err, undefined, `${label}: ${err instanceof Error ? err.message : String(err)}`);
  assert.equal(Object.fromEntries([...files].sort()), Object.fromEntries(Object.entries(expected).sort()), label);
}

const gz = (b: Buffer): Buffer => gzipSync(b);

// ---- hostile entries -------------------------------------------------------------

const OUTSIDE = /outside the bundle's folder/;

/** One hostile entry (or entry group), and what the refusal must say. */
const HOSTILE: { label: string; bytes: () => Buffer; problem: RegExp }[] = [
  { label: '../x', bytes: () => file('../x', 'pwned'), problem: OUTSIDE },
  { label: '../../../../x', bytes: () => file('../../../../x', 'pwned'), problem: OUTSIDE },
  { label: 'absolute /tmp/x', bytes: () => file(path.join(os.tmpdir(), 'dips-pwned'), 'pwned'), problem: OUTSIDE },
  { label: 'a/../../x', bytes: () => file('a/../../x', 'pwned'), problem: OUTSIDE },
  { label: './../x', bytes: () => file('./../x', 'pwned'), problem: OUTSIDE },
  { label: 'a/b/../../../x', bytes: () => file('a/b/../../../x', 'pwned'), problem: OUTSIDE },
  { label: 'backslashes ..\\x', bytes: () => file('..\\x', 'pwned'), problem: OUTSIDE },
  { label: 'backslashes a\\..\\..\\x', bytes: () => file('a\\..\\..\\x', 'pwned'), problem: OUTSIDE },
  { label: '. as a file', bytes: () => file('.', 'pwned'), problem: OUTSIDE },
  { label: 'symlink', bytes: () => entryBytes({ name: 'link', type: T.symlink, linkname: '/etc/passwd' }), problem: /SymbolicLink entry/ },
  { label: 'symlink then a file through it', bytes: () => Buffer.concat([entryBytes({ name: 'up', type: T.symlink, linkname: '..' }), file('up/x', 'pwned')]), problem: /SymbolicLink entry/ },
  { label: 'hardlink', bytes: () => entryBytes({ name: 'hard', type: T.link, linkname: '/etc/passwd' }), problem: /Link entry/ },
  { label: 'char device', bytes: () => entryBytes({ name: 'null', type: T.char }), problem: /CharacterDevice entry/ },
  { label: 'block device', bytes: () => entryBytes({ name: 'sda', type: T.block }), problem: /BlockDevice entry/ },
  { label: 'FIFO', bytes: () => entryBytes({ name: 'fifo', type: T.fifo }), problem: /FIFO entry/ },
  { label: 'GNU long link name', bytes: () => Buffer.concat([entryBytes({ name: '././@LongLink', type: T.gnuLongLink, data: Buffer.from('/etc/passwd\0') }), entryBytes({ name: 'l', type: T.symlink, linkname: 'x' })]), problem: /SymbolicLink entry/ },
  { label: 'pax path=../../x', bytes: () => Buffer.concat([pax([paxRecord('path', '../../x')]), file('innocent', 'pwned')]), problem: OUTSIDE },
  { label: 'pax path=/abs', bytes: () => Buffer.concat([pax([paxRecord('path', '/tmp/dips-pwned')]), file('innocent', 'pwned')]), problem: OUTSIDE },
  { label: 'GNU long name ../../x', bytes: () => Buffer.concat([gnuLongName(`${'d/'.repeat(60)}../../${'../'.repeat(60)}x`), file('innocent', 'pwned')]), problem: OUTSIDE },
  { label: 'duplicate entry', bytes: () => Buffer.concat([file('dup.js', 'one'), file('dup.js', 'two')]), problem: /appears twice/ },
  { label: 'duplicate entry by another spelling', bytes: () => Buffer.concat([file('d/dup.js', 'one'), file('./d//dup.js', 'two')]), problem: /appears twice/ },
  { label: 'a file, then a file under it', bytes: () => Buffer.concat([file('f', 'one'), file('f/g', 'two')]), problem: /both a file and a folder/ },
  { label: 'a file under a path, then that path as a file', bytes: () => Buffer.concat([file('f/g', 'one'), file('f', 'two')]), problem: /both a file and a folder/ },
  { label: 'a file, then a file deep under it', bytes: () => Buffer.concat([file('f/g', 'one'), file('f/g/h/i', 'two')]), problem: /both a file and a folder/ },
  { label: 'the manifest as a folder', bytes: () => file(`${MANIFEST}/x`, 'two'), problem: /both a file and a folder/ },
  { label: 'a size past maxUnpackedBytes', bytes: () => file('big', Buffer.alloc(LIMITS.maxUnpackedBytes + 1)), problem: /maxUnpackedBytes/ },
  { label: 'a header claiming 8 GiB', bytes: () => entryBytes({ name: 'huge', type: T.file, size: 8 * 1024 ** 3 }), problem: /maxUnpackedBytes|not a valid tar/ },
  { label: 'pax size=1e15', bytes: () => Buffer.concat([pax([paxRecord('size', '1000000000000000')]), file('huge', 'x')]), problem: /maxUnpackedBytes|not a valid tar/ },
  { label: 'a bad checksum', bytes: () => entryBytes({ name: 'bad', type: T.file, data: Buffer.from('x'), badChecksum: true }), problem: /not a valid tar/ },
  { label: 'many small files past maxFiles', bytes: () => Buffer.concat(Array.from({ length: LIMITS.maxFiles }, (_, i) => file(`f${i}.js`, 'x'))), problem: /maxFiles/ },
  { label: 'a name component longer than the file system allows', bytes: () => Buffer.concat([pax([paxRecord('path', `lib/${'n'.repeat(300)}.js`)]), file('short', 'x')]), problem: /could not be written/ },
];

test('every hostile entry, wherever it sits among good ones, tar or tar.gz, is refused by name and nothing is written', () => {
  check(
    fc.property(
      fc.constantFrom(...HOSTILE),
      fc.array(fc.constantFrom('lib/a.js', 'lib/b/c.js', 'index.js', 'README'), { maxLength: 4 }).map((names) => [...new Set(names)]),
      fc.nat(),
      fc.boolean(),
      (hostile, goodNames, at, gzipped) => {
        const good = [manifest(), ...goodNames.map((n) => file(n, `// ${n}`))];
        const i = at % (good.length + 1);
        const parts = [...good.slice(0, i), hostile.bytes(), ...good.slice(i)];
        const archive = tarOf(...parts);
        assertRefused(gzipped ? gz(archive) : archive, hostile.problem, `${hostile.label} at ${i}${gzipped ? ' (gzip)' : ''}`);
      },
    ),
    300,
  );
});

// ---- limits ------------------------------------------------------------------------

test('a gzip bomb (a small archive inflating far past maxUnpackedBytes) is refused without inflating it all', () => {
  // one 64 MiB file of zeros: about 64 KiB of gzip
  const zeros = Buffer.alloc(64 * 1024 * 1024);
  const bomb = gz(tarOf(manifest(), entryBytes({ name: 'zeros', type: T.file, data: zeros })));
  assert.ok(bomb.length < LIMITS.maxBundleBytes, `the bomb is ${bomb.length} bytes`);
  const rssBefore = process.memoryUsage().rss;
  const started = Date.now();
  assertRefused(bomb, /more than deploy\.maxUnpackedBytes/, 'gzip bomb');
  // inflating 64 MiB would take far longer than stopping at the limit; a loose bound so a slow machine passes
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
  assert.ok(process.memoryUsage().rss - rssBefore < 48 * 1024 * 1024, 'memory grew by the size of the bomb');
});

test('a gzip stream that inflates past the limit only through many members (concatenated gzip) is refused', () => {
  const member = gzipSync(Buffer.alloc(128 * 1024));
  const archive = Buffer.concat([gz(tarOf(manifest()).subarray(0, 1024)), ...Array.from({ length: 40 }, () => member)]);
  assertRefused(archive, /maxUnpackedBytes|not a valid/, 'many gzip members');
});

test('the limits hold exactly at the edge: maxFiles files and maxUnpackedBytes bytes unpack, one more is refused', () => {
  const limits: ArchiveLimits = { ...LIMITS, maxFiles: 5, maxUnpackedBytes: 4096 };
  const m = Buffer.from(MANIFEST_JSON);
  const fill = (n: number) => Buffer.alloc(n, 'a');
  const rest = limits.maxUnpackedBytes - m.length;
  const edge = tarOf(file(MANIFEST, m), file('1', fill(rest - 3)), file('2', 'a'), file('3', 'a'), file('4', 'a'));
  assertUnpacks(edge, { [MANIFEST]: MANIFEST_JSON, 1: fill(rest - 3).toString(), 2: 'a', 3: 'a', 4: 'a' }, 'at the edge', limits);
  assertRefused(tarOf(file(MANIFEST, m), file('1', fill(rest - 3)), file('2', 'a'), file('3', 'a'), file('4', 'aa')), /maxUnpackedBytes/, 'one byte more', limits);
  assertRefused(tarOf(file(MANIFEST, m), file('1', 'a'), file('2', 'a'), file('3', 'a'), file('4', 'a'), file('5', 'a')), /maxFiles/, 'one file more', limits);
  assertUnpacks(gz(edge), { [MANIFEST]: MANIFEST_JSON, 1: fill(rest - 3).toString(), 2: 'a', 3: 'a', 4: 'a' }, 'at the edge, gzipped', limits);
});

test('empty, zero-length, garbage and manifest-less archives are refused', () => {
  assertRefused(Buffer.alloc(0), /no dips-bundle\.json|not a valid/, 'zero bytes');
  assertRefused(END, /no dips-bundle\.json|not a valid tar/, 'an empty tar');
  assertRefused(gz(END), /no dips-bundle\.json|not a valid tar/, 'an empty tar.gz');
  assertRefused(gz(Buffer.alloc(0)), /no dips-bundle\.json|not a valid/, 'gzip of nothing');
  assertRefused(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0]), /not a valid gzip/, 'a gzip header alone');
  assertRefused(Buffer.from('this is not an archive at all, just text'.repeat(40)), /not a valid tar|no dips-bundle\.json/, 'text');
  assertRefused(tarOf(file('index.js', 'x'), dir('lib')), /no dips-bundle\.json/, 'no manifest');
  // a zip (deflate, not gzip) is not a tarball either
  assertRefused(Buffer.concat([Buffer.from('PK\x03\x04'), deflateRawSync(Buffer.from(MANIFEST_JSON))]), /not a valid tar|no dips-bundle\.json/, 'zip');
});

// ---- valid archives ------------------------------------------------------------------

/** A path segment: letters, digits and the odd punctuation, never `.` or `..`. */
const segment = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._ -]{0,11}$/);
/** Relative file paths no one of which is a folder of another (`a` and `a/b` cannot both be files). */
const fileTree = fc
  .uniqueArray(fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/')), { maxLength: 12 })
  .map((paths) => paths.filter((p) => p !== MANIFEST && !paths.some((q) => q !== p && (q.startsWith(`${p}/`) || p.startsWith(`${q}/`)))))
  .map((paths) => paths.filter((p, i) => !paths.some((q, j) => j < i && (q.startsWith(`${p}/`) || p.startsWith(`${q}/`)))));
const content = fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b));

test('generated valid archives (folders listed or not, ./ prefixes, long names, gzip or not) unpack to exactly their files', () => {
  check(
    fc.property(fileTree, fc.array(content, { minLength: 12, maxLength: 12 }), fc.boolean(), fc.boolean(), fc.boolean(), (paths, contents, withDirs, dotSlash, gzipped) => {
      const expected: Record<string, string> = { [MANIFEST]: MANIFEST_JSON };
      const parts: Buffer[] = [manifest()];
      paths.forEach((p, i) => {
        const data = contents[i];
        expected[p] = data.toString('latin1');
        const name = dotSlash ? `./${p}` : p;
        if (withDirs && p.includes('/')) parts.push(dir(path.posix.dirname(name)));
        // names past 100 bytes need a pax or GNU long name, as real tars write them
        if (Buffer.byteLength(name) > 100) parts.push(pax([paxRecord('path', name)]), entryBytes({ name: 'short', type: T.file, data }));
        else parts.push(entryBytes({ name, type: i % 3 === 2 ? T.contiguous : T.file, data }));
      });
      const archive = tarOf(...parts);
      assertUnpacks(gzipped ? gz(archive) : archive, expected, paths.join(', '));
    }),
    150,
  );
});

test('odd but harmless headers: a global pax path (node-tar ignores it), a negative base-256 size (read as empty), a NUL in a pax path (cut there), unknown, sparse and volume entries (skipped)', () => {
  assertUnpacks(tarOf(pax([paxRecord('path', '../x')], true), manifest(), file('innocent', 'i')), { [MANIFEST]: MANIFEST_JSON, innocent: 'i' }, 'global pax path');
  assertUnpacks(tarOf(manifest(), entryBytes({ name: 'neg', type: T.file, size: -1 })), { [MANIFEST]: MANIFEST_JSON, neg: '' }, 'negative size');
  // an entry of a type tar does not know is skipped whole, data and all
  for (const type of ['Z', 'S', 'V', 'M']) {
    assertUnpacks(tarOf(manifest(), entryBytes({ name: 'odd', type, data: Buffer.from('x'.repeat(700)) }), file('after', 'a')), { [MANIFEST]: MANIFEST_JSON, after: 'a' }, `entry type ${type}`);
  }
  // node-tar cuts a pax path at a NUL: the name is what comes before it
  assertUnpacks(tarOf(manifest(), pax([paxRecord('path', Buffer.from('ok\0../x'))]), file('other', 'o')), { [MANIFEST]: MANIFEST_JSON, ok: 'o' }, 'pax path with a NUL');
});

test('a pax or GNU long name past 100 bytes inside the folder unpacks under its full name', () => {
  const long = `${'deep/'.repeat(30)}file.js`;
  assertUnpacks(tarOf(manifest(), pax([paxRecord('path', long)]), file('short', 'pax')), { [MANIFEST]: MANIFEST_JSON, [long]: 'pax' }, 'pax long name');
  assertUnpacks(tarOf(manifest(), gnuLongName(long), file('short', 'gnu')), { [MANIFEST]: MANIFEST_JSON, [long]: 'gnu' }, 'GNU long name');
});

test('a truncated or corrupted archive is refused, or unpacks only whole entries, never outside its folder', () => {
  const good = tarOf(manifest(), file('index.js', 'export default []'), file('lib/a.js', 'a'.repeat(3000)), file('lib/b.js', 'b'));
  const goodFiles: Record<string, string> = { [MANIFEST]: MANIFEST_JSON, 'index.js': 'export default []', 'lib/a.js': 'a'.repeat(3000), 'lib/b.js': 'b' };
  check(
    fc.property(fc.boolean(), fc.oneof(fc.record({ cut: fc.nat() }), fc.record({ flip: fc.nat(), to: fc.integer({ min: 0, max: 255 }) })), (gzipped, damage) => {
      const whole = gzipped ? gz(good) : good;
      let archive: Buffer;
      if ('cut' in damage) archive = whole.subarray(0, damage.cut % whole.length);
      else {
        archive = Buffer.from(whole);
        archive[damage.flip % archive.length] = damage.to;
      }
      const { err, files, outsideChanged } = unpackInSandbox(archive);
      assert.equal(outsideChanged, [], 'wrote outside its folder');
      if (err !== undefined) {
        assert.ok(err instanceof ReleaseRefused, `expected a ReleaseRefused, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
        assert.equal([...files.keys()], [], 'a refused archive is never partly unpacked');
        return;
      }
      // it unpacked: a cut at an entry's end, or a flip in a byte tar does not read (padding, the end blocks)
      for (const [p, data] of files) {
        if (p in goodFiles && goodFiles[p] === data) continue;
        // a flipped byte inside a file's data changes the data, not where it goes; a flipped name stays inside (checked above)
        assert.ok(!('cut' in damage), `a cut archive unpacked ${p} with other content`);
      }
    }),
    400,
  );
});

test('generated bundle folders round-trip through packBundle → unpackArchive, tar and tar.gz sources alike', async () => {
  const samples = fc.sample(fc.tuple(fileTree, fc.array(content, { minLength: 12, maxLength: 12 })), { numRuns: 25, seed: 7 });
  for (const [paths, contents] of samples) {
    const root = mkdtempSync(path.join(os.tmpdir(), 'dips-archive-pack-'));
    try {
      const src = path.join(root, 'src');
      const expected: Record<string, string> = { [MANIFEST]: MANIFEST_JSON, 'index.mjs': 'export default [];' };
      paths.filter((p) => p !== 'index.mjs' && !p.startsWith('index.mjs/') && !p.split('/').some((s) => s === 'node_modules' || s === '.git')).forEach((p, i) => (expected[p] = contents[i].toString('latin1')));
      for (const [p, data] of Object.entries(expected)) {
        mkdirSync(path.dirname(path.join(src, p)), { recursive: true });
        writeFileSync(path.join(src, p), Buffer.from(data, 'latin1'));
      }
      // never shipped: a bundle's build tools
      mkdirSync(path.join(src, 'node_modules', 'dep'), { recursive: true });
      writeFileSync(path.join(src, 'node_modules', 'dep', 'x.js'), 'x');
      const { archive, manifest: m } = await packBundle(src, LIMITS);
      assert.equal(m.name, 'hostile');
      assertUnpacks(archive, expected, `packed ${Object.keys(expected).join(', ')}`);
      // and the packed archive, handed back to packBundle as a tarball, packs to the same bytes
      const tgz = path.join(root, 'bundle.tgz');
      writeFileSync(tgz, archive);
      assert.ok((await packBundle(tgz, LIMITS)).archive.equals(archive), 'repacking a packed archive changed it');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
});

test.run();
