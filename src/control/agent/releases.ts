/**
 * The releases a node agent holds and which one its workers run. A release
 * (src/control/release/statement.ts) arrives with the operator's deploy or
 * from a peer; it is checked against the trusted keys, its archive fetched
 * chunk by chunk unless held, unpacked into a folder of its own, and the
 * workers rolled onto it one by one. A release whose workers do not become
 * ready is rolled back at once and remembered as failed here, so syncing with
 * peers does not try it again.
 *
 * On disk (deploy.dir), versions side by side:
 *   archives/<sha256>.tar.gz           what was fetched, served on to peers
 *   versions/<name>@<version>-<sha12>/ the unpacked bundle the workers load
 *   releases/<sha256>.json             the signed release last adopted for it, and when
 *   current.json                       the signed release in force
 *   failed.json                        archives whose workers failed to start here
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RequestStrategy, type NatsConnection, type Subscription } from 'nats';
import type { ReleaseState } from '../../shared/control.js';
import { errorMessage } from '../../shared/errors.js';
import { ConfigError } from '../../shared/config.js';
import type { Logger } from '../../shared/log.js';
import { repliesToInbox } from '../../mesh/replies.js';
import { DEPLOY_RELEASE_SUBJECT } from '../../mesh/subjects.js';
import { readManifest } from '../../services/bundle.js';
import { unpackArchive, type ArchiveLimits } from '../release/archive.js';
import type { TrustedKey } from '../release/keys.js';
import { openRelease, releaseLabel, ReleaseRefused, sha256, summaryOf, type Release, type SignedRelease } from '../release/statement.js';
import { fetchArchive, serveChunks } from '../release/transfer.js';
import { RolloutFailed, type Supervisor } from './supervisor.js';

export interface ReleasesOptions {
  dir: string;
  node: string;
  trusted: TrustedKey[];
  limits: ArchiveLimits;
  /** Releases kept on disk, the one in force included. */
  keep: number;
  readyTimeoutMs: number;
  supervisor: Supervisor;
  log: Logger;
}

interface Held {
  signed: SignedRelease;
  release: Release;
  adoptedAt: number;
}

/** What a peer (or dipsctl rollback) asks on DEPLOY_RELEASE_SUBJECT: nothing for the release in force, or one archive's release. */
interface ReleaseQuery {
  sha256?: string;
}

const SYNC_GATHER_MS = 300;
const SYNC_MAX_MS = 2000;

export class Releases {
  private current?: Held;
  private rolling?: Release;
  private lastError?: ReleaseState['lastError'];
  private held: Held[] = [];
  private failed = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly serving = new Map<string, Subscription>();
  private nc?: NatsConnection;

  constructor(private readonly o: ReleasesOptions) {
    try {
      for (const sub of ['archives', 'versions', 'releases']) mkdirSync(path.join(o.dir, sub), { recursive: true, mode: 0o700 });
    } catch (err) {
      // a folder the agent may not write (ProtectSystem=strict without its StateDirectory) is a configuration problem: exit 78 saying so
      throw new ConfigError(`deploy.dir ${o.dir}: ${errorMessage(err)}`);
    }
  }

  /** Read what is on disk; the folder of the release in force, for the first workers (undefined: none). */
  load(): string | undefined {
    this.failed = new Set(this.readJson<string[]>('failed.json') ?? []);
    for (const file of readdirSync(path.join(this.o.dir, 'releases'))) {
      const saved = this.readJson<{ signed: SignedRelease; adoptedAt: number }>(path.join('releases', file));
      const release = saved && this.tryOpen(saved.signed);
      if (release && existsSync(this.versionDir(release))) this.held.push({ signed: saved.signed, release, adoptedAt: saved.adoptedAt });
    }
    this.held.sort((a, b) => b.adoptedAt - a.adoptedAt);
    const signed = this.readJson<SignedRelease>('current.json');
    const release = signed && this.tryOpen(signed);
    if (!release || !existsSync(this.versionDir(release))) return undefined;
    this.current = { signed: signed, release, adoptedAt: this.held.find((h) => h.release.sha256 === release.sha256)?.adoptedAt ?? 0 };
    this.o.log.info({ release: releaseLabel(release) }, 'release in force');
    return this.versionDir(release);
  }

