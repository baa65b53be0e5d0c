/**
 * A node agent's deploy handling (src/control/agent/releases.ts,
 * src/control/release/transfer.ts) against hostile peers and holders: a real
 * nats-server cluster, a real agent process with one worker, and the hostile
 * parties as NATS clients of their own, asking and answering on
 * dips.deploy.release and dips.deploy.chunk.<sha256> as any machine on the
 * mesh could. Questions that are not objects, peers answering sync with
 * garbage or an old release, a holder answering with megabytes, a signed
 * release carrying extra fields, a signed archive that cannot be unpacked
 * here. The transfer between two honest agents is test/deploy.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { connect, createInbox, type NatsConnection, type Subscription } from 'nats';
import { broadcast } from '../src/control/broadcast.js';
import { packBundle } from '../src/control/release/archive.js';
import { generateKeys, loadSigningKey } from '../src/control/release/keys.js';
import { chunkHashes, sha256, signRelease, type Release, type SignedRelease } from '../src/control/release/statement.js';
import { serveChunks } from '../src/control/release/transfer.js';
import { loadConfig } from '../src/shared/config.js';
import type { NodeReply } from '../src/shared/control.js';
import { DEPLOY_RELEASE_SUBJECT, deployChunkSubject } from '../src/mesh/subjects.js';
import { runDipsctl, startCluster, startProcess, waitFor, type Cluster, type Proc } from './harness.js';

const NODE = 'n1';
/** Often, so that a case sees many syncs; a sync gathers answers for at most 2 s (SYNC_MAX_MS in releases.ts). */
const SYNC_INTERVAL_MS = 400;
/** Sync questions to wait for before judging what the syncs did: more than 2 s of them, so the first sync a peer answered has gathered and decided. */
const SYNC_ROUNDS = 6;
const LIMITS = loadConfig({ argv: [], env: {} }).deploy;

let cluster: Cluster;
let agent: Proc;
let nc: NatsConnection;
let scratch: string;
let deployDir: string;
let signer: { key: import('node:crypto').KeyObject; id: string };
let bundles = 0;

test.before(async () => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'dips-deploy-hostile-'));
  deployDir = path.join(scratch, 'deploy');
  const keys = generateKeys(path.join(scratch, 'keys'));
  signer = loadSigningKey(keys.privateFile);
  cluster = await startCluster();
  agent = await startProcess('agent', cluster, {
    DIPS_AGENT_NODE: NODE, DIPS_WORKER_PROCESSES: '1', DIPS_AGENT_METRICS_PORT: '0', DIPS_AGENT_MODE: 'dedicated',
    DIPS_DEPLOY_PUBLIC_KEYS: keys.publicFile, DIPS_DEPLOY_DIR: deployDir, DIPS_DEPLOY_SYNC_INTERVAL_MS: String(SYNC_INTERVAL_MS),
  }, '"msg":"agent ready"');
  nc = await connect({ servers: cluster.servers });
});

