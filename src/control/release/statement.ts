/**
 * A release: the operator's signed statement that the fleet should run one
 * packed bundle. It names the archive by its SHA-256 and the SHA-256 of each
 * chunk it travels in (so a chunk from any holder is checked on arrival, and a
 * bad one never reaches the disk), and carries when it was signed: among valid
 * releases the newest is the fleet's desired one, so an agent that missed a
 * deploy catches up by asking its peers, and a replayed older release is
 * refused. A rollback is a new release naming an older archive.
 *
 * The statement travels as the exact JSON text that was signed, beside its
 * signature: an agent checks the signature over those bytes before it parses
 * anything.
 */
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { ReleaseSummary } from '../../shared/control.js';
import { BUNDLE_NAME, BUNDLE_VERSION } from '../../services/bundle.js';
import { signBytes, verifyBytes, type TrustedKey } from './keys.js';

/** Chunks of an archive on the wire: well under any NATS payload limit, large enough that a 32 MiB bundle is 128 requests. */
export const CHUNK_BYTES = 256 * 1024;
const KIND = 'dips-release/1';
/** A statement is a few hundred bytes plus 65 per chunk; anything far larger is not one. */
const MAX_STATEMENT_BYTES = 256 * 1024;
const SHA256 = /^[0-9a-f]{64}$/;

export interface Release {
  kind: typeof KIND;
  name: string;
  version: string;
  /** SHA-256 of the packed archive (.tar.gz), hex. */
  sha256: string;
  size: number;
  /** SHA-256 of each CHUNK_BYTES piece of the archive, in order. */
  chunks: string[];
  /** When it was signed, ms since the epoch. */
  issuedAt: number;
  /** Id of the key that signed it (keys.ts keyId). */
  keyId: string;
  /** Who signed it, as the operator's machine knew them (shown, never trusted). */
  by?: string;
}

/** A release as it travels: the signed JSON text and its Ed25519 signature, base64. */
export interface SignedRelease {
  statement: string;
  signature: string;
}

/** Why a release is not accepted: shown to the operator as it is. */
export class ReleaseRefused extends Error {
  override name = 'ReleaseRefused';
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function chunkHashes(archive: Buffer): string[] {
  const hashes: string[] = [];
  for (let at = 0; at < archive.length; at += CHUNK_BYTES) hashes.push(sha256(archive.subarray(at, at + CHUNK_BYTES)));
  return hashes;
}

export function summaryOf(r: Release): ReleaseSummary {
  return { name: r.name, version: r.version, sha256: r.sha256, issuedAt: r.issuedAt };
}

/** `hello@1.2.0 (sha256 1a2b3c4d…)` */
export function releaseLabel(r: Pick<Release, 'name' | 'version' | 'sha256'>): string {
  return `${r.name}@${r.version} (sha256 ${r.sha256.slice(0, 12)}…)`;
}

export function signRelease(release: Omit<Release, 'kind'>, key: KeyObject): SignedRelease {
  const statement = JSON.stringify({ kind: KIND, ...release });
  return { statement, signature: signBytes(key, Buffer.from(statement, 'utf8')) };
}

/**
 * The release `signed` states, once its signature is checked against the
 * trusted keys and every field against the limits; a ReleaseRefused naming the
 * problem otherwise.
 */
export function openRelease(signed: unknown, trusted: TrustedKey[], maxBundleBytes: number): Release {
  if (!trusted.length) throw new ReleaseRefused('this agent trusts no deploy key (deploy.publicKeys is empty), so it accepts no release');
  const s = signed as Partial<SignedRelease> | null;
  if (!s || typeof s !== 'object' || typeof s.statement !== 'string' || typeof s.signature !== 'string') throw new ReleaseRefused('not a signed release: expected {statement, signature}');
  if (Buffer.byteLength(s.statement) > MAX_STATEMENT_BYTES) throw new ReleaseRefused(`release statement larger than ${MAX_STATEMENT_BYTES} bytes`);
  const signature = Buffer.from(s.signature, 'base64');
  // Node's base64 decoder skips spaces, stray characters and padding, and ignores the unused bits of the last digit, so
  // many spellings decode to one signature: only the one signBytes writes is a signature, so that a signed release has
  // exactly one spelling (a release told apart by its text is never the same release twice)
  if (signature.toString('base64') !== s.signature) throw new ReleaseRefused('release signature is not 64 bytes in canonical base64');
  const bytes = Buffer.from(s.statement, 'utf8');
  // a lone surrogate encodes as U+FFFD, so two different texts would share one signature; a signed statement has none
  if (bytes.toString('utf8') !== s.statement) throw new ReleaseRefused('release statement is not well-formed text (a lone surrogate)');
  // the key id is read before the signature is checked only to pick the key and to name it in a refusal
  const claimed = /"keyId":"([0-9a-f]{16})"/.exec(s.statement)?.[1];
  const key = trusted.find((k) => k.id === claimed);
  const ids = trusted.map((k) => k.id).join(', ');
  if (!key) throw new ReleaseRefused(`release signed by key ${claimed ?? '(none named)'}, which this agent does not trust (deploy.publicKeys: ${ids})`);
  if (signature.length !== 64 || !verifyBytes(key.key, bytes, signature)) {
    throw new ReleaseRefused(`release signature does not verify with key ${key.id}: the release was altered after signing, or signed by another key`);
  }
  let r: Partial<Release>;
  try {
    r = JSON.parse(s.statement) as Partial<Release>;
  } catch {
    throw new ReleaseRefused('release statement is not JSON');
  }
  const bad = (problem: string): never => {
    throw new ReleaseRefused(`release statement: ${problem}`);
  };
  if (r.kind !== KIND) bad(`kind must be ${KIND}, got ${JSON.stringify(r.kind)}`);
  if (typeof r.name !== 'string' || !BUNDLE_NAME.test(r.name)) bad('name is not a bundle name');
  if (typeof r.version !== 'string' || !BUNDLE_VERSION.test(r.version)) bad('version is not a bundle version');
  if (typeof r.sha256 !== 'string' || !SHA256.test(r.sha256)) bad('sha256 is not 64 hex digits');
  if (!Number.isSafeInteger(r.size) || r.size! <= 0) bad('size is not a byte count');
  if (r.size! > maxBundleBytes) bad(`the bundle is ${r.size} bytes, more than deploy.maxBundleBytes (${maxBundleBytes})`);
  if (!Array.isArray(r.chunks) || r.chunks.length !== Math.ceil(r.size! / CHUNK_BYTES) || r.chunks.some((c) => typeof c !== 'string' || !SHA256.test(c))) {
    bad(`chunks must be the SHA-256 of each ${CHUNK_BYTES}-byte piece of the archive`);
  }
  if (!Number.isSafeInteger(r.issuedAt) || r.issuedAt! <= 0) bad('issuedAt is not a time');
  // the key was picked by the first "keyId" in the text, JSON.parse keeps the last: they must be one, or the release names a signer it was not checked against
  if (r.keyId !== key.id) bad(`keyId ${JSON.stringify(r.keyId)} is not the key it was checked with (${key.id})`);
  return r as Release;
}