  /** Serve the releases held to peers (which release is in force, the archives' chunks). */
  attach(nc: NatsConnection): void {
    this.nc = nc;
    nc.subscribe(DEPLOY_RELEASE_SUBJECT, {
      callback: (err, msg) => {
        if (err || !repliesToInbox(msg, this.o.log)) return;
        let query: ReleaseQuery;
        try {
          query = msg.data.length ? (msg.json() as ReleaseQuery) : {};
        } catch {
          return;
        }
        // JSON that is not an object (null, 5) is no question; dereferenced, it would throw out of this callback into
        // the NATS client's reader loop, which then stops, and the agent would hear nothing more (no deploy, no control)
        if (!query || typeof query !== 'object') return;
        const answer = typeof query.sha256 === 'string' ? this.held.find((h) => h.release.sha256 === query.sha256) : this.current;
        // only those who have it answer a question about one archive; everyone answers which release they run
        if (answer) msg.respond(JSON.stringify(answer.signed));
        else if (query.sha256 === undefined) msg.respond(new Uint8Array(0));
      },
    });
    for (const h of this.held) this.serve(h.release);
  }

  /** The operator's deploy (or rollback): adopt the release, or say why not. */
  deploy(signed: unknown): Promise<string> {
    return this.serialized(() => this.adopt(signed, 'deploy'));
  }

  /**
   * Ask the other agents which release they run and adopt the newest if it is
   * newer than ours: how an agent that was down or cut off during a deploy
   * catches up. A release that failed here before is not tried again.
   */
  async sync(): Promise<void> {
    const nc = this.nc;
    if (!nc || nc.isClosed()) return;
    let newest: { signed: SignedRelease; release: Release } | undefined;
    try {
      const replies = await nc.requestMany(DEPLOY_RELEASE_SUBJECT, '', { strategy: RequestStrategy.JitterTimer, jitter: SYNC_GATHER_MS, maxWait: SYNC_MAX_MS });
      for await (const msg of replies) {
        if (!msg.data.length) continue;
        let signed: SignedRelease;
        try {
          signed = msg.json<SignedRelease>();
        } catch {
          continue;
        }
        const release = this.tryOpen(signed);
        if (release && (!newest || release.issuedAt > newest.release.issuedAt)) newest = { signed, release };
      }
    } catch {
      return; // no responders: no peer, nothing to learn
    }
    if (!newest || (this.current && newest.release.issuedAt <= this.current.release.issuedAt) || this.failed.has(newest.release.sha256)) return;
    const found = newest;
    await this.serialized(async () => {
      try {
        this.o.log.info({ release: releaseLabel(found.release) }, 'a peer runs a newer release: adopting it');
        await this.adopt(found.signed, 'sync');
      } catch (err) {
        this.o.log.warn({ err: errorMessage(err) }, 'could not adopt the release peers run');
      }
    });
  }

