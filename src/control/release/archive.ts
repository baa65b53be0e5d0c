/**
 * Bundles as archives: dipsctl packs a bundle folder (or repacks a tarball)
 * into one .tar.gz, and an agent unpacks a verified archive into its own
 * version folder. node-tar reads and writes the tar format; what goes in and
 * comes out is decided here, because an archive is input from the network:
 * only regular files and folders, no path that leaves the version folder, no
 * links, bounded in files and bytes both packed and unpacked. An archive that
 * breaks a rule is refused whole, never partly unpacked.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, lstatSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as tar from 'tar';
import { errorMessage } from '../../shared/errors.js';
import { MANIFEST, readManifest, type BundleManifest } from '../../services/bundle.js';
import { ReleaseRefused } from './statement.js';

export interface ArchiveLimits {
  maxBundleBytes: number;
  maxUnpackedBytes: number;
  maxFiles: number;
}

/**
 * Folders of a bundle that are never shipped: a bundle's build tools and
 * repository are not what runs (its runtime dependencies are bundled into its
 * entry, and `dips/function` is the worker's own).
 */
const NOT_SHIPPED = new Set(['node_modules', '.git']);
const GZIP_MAGIC = [0x1f, 0x8b];
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/** One file of an unpacked archive, its path relative to the version folder. */
interface ArchiveFile {
  path: string;
  data: Buffer;
}

/**
 * The bundle at `source` (a folder, or a .tar/.tar.gz/.tgz of one), packed as
 * the archive dipsctl ships, with its manifest.
 */
export async function packBundle(source: string, limits: ArchiveLimits): Promise<{ archive: Buffer; manifest: BundleManifest }> {
  let stat;
  try {
    stat = statSync(source);
  } catch (err) {
    throw new ReleaseRefused(`${source}: ${errorMessage(err)}`);
  }
  if (stat.isDirectory()) return packFolder(path.resolve(source), limits);
  // a tarball is unpacked with the rules an agent applies, then packed like a folder: what ships is always our own archive
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'dips-deploy-'));
  try {
    unpackArchive(readFileSync(source), scratch, limits, source);
    return await packFolder(bundleRoot(scratch, source), limits);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The folder holding dips-bundle.json: the archive's top, or its one top-level folder (as `npm pack` makes, `package/`). */
function bundleRoot(dir: string, source: string): string {
  const top = readdirSync(dir);
  if (top.includes(MANIFEST)) return dir;
  if (top.length === 1 && statSync(path.join(dir, top[0])).isDirectory()) return bundleRoot(path.join(dir, top[0]), source);
  throw new ReleaseRefused(`${source}: no ${MANIFEST} at the top of the archive or in its one top-level folder`);
}

async function packFolder(root: string, limits: ArchiveLimits): Promise<{ archive: Buffer; manifest: BundleManifest }> {
  const manifest = readManifest(root);
  const files = listFolder(root, limits);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'dips-pack-'));
  const file = path.join(scratch, 'bundle.tar.gz');
  try {
    // portable and a fixed mtime: the same folder packs to the same bytes, so the same code is the same release
    await tar.c({ gzip: true, portable: true, mtime: new Date(0), cwd: root, file }, files);
    const archive = readFileSync(file);
    if (archive.length > limits.maxBundleBytes) {
      throw new ReleaseRefused(`${root} packs to ${archive.length} bytes, more than deploy.maxBundleBytes (${limits.maxBundleBytes})`);
    }
    return { archive, manifest };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Every file to ship, relative and sorted; links and special files are refused by name. */
function listFolder(root: string, limits: ArchiveLimits): string[] {
  const files: string[] = [];
  let bytes = 0;
  let count = 0;
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const relPath = rel ? `${rel}/${name}` : name;
      const st = lstatSync(path.join(root, relPath));
      if (st.isDirectory()) {
        if (!NOT_SHIPPED.has(name)) walk(relPath);
        continue;
      }
      if (!st.isFile()) throw new ReleaseRefused(`${path.join(root, relPath)} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}: a bundle ships regular files and folders only`);
      bytes += st.size;
      if (++count > limits.maxFiles) throw new ReleaseRefused(`${root} holds more than deploy.maxFiles (${limits.maxFiles}) files`);
      if (bytes > limits.maxUnpackedBytes) throw new ReleaseRefused(`${root} holds more than deploy.maxUnpackedBytes (${limits.maxUnpackedBytes}) bytes`);
      files.push(relPath);
    }
  };
  walk('');
  return files;
}

/**
 * Unpack `archive` (tar or tar.gz) into `dest`, which must be empty or absent.
 * Every entry is read and checked first; nothing is written unless all pass.
 * `what` names the archive in errors.
 */