test.after(async () => {
  await nc?.close();
  await agent?.stop();
  await cluster?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** A bundle of one function at `version`, packed as dipsctl deploy packs it. */
async function bundleArchive(version: string): Promise<Buffer> {
  const dir = mkdtempSync(path.join(scratch, `bundle-${++bundles}-`));
  writeFileSync(path.join(dir, 'dips-bundle.json'), JSON.stringify({ name: 'hello', version, entry: 'index.mjs' }));
  writeFileSync(
    path.join(dir, 'index.mjs'),
    "export default [{ name: 'hostile_probe', description: 'a function for the deploy tests', idempotent: true, input: 'params', run: async () => { throw new Error('not called'); } }];\n",
  );
  return (await packBundle(dir, LIMITS)).archive;
}

function sign(archive: Buffer, version: string, issuedAt: number): { signed: SignedRelease; release: Release } {
  const fields = { name: 'hello', version, sha256: sha256(archive), size: archive.length, chunks: chunkHashes(archive), issuedAt, keyId: signer.id };
  return { signed: signRelease(fields, signer.key), release: { kind: 'dips-release/1', ...fields } };
}

async function status(): Promise<NodeReply> {
  const { replies } = await broadcast(nc, 'status', {}, 1500);
  assert.is(replies.length, 1, JSON.stringify(replies));
  assert.is(replies[0].node, NODE);
  return replies[0];
}

/** The operator's deploy of `release`, as dipsctl sends it; the agent's answer. */
async function deploy(release: SignedRelease): Promise<NodeReply> {
  const { replies, missing } = await broadcast(nc, 'deploy', { release }, 1500);
  assert.equal(missing, []);
  assert.is(replies.length, 1, JSON.stringify(replies));
  return replies[0];
}

/** The agent's answer to a question on dips.deploy.release, as text (empty: no release in force). */
async function ask(question: string): Promise<string> {
  return new TextDecoder().decode((await nc.request(DEPLOY_RELEASE_SUBJECT, question, { timeout: 5000 })).data);
}

/** Every chunk request on the mesh, whoever answers it. */
function chunkRequests(): { subjects: string[]; sub: Subscription } {
  const subjects: string[] = [];
  const sub = nc.subscribe(`${deployChunkSubject('')}>`, { callback: (_e, m) => subjects.push(m.subject) });
  return { subjects, sub };
}

/** Hostile peers: each answers every sync question (an empty question, as the agent asks) with its `answers`; counts the questions. */
function peers(answers: Array<string | Uint8Array>): { questions: () => number; close: () => void } {
  let questions = 0;
  const subs = answers.map((answer, i) =>
    nc.subscribe(DEPLOY_RELEASE_SUBJECT, {
      callback: (_e, m) => {
        if (m.data.length || !m.reply) return;
        if (i === 0) questions++;
        m.respond(answer);
      },
    }),
  );
  return { questions: () => questions, close: () => subs.forEach((s) => s.unsubscribe()) };
}

/** Wait until the agent has asked its peers `rounds` more times. */
async function syncRounds(p: { questions: () => number }, rounds = SYNC_ROUNDS): Promise<void> {
  const from = p.questions();
  await waitFor(() => p.questions() >= from + rounds, 30_000, `${rounds} more sync questions from the agent`);
}

const workerPids = (r: NodeReply) => r.workers.map((w) => w.pid).sort();

test('questions on dips.deploy.release that are JSON but not objects, or not JSON, never deafen the agent', async () => {
  const inbox = createInbox();
  const heard = new Map<string, number>();
  const sub = nc.subscribe(`${inbox}.>`, { callback: (_e, m) => heard.set(m.subject, (heard.get(m.subject) ?? 0) + 1) });
  const questions = ['null', '5', '"x"', 'true', '[]', '{"sha256":null}', '{"sha256":5}', '{"sha256":{"length":64}}', 'not json', ''];
  try {
    // a throw on one of these would end the agent's NATS reader (nats.js calls a subscription's callback with no try around it)
    questions.forEach((q, i) => nc.publish(DEPLOY_RELEASE_SUBJECT, q, { reply: `${inbox}.${i}` }));
    // asked after them on this connection, so answered after them: by now every answer to them has arrived
    assert.is(await ask('{}'), '', 'no release in force yet: an empty answer');
    questions.forEach((q, i) => assert.ok((heard.get(`${inbox}.${i}`) ?? 0) <= 1, `${JSON.stringify(q)} answered ${heard.get(`${inbox}.${i}`)} times`));
  } finally {
    sub.unsubscribe();
  }
  // and it still obeys the operator
  const r = await status();
  assert.is(r.error, undefined);
  assert.is(r.release?.current, null);
  assert.is(r.workers.length, 1);
});

let v1: { signed: SignedRelease; release: Release; archive: Buffer };

test('a signed release sent with fields beside it is adopted and served on as the statement and signature alone', async () => {
  const archive = await bundleArchive('1.0.0');
  v1 = { ...sign(archive, '1.0.0', 1000), archive };
  const holder = serveChunks(nc, v1.release.sha256, archive);
  try {
    const r = await deploy({ ...v1.signed, padding: 'x'.repeat(100_000), statement2: 'evil' } as SignedRelease);
    assert.is(r.error, undefined, r.error);
    assert.match(r.done ?? '', /^now on hello@1\.0\.0 .*: 1 workers rolled/);
  } finally {
    holder.unsubscribe();
  }
  assert.equal(JSON.parse(readFileSync(path.join(deployDir, 'current.json'), 'utf8')), v1.signed);
  assert.equal(JSON.parse(readFileSync(path.join(deployDir, 'releases', `${v1.release.sha256}.json`), 'utf8')).signed, v1.signed);
  // exactly the signed pair, nothing a sender put beside it
  assert.is(await ask('{}'), JSON.stringify(v1.signed));
  assert.is(await ask(JSON.stringify({ sha256: v1.release.sha256 })), JSON.stringify(v1.signed));
  const s = await status();
  assert.is(s.release?.current?.version, '1.0.0');
  assert.ok(s.workers.every((w) => w.bundle === 'hello@1.0.0'), JSON.stringify(s.workers));
});

let v2: { signed: SignedRelease; release: Release };

test('peers answering sync with garbage, an altered or an older release change nothing; an older release sent again is refused', async () => {
  const newer = await bundleArchive('2.0.0');
  v2 = sign(newer, '2.0.0', 2000);
  const holder = serveChunks(nc, v2.release.sha256, newer);
  try {
    const r = await deploy(v2.signed);
    assert.is(r.error, undefined, r.error);
  } finally {
    holder.unsubscribe();
  }
  const before = await status();
  assert.is(before.release?.current?.version, '2.0.0');

  // an older release never adopted here, valid and signed, its archive served by its hostile holder
  const olderArchive = await bundleArchive('1.5.0');
  const older = sign(olderArchive, '1.5.0', 1500);
  const olderHolder = serveChunks(nc, older.release.sha256, olderArchive);
  const tampered = { ...v2.signed, statement: v2.signed.statement.replace('"issuedAt":2000', '"issuedAt":9000') };
  assert.is.not(tampered.statement, v2.signed.statement);
  const chunks = chunkRequests();
  const hostile = peers(['null', '5', 'garbage', '{"statement":5}', JSON.stringify(tampered), JSON.stringify(older.signed), JSON.stringify(v1.signed), 'x'.repeat(200_000)]);
  try {
    await syncRounds(hostile);
    const after = await status();
    assert.is(after.release?.current?.version, '2.0.0');
    assert.is(after.release?.lastError, undefined, JSON.stringify(after.release?.lastError));
    assert.equal(workerPids(after), workerPids(before), 'workers were rolled');
    assert.equal(chunks.subjects, [], 'an archive was fetched on a hostile peer\'s word');
  } finally {
    hostile.close();
    chunks.sub.unsubscribe();
  }
  try {
    for (const old of [older, v1]) {
      const r = await deploy(old.signed);
      assert.match(r.error ?? '', new RegExp(`^hello@${old.release.version.replace(/\./g, '\\.')} .* was signed .*, before the release in force here \\(hello@2\\.0\\.0 .*\\): an old release sent again is not a deploy`));
    }
  } finally {
    olderHolder.unsubscribe();
  }
  const last = await status();
  assert.is(last.release?.current?.version, '2.0.0');
  assert.equal(workerPids(last), workerPids(before), 'workers were rolled');
});

test('a signed archive the agent refuses to unpack, offered by a peer, is remembered as failed: not kept, not fetched again', async () => {
  // signed by the operator's key, but holding a path out of the folder
  const header = Buffer.alloc(512);
  header.write('../escape', 0);
  header.write('0000644\0', 100);
  header.write('00000000001\0', 124);
  header.write('0', 156);
  header.write('ustar\0' + '00', 257, 'latin1');
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  const bad = gzipSync(Buffer.concat([header, Buffer.alloc(512, 'x'), Buffer.alloc(1024)]));
  const { signed, release } = sign(bad, '3.0.0', 3000);
  const before = await status();
  let fetched = 0;
  const holder = nc.subscribe(deployChunkSubject(release.sha256), {
    callback: (_e, m) => {
      fetched++;
      m.respond(bad);
    },
  });
  const hostile = peers([JSON.stringify(signed)]);
  try {
    await waitFor(async () => (await status()).release?.lastError?.release.version === '3.0.0', 30_000, 'the agent to try hello@3.0.0');
    // what the operator sees
    const run = await runDipsctl<{ replies: NodeReply[] }>(cluster, '--json', 'status');
    assert.is(run.code, 0, run.err);
    const reply = run.json?.replies.find((r) => r.node === NODE);
    assert.is(reply?.release?.current?.version, '2.0.0');
    assert.equal(reply?.release?.lastError?.release, { name: 'hello', version: '3.0.0', sha256: release.sha256, issuedAt: 3000 });
    assert.match(reply?.release?.lastError?.error ?? '', /"\.\.\/escape" would be written outside the bundle's folder/);
    assert.not.ok(existsSync(path.join(deployDir, 'archives', `${release.sha256}.tar.gz`)), 'the refused archive was kept');
    assert.equal(readdirSync(path.join(deployDir, 'versions')).filter((d) => d.includes(release.sha256.slice(0, 12))), [], 'a folder of the refused release was kept');
    assert.equal(JSON.parse(readFileSync(path.join(deployDir, 'failed.json'), 'utf8')), [release.sha256]);
    assert.ok(fetched >= 1);
    const fetchedThen = fetched;
    // the peer keeps offering it
    await syncRounds(hostile);
    assert.is(fetched, fetchedThen, 'fetched again');
    const after = await status();
    assert.is(after.release?.current?.version, '2.0.0');
    assert.is(after.release?.lastError?.release.version, '3.0.0');
    assert.equal(workerPids(after), workerPids(before), 'workers were rolled');
  } finally {
    hostile.close();
    holder.unsubscribe();
  }
});

test('a holder answering a chunk request with megabytes, or a short chunk, is refused by length; the deploy names it, then takes the right bytes', async () => {
  const archive = await bundleArchive('4.0.0');
  const { signed, release } = sign(archive, '4.0.0', 4000);
  for (const answer of [Buffer.alloc(8 * 1024 * 1024), archive.subarray(0, archive.length - 1)]) {
    const holder = nc.subscribe(deployChunkSubject(release.sha256), { callback: (_e, m) => m.respond(answer) });
    try {
      const r = await deploy(signed);
      assert.match(r.error ?? '', new RegExp(`^could not fetch hello@4\\.0\\.0 from any holder: chunk 0 of 1: chunk 0 is ${answer.length} bytes, not the ${archive.length} the signed release says$`));
      assert.is(r.release?.current?.version, '2.0.0');
      assert.not.ok(existsSync(path.join(deployDir, 'archives', `${release.sha256}.tar.gz`)), 'a wrong-length chunk was kept');
    } finally {
      holder.unsubscribe();
    }
  }
  // and the right bytes are taken
  const holder = nc.subscribe(deployChunkSubject(release.sha256), { callback: (_e, m) => m.respond(archive) });
  try {
    const r = await deploy(signed);
    assert.is(r.error, undefined, r.error);
    assert.match(r.done ?? '', /^now on hello@4\.0\.0 /);
    assert.is(r.release?.current?.version, '4.0.0');
  } finally {
    holder.unsubscribe();
  }
  assert.ok(readFileSync(path.join(deployDir, 'archives', `${release.sha256}.tar.gz`)).equals(archive));
});

test.run();
