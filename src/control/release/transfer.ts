/**
 * Moving an archive over the mesh in chunks. Whoever holds a release's archive
 * (dipsctl while it deploys, every agent that has it) answers requests for its
 * chunks on `dips.deploy.chunk.<sha256>`, in one queue group so one holder
 * answers each; an agent fetches the chunks a few at a time and checks each
 * against the signed release before keeping it.
 *
 * Why core NATS requests and not JetStream's object store: DIPS runs two NATS
 * nodes, and JetStream's replicated storage needs a majority of three to
 * accept a write, so on two nodes a store would be either unreplicated (gone
 * with its node) or stalled by either node's loss, the very fault the mesh
 * must ride out. Plain requests work through whichever node is up, and every
 * agent that took a release serves it on, so a late agent can fetch it from a
 * peer long after dipsctl has exited.
 */
import type { NatsConnection, Subscription } from 'nats';
import { repliesToInbox } from '../../mesh/replies.js';
import { deployChunkSubject } from '../../mesh/subjects.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { CHUNK_BYTES, ReleaseRefused, sha256, type Release } from './statement.js';

const HOLDERS = 'dips-deploy-holders';
const CHUNK_TIMEOUT_MS = 5000;
/** Chunks in flight at once per fetch: enough to fill a link, few enough not to flood a holder. */
const PARALLEL = 4;
/** Tries per chunk before the fetch gives up (each may reach another holder). */
const TRIES = 6;

/** Answer requests for the chunks of `archive` (whose SHA-256 is `sha`) until unsubscribed. */
export function serveChunks(nc: NatsConnection, sha: string, archive: Buffer, log?: Logger): Subscription {
  const count = Math.ceil(archive.length / CHUNK_BYTES);
  return nc.subscribe(deployChunkSubject(sha), {
    queue: HOLDERS,
    callback: (err, msg) => {
      // only to a requester's inbox: a chunk reflected onto another subject would be a message nobody asked for
      if (err || !repliesToInbox(msg, log)) return;
      const index = Number(new TextDecoder().decode(msg.data));
      if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
        msg.respond(new Uint8Array(0));
        return;
      }
      msg.respond(archive.subarray(index * CHUNK_BYTES, (index + 1) * CHUNK_BYTES));
    },
  });
}

/** Fetch the whole archive of `release` from its holders, every chunk checked; a ReleaseRefused when it cannot be had. */
export async function fetchArchive(nc: NatsConnection, release: Release, signal?: AbortSignal): Promise<Buffer> {
  const parts: Buffer[] = new Array(release.chunks.length);
  let next = 0;
  const one = async (index: number): Promise<void> => {
    let lastProblem = '';
    for (let attempt = 1; attempt <= TRIES; attempt++) {
      if (signal?.aborted) throw new ReleaseRefused('fetch cancelled');
      try {
        const msg = await nc.request(deployChunkSubject(release.sha256), String(index), { timeout: CHUNK_TIMEOUT_MS });
        // a chunk's length is known from the signed size: anything else (a holder answering megabytes) is refused unhashed and uncopied
        if (msg.data.length !== chunkLength(release, index)) {
          lastProblem = `chunk ${index} is ${msg.data.length} bytes, not the ${chunkLength(release, index)} the signed release says`;
          await new Promise((r) => setTimeout(r, 100 * attempt));
          continue;
        }
        const data = Buffer.from(msg.data);
        if (sha256(data) === release.chunks[index]) {
          parts[index] = data;
          return;
        }
        // a holder with a damaged copy, or a hostile one: try again, another holder may answer
        lastProblem = `chunk ${index} does not match the signed release (${data.length} bytes)`;
      } catch (err) {
        lastProblem = errorMessage(err);
      }
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
    throw new ReleaseRefused(`could not fetch ${release.name}@${release.version} from any holder: chunk ${index} of ${release.chunks.length}: ${lastProblem}`);
  };
  const lane = async () => {
    while (next < release.chunks.length) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, release.chunks.length) }, lane));
  const archive = Buffer.concat(parts);
  if (archive.length !== release.size || sha256(archive) !== release.sha256) {
    throw new ReleaseRefused(`the fetched archive of ${release.name}@${release.version} does not match its signed SHA-256`);
  }
  return archive;
}

function chunkLength(release: Release, index: number): number {
  return Math.min(CHUNK_BYTES, release.size - index * CHUNK_BYTES);
}
