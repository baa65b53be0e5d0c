/**
 * What dipsctl deploy and rollback do on the mesh: make a signed release,
 * serve its archive while the agents fetch it, broadcast it as
 * dips.control.deploy and gather every node's answer (each answers once its
 * workers run the release, or after it rolled back).
 */
import os from 'node:os';
import type { KeyObject } from 'node:crypto';
import { RequestStrategy, type NatsConnection } from 'nats';
import type { NodeReply, ReleaseSummary } from '../../shared/control.js';
import { DEPLOY_RELEASE_SUBJECT } from '../../mesh/subjects.js';
import { broadcast, type BroadcastResult } from '../broadcast.js';
import { chunkHashes, openRelease, ReleaseRefused, sha256, signRelease, type Release, type SignedRelease } from './statement.js';
import type { TrustedKey } from './keys.js';
import { serveChunks } from './transfer.js';

export interface Signer {
  key: KeyObject;
  id: string;
}

export interface RolloutResult extends BroadcastResult {
  release: Release;
  /** From the broadcast to the last node's answer. */
  ms: number;
}

/**
 * When to date a new release: now, or just after the newest release a node
 * runs if this machine's clock is behind it (agents take only a release newer
 * than the one in force).
 */
function issueTime(nodes: NodeReply[]): number {
  const newest = Math.max(0, ...nodes.map((n) => n.release?.current?.issuedAt ?? 0));
  return Math.max(Date.now(), newest + 1);
}

/** A release of this archive, dated for the fleet (issueTime) and named by the key that signs it and who ran the command. */
function releaseFields(archive: Pick<Release, 'name' | 'version' | 'sha256' | 'size' | 'chunks'>, nodes: NodeReply[], signer: Signer): Omit<Release, 'kind'> {
  return { ...archive, issuedAt: issueTime(nodes), keyId: signer.id, by: `${os.userInfo().username}@${os.hostname()}` };
}

async function roll(nc: NatsConnection, signed: SignedRelease, release: Release, nodes: string[] | undefined, gatherMs: number): Promise<RolloutResult> {
  const started = Date.now();
  const result = await broadcast(nc, 'deploy', { nodes, release: signed }, gatherMs);
  return { ...result, release, ms: Date.now() - started };
}

/** Ship `archive` (a packed bundle) to the targeted nodes and roll them onto it. */
export async function deploy(nc: NatsConnection, archive: Buffer, manifest: { name: string; version: string }, signer: Signer, nodes: string[] | undefined, gatherMs: number): Promise<RolloutResult> {
  const status = await broadcast(nc, 'status', { nodes }, gatherMs);
  const fields = releaseFields({ name: manifest.name, version: manifest.version, sha256: sha256(archive), size: archive.length, chunks: chunkHashes(archive) }, status.replies, signer);
  const signed = signRelease(fields, signer.key);
  // served until every node answered: by then each has its copy, and serves it on to peers that come later
  const server = serveChunks(nc, fields.sha256, archive);
  try {
    return await roll(nc, signed, { kind: 'dips-release/1', ...fields }, nodes, gatherMs);
  } finally {
    server.unsubscribe();
  }
}

/**
 * Roll the nodes back onto a release they held before: `to` names it (a
 * version, name@version or a SHA-256 prefix); by default the one adopted
 * before the release in force. The archive is not sent again: the agents keep
 * it (and fetch it from each other where one does not).
 */
export async function rollback(nc: NatsConnection, signer: Signer, trusted: TrustedKey[], to: string | undefined, nodes: string[] | undefined, gatherMs: number): Promise<RolloutResult> {
  const status = await broadcast(nc, 'status', { nodes }, gatherMs);
  if (!status.replies.length) throw new ReleaseRefused('no agent answered: nothing to roll back');
  const target = chooseTarget(status.replies, to);
  const old = await heldRelease(nc, target.sha256, trusted, gatherMs);
  const fields = releaseFields({ name: old.name, version: old.version, sha256: old.sha256, size: old.size, chunks: old.chunks }, status.replies, signer);
  return roll(nc, signRelease(fields, signer.key), { kind: 'dips-release/1', ...fields }, nodes, gatherMs);
}

function chooseTarget(replies: NodeReply[], to: string | undefined): ReleaseSummary {
  const running = replies.map((r) => r.release?.current).filter((c): c is ReleaseSummary => !!c).sort((a, b) => b.issuedAt - a.issuedAt)[0];
  const held = replies.flatMap((r) => r.release?.held ?? []);
  if (to) {
    const found = held.find((h) => h.version === to || `${h.name}@${h.version}` === to || (to.length >= 6 && h.sha256.startsWith(to)));
    if (!found) throw new ReleaseRefused(`no node holds a release ${JSON.stringify(to)}; held: ${[...new Set(held.map((h) => `${h.name}@${h.version}`))].join(', ') || 'none'}`);
    return found;
  }
  if (!running) throw new ReleaseRefused('no release is in force on any node: nothing to roll back');
  // the node that runs the newest release knows what came before it
  const holder = replies.find((r) => r.release?.current?.issuedAt === running.issuedAt);
  const previous = holder?.release?.held.find((h) => h.sha256 !== running.sha256);
  if (!previous) throw new ReleaseRefused(`no release before ${running.name}@${running.version} is kept on ${holder?.node}: nothing to roll back to`);
  return previous;
}

/**
 * The signed release of an archive some agent holds (its chunk list and size),
 * checked against the operator's keys before its fields are signed again: an
 * agent's word alone does not become a release.
 */
async function heldRelease(nc: NatsConnection, sha: string, trusted: TrustedKey[], gatherMs: number): Promise<Release> {
  let problem = 'no agent answered';
  try {
    const replies = await nc.requestMany(DEPLOY_RELEASE_SUBJECT, JSON.stringify({ sha256: sha }), { strategy: RequestStrategy.JitterTimer, jitter: 300, maxWait: gatherMs });
    for await (const msg of replies) {
      try {
        const release = openRelease(msg.json<SignedRelease>(), trusted, Number.MAX_SAFE_INTEGER);
        if (release.sha256 === sha) return release;
      } catch (err) {
        problem = (err as Error).message;
      }
    }
  } catch {
    // no responders: nobody holds it
  }
  throw new ReleaseRefused(`cannot roll back to archive ${sha.slice(0, 12)}…: ${problem}`);
}