export function unpackArchive(archive: Buffer, dest: string, limits: ArchiveLimits, what: string): void {
  const files = readArchive(archive, limits, what);
  // what is there already would be mixed with the release, and could not be told apart to clean up after a failed write
  if (existsSync(dest) && readdirSync(dest).length) throw new ReleaseRefused(`${what}: ${dest} is not empty`);
  mkdirSync(dest, { recursive: true });
  try {
    for (const f of files) {
      const target = path.join(dest, f.path);
      mkdirSync(path.dirname(target), { recursive: true });
      // 0644 whatever the archive says: nothing in a bundle is executed directly, Node imports it
      writeFileSync(target, f.data, { mode: 0o644, flag: 'wx' });
    }
  } catch (err) {
    // the checks above cannot foresee everything the file system refuses (a name longer than it allows, a full disk): never leave a part
    for (const name of readdirSync(dest)) rmSync(path.join(dest, name), { recursive: true, force: true });
    throw new ReleaseRefused(`${what}: could not be written to ${dest}: ${errorMessage(err)}`);
  }
}

function readArchive(archive: Buffer, limits: ArchiveLimits, what: string): ArchiveFile[] {
  const refuse = (problem: string): never => {
    throw new ReleaseRefused(`${what}: ${problem}`);
  };
  let tarBytes = archive;
  if (archive[0] === GZIP_MAGIC[0] && archive[1] === GZIP_MAGIC[1]) {
    try {
      // bounded: a few KiB of gzip can inflate to gigabytes; the tar headers add 512 bytes or so per file
      tarBytes = gunzipSync(archive, { maxOutputLength: limits.maxUnpackedBytes + 1024 * (limits.maxFiles + 2) });
    } catch (err) {
      refuse(err instanceof RangeError ? `unpacks to more than deploy.maxUnpackedBytes (${limits.maxUnpackedBytes}) bytes` : `not a valid gzip archive: ${errorMessage(err)}`);
    }
  }
  const files: ArchiveFile[] = [];
  const seen = new Set<string>();
  /** Every folder the files so far lie in: `a` then `a/b` (or the reverse) would need `a` to be both, and fail half written. */
  const folders = new Set<string>();
  let total = 0;
  let problem: string | undefined;
  const parser = new tar.Parser({
    strict: true,
    onReadEntry: (entry) => {
      const name = entry.path;
      const check = (): string | undefined => {
        if (entry.type === 'Directory') return undefined;
        if (!FILE_TYPES.has(entry.type)) return `${JSON.stringify(name)} is a ${entry.type} entry: a bundle holds regular files and folders only`;
        const rel = safeRelative(name);
        if (!rel) return `${JSON.stringify(name)} would be written outside the bundle's folder`;
        if (seen.has(rel)) return `${JSON.stringify(name)} appears twice`;
        const above = rel.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'));
        if (folders.has(rel) || above.some((folder) => seen.has(folder))) return `${JSON.stringify(name)} is both a file and a folder of the archive`;
        seen.add(rel);
        for (const folder of above) folders.add(folder);
        total += entry.size;
        if (files.length + 1 > limits.maxFiles) return `more than deploy.maxFiles (${limits.maxFiles}) files`;
        if (total > limits.maxUnpackedBytes) return `unpacks to more than deploy.maxUnpackedBytes (${limits.maxUnpackedBytes}) bytes`;
        const parts: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => parts.push(chunk));
        entry.on('end', () => files.push({ path: rel, data: Buffer.concat(parts) }));
        return undefined;
      };
      problem ??= check();
      if (problem || entry.type === 'Directory') entry.resume();
    },
  });
  parser.on('warn', (_code: string, message: string) => {
    problem ??= `not a valid tar archive: ${message}`;
  });
  parser.on('error', (err: Error) => {
    problem ??= `not a valid tar archive: ${err.message}`;
  });
  parser.end(tarBytes);
  if (problem) refuse(problem);
  if (!seen.has(MANIFEST) && !files.some((f) => f.path.endsWith(`/${MANIFEST}`))) refuse(`no ${MANIFEST} in it`);
  return files;
}

/** `name` as a path inside the folder (no leading /, no .., no NUL), normalized; undefined when it is not one. */
function safeRelative(name: string): string | undefined {
  if (name.includes('\0') || name.includes('\\')) return undefined;
  const normal = path.posix.normalize(name).replace(/^\.\/+/, '').replace(/\/+$/, '');
  if (!normal || normal === '.' || path.posix.isAbsolute(normal) || normal === '..' || normal.startsWith('../')) return undefined;
  return normal;
}