  state(): ReleaseState {
    return {
      current: this.current ? summaryOf(this.current.release) : null,
      ...(this.rolling ? { rolling: summaryOf(this.rolling) } : {}),
      held: this.held.map((h) => summaryOf(h.release)),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  private serialized<T>(step: () => Promise<T>): Promise<T> {
    const run = this.chain.then(step, step);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async adopt(signed: unknown, how: 'deploy' | 'sync'): Promise<string> {
    const { log, node, supervisor } = this.o;
    const release = openRelease(signed, this.o.trusted, this.o.limits.maxBundleBytes);
    // kept and served on to peers as exactly what was signed: fields a sender added beside it would travel with it
    const { statement, signature } = signed as SignedRelease;
    const label = releaseLabel(release);
    const current = this.current?.release;
    // sync chose this release before waiting its turn; a deploy of it may have failed here meanwhile
    if (how === 'sync' && this.failed.has(release.sha256)) throw new ReleaseRefused(`${label} failed here before: not tried again on a peer's word`);
    if (current && release.issuedAt <= current.issuedAt) {
      if (release.issuedAt === current.issuedAt && release.sha256 === current.sha256) return `already on ${label}`;
      throw new ReleaseRefused(`${label} was signed ${iso(release.issuedAt)}, before the release in force here (${releaseLabel(current)}, signed ${iso(current.issuedAt)}): an old release sent again is not a deploy`);
    }
    const started = Date.now();
    const before = current ? releaseLabel(current) : 'the built-in functions';
    this.rolling = release;
    try {
      const dir = await this.unpacked(release);
      let rolled = 0;
      if (!current || current.sha256 !== release.sha256) {
        log.info({ release: label, how }, 'rolling workers onto a release');
        try {
          rolled = await supervisor.rollOnto(dir, this.o.readyTimeoutMs);
        } catch (err) {
          if (!(err instanceof RolloutFailed)) throw err;
          this.failed.add(release.sha256);
          this.writeJson('failed.json', [...this.failed]);
          // nothing keeps a release that cannot run here: not its folder, not its archive (peers are not offered it)
          if (!this.held.some((h) => h.release.sha256 === release.sha256)) this.forget(release);
          throw new ReleaseRefused(`${label} failed to start on ${node}: ${err.message}; rolled back to ${before}`);
        }
      }
      this.adopted({ statement, signature }, release);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      log.info({ release: label, workers: rolled, seconds }, 'release in force');
      return `now on ${label}: ${rolled} workers rolled in ${seconds} s`;
    } catch (err) {
      this.lastError = { release: summaryOf(release), error: errorMessage(err), atMs: Date.now() };
      log.error({ release: label, err: errorMessage(err) }, 'release not adopted');
      throw err;
    } finally {
      this.rolling = undefined;
    }
  }

  /** The release's folder, unpacked from its archive (fetched from a holder unless kept here). */
  private async unpacked(release: Release): Promise<string> {
    const dir = this.versionDir(release);
    if (existsSync(dir)) return dir;
    const archiveFile = this.archiveFile(release);
    let archive: Buffer | undefined = existsSync(archiveFile) ? readFileSync(archiveFile) : undefined;
    if (!archive || sha256(archive) !== release.sha256) {
      if (!this.nc) throw new ReleaseRefused('not connected to NATS: cannot fetch the archive');
      archive = await fetchArchive(this.nc, release);
      const tmp = `${archiveFile}.${process.pid}.tmp`;
      writeFileSync(tmp, archive, { mode: 0o600 });
      renameSync(tmp, archiveFile);
    }
    // into a scratch folder first: a folder under its final name is always whole
    const scratch = path.join(this.o.dir, 'versions', `.unpacking-${release.sha256}-${process.pid}`);
    rmSync(scratch, { recursive: true, force: true });
    try {
      try {
        unpackArchive(archive, scratch, this.o.limits, releaseLabel(release));
        const manifest = readManifest(scratch);
        if (manifest.name !== release.name || manifest.version !== release.version) {
          throw new ReleaseRefused(`the archive's ${'dips-bundle.json'} says ${manifest.name}@${manifest.version}, the signed release ${release.name}@${release.version}`);
        }
      } catch (err) {
        // the archive is the one signed, so it is refused here every time: remembered as failed (sync does not unpack it
        // again each interval) and not kept (not offered to peers, not left on disk)
        this.failed.add(release.sha256);
        this.writeJson('failed.json', [...this.failed]);
        rmSync(archiveFile, { force: true });
        throw err instanceof ReleaseRefused ? err : new ReleaseRefused(errorMessage(err));
      }
      renameSync(scratch, dir);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    return dir;
  }

  private adopted(signed: SignedRelease, release: Release): void {
    const held: Held = { signed, release, adoptedAt: Date.now() };
    this.writeJson(path.join('releases', `${release.sha256}.json`), { signed, adoptedAt: held.adoptedAt });
    this.writeJson('current.json', signed);
    this.current = held;
    this.lastError = undefined;
    this.held = [held, ...this.held.filter((h) => h.release.sha256 !== release.sha256)];
    if (this.failed.delete(release.sha256)) this.writeJson('failed.json', [...this.failed]);
    this.serve(release);
    for (const old of this.held.splice(Math.max(1, this.o.keep))) this.forget(old.release);
  }

  private serve(release: Release): void {
    if (!this.nc || this.serving.has(release.sha256) || !existsSync(this.archiveFile(release))) return;
    this.serving.set(release.sha256, serveChunks(this.nc, release.sha256, readFileSync(this.archiveFile(release)), this.o.log));
  }

  private forget(release: Release): void {
    this.serving.get(release.sha256)?.unsubscribe();
    this.serving.delete(release.sha256);
    rmSync(this.versionDir(release), { recursive: true, force: true });
    rmSync(this.archiveFile(release), { force: true });
    rmSync(path.join(this.o.dir, 'releases', `${release.sha256}.json`), { force: true });
  }

  private tryOpen(signed: unknown): Release | undefined {
    try {
      return openRelease(signed, this.o.trusted, this.o.limits.maxBundleBytes);
    } catch {
      return undefined;
    }
  }

  private versionDir(r: Release): string {
    return path.join(this.o.dir, 'versions', `${r.name}@${r.version}-${r.sha256.slice(0, 12)}`);
  }

  private archiveFile(r: Release): string {
    return path.join(this.o.dir, 'archives', `${r.sha256}.tar.gz`);
  }

  private readJson<T>(rel: string): T | undefined {
    try {
      return JSON.parse(readFileSync(path.join(this.o.dir, rel), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  /** Written whole or not at all (a rename), so a crash mid-write leaves the previous file. */
  private writeJson(rel: string, value: unknown): void {
    const file = path.join(this.o.dir, rel);
    writeFileSync(`${file}.tmp`, JSON.stringify(value), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }
}

const iso = (ms: number) => new Date(ms).toISOString();
