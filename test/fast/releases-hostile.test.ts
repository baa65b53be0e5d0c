/**
 * Fast tier: a node agent's releases (src/control/agent/releases.ts) and the
 * chunk fetch (src/control/release/transfer.ts) against hostile peers and
 * holders, on an in-memory stand-in for NATS (no server): questions that are
 * not objects, peers answering sync with garbage or an old release, a holder
 * answering with megabytes, a signed release carrying extra fields, a signed
 * archive that cannot be unpacked here. The real transfer between agents is
 * test/deploy.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Msg, NatsConnection } from 'nats';
import pino from 'pino';
import { Releases } from '../../src/control/agent/releases.js';
import type { Supervisor } from '../../src/control/agent/supervisor.js';
import { packBundle, type ArchiveLimits } from '../../src/control/release/archive.js';
import { keyId, type TrustedKey } from '../../src/control/release/keys.js';
import { chunkHashes, ReleaseRefused, sha256, signRelease, type Release, type SignedRelease } from '../../src/control/release/statement.js';
import { fetchArchive } from '../../src/control/release/transfer.js';
import { DEPLOY_RELEASE_SUBJECT } from '../../src/shared/subjects.js';

const LIMITS: ArchiveLimits = { maxBundleBytes: 1024 * 1024, maxUnpackedBytes: 1024 * 1024, maxFiles: 100 };
const { privateKey } = generateKeyPairSync('ed25519');
const pub = createPublicKey(privateKey);
const TRUSTED: TrustedKey[] = [{ id: keyId(pub), key: pub, file: 'test.pub.pem' }];
const log = pino({ level: 'silent' });
const scratch = mkdtempSync(path.join(os.tmpdir(), 'dips-releases-hostile-'));
let n = 0;

function msgOf(data: string | Uint8Array, respond: (d: Uint8Array | string) => void = () => undefined): Msg {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  return { subject: DEPLOY_RELEASE_SUBJECT, reply: '_INBOX.test', data: bytes, json: () => JSON.parse(Buffer.from(bytes).toString()), respond: (d: Uint8Array | string) => (respond(d), true) } as unknown as Msg;
}

/** A stand-in connection: subscriptions by subject, chunk requests answered by `holder`, sync answered by `peers`. */
function fakeNats(o: { holder?: (subject: string, data: string) => Uint8Array; peers?: () => Uint8Array[] } = {}) {
  const subs = new Map<string, (err: Error | null, msg: Msg) => void>();
  const requests: string[] = [];
  const nc = {
    isClosed: () => false,
    subscribe: (subject: string, opts: { callback: (err: Error | null, msg: Msg) => void }) => {
      subs.set(subject, opts.callback);
      return { unsubscribe: () => subs.delete(subject) };
    },
    request: async (subject: string, data: string) => {
      requests.push(subject);
      if (!o.holder) throw new Error('503 no responders');
      return msgOf(o.holder(subject, data));
    },
    requestMany: async () =>
      (async function* () {
        for (const d of o.peers?.() ?? []) yield msgOf(d);
      })(),
  };
  return { nc: nc as unknown as NatsConnection, subs, requests };
}

async function bundleArchive(version: string): Promise<Buffer> {
  const dir = path.join(scratch, `bundle-${++n}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'dips-bundle.json'), JSON.stringify({ name: 'hello', version, entry: 'index.mjs' }));
  writeFileSync(path.join(dir, 'index.mjs'), 'export default [];');
  return (await packBundle(dir, LIMITS)).archive;
}

function sign(archive: Buffer, version: string, issuedAt: number): { signed: SignedRelease; release: Release } {
  const fields = { name: 'hello', version, sha256: sha256(archive), size: archive.length, chunks: chunkHashes(archive), issuedAt, keyId: TRUSTED[0].id };
  return { signed: signRelease(fields, privateKey), release: { kind: 'dips-release/1', ...fields } };
}

function agent(nc: NatsConnection) {
  const rolled: string[] = [];
  const supervisor = { rollOnto: async (dir: string) => (rolled.push(dir), 1) } as unknown as Supervisor;
  const dir = path.join(scratch, `agent-${++n}`);
  const releases = new Releases({ dir, node: 'n1', trusted: TRUSTED, limits: LIMITS, keep: 3, readyTimeoutMs: 1000, supervisor, log });
  releases.load();
  releases.attach(nc);
  return { releases, rolled, dir };
}

test('a question on dips.deploy.release that is JSON but not an object (null, 5, "x") is dropped, never thrown into the NATS reader', async () => {
  const { nc, subs } = fakeNats();
  agent(nc);
  const callback = subs.get(DEPLOY_RELEASE_SUBJECT)!;
  for (const q of ['null', '5', '"x"', 'true', '[]', '{"sha256":null}', '{"sha256":5}', '{"sha256":{"length":64}}', 'not json', '']) {
    const answers: unknown[] = [];
    // a throw here is what ends the client's reader loop (nats.js calls the callback with no try around it)
    callback(null, msgOf(q, (d) => answers.push(d)));
    assert.ok(answers.length <= 1, q);
  }
});

test('a signed release sent with fields beside it is kept and served on as the statement and signature alone', async () => {
  const archive = await bundleArchive('1.0.0');
  const { signed } = sign(archive, '1.0.0', 1000);
  const { nc, subs } = fakeNats({ holder: (_s, i) => archive.subarray(Number(i) * 256 * 1024, (Number(i) + 1) * 256 * 1024) });
  const a = agent(nc);
  await a.releases.deploy({ ...signed, padding: 'x'.repeat(100_000), statement2: 'evil' });
  assert.equal(JSON.parse(readFileSync(path.join(a.dir, 'current.json'), 'utf8')), signed);
  const answers: string[] = [];
  subs.get(DEPLOY_RELEASE_SUBJECT)!(null, msgOf('{}', (d) => answers.push(Buffer.from(d).toString())));
  assert.equal(answers.map((s) => JSON.parse(s)), [signed]);
});

test('peers answering sync with garbage, altered or older releases change nothing; a replayed older release is refused', async () => {
  const older = await bundleArchive('1.0.0');
  const newer = await bundleArchive('2.0.0');
  const o = sign(older, '1.0.0', 1000);
  const nw = sign(newer, '2.0.0', 2000);
  const holder = (subject: string, i: string) => (subject.endsWith(o.release.sha256) ? older : newer).subarray(Number(i) * 256 * 1024, (Number(i) + 1) * 256 * 1024);
  const tampered = { ...nw.signed, statement: nw.signed.statement.replace('"issuedAt":2000', '"issuedAt":9000') };
  let peers: Uint8Array[] = [];
  const { nc } = fakeNats({ holder, peers: () => peers });
  const a = agent(nc);
  await a.releases.deploy(nw.signed);
  assert.is(a.releases.state().current?.version, '2.0.0');
  peers = ['null', '5', 'garbage', '{"statement":5}', JSON.stringify(tampered), JSON.stringify(o.signed), 'x'.repeat(200_000)].map((s) => Buffer.from(s));
  await a.releases.sync();
  assert.is(a.releases.state().current?.version, '2.0.0');
  try {
    await a.releases.deploy(o.signed);
    assert.unreachable('an older release sent again was adopted');
  } catch (err) {
    assert.instance(err, ReleaseRefused);
    assert.match((err as Error).message, /before the release in force/);
  }
  assert.is(a.rolled.length, 1);
});

test('a signed archive this agent refuses to unpack is remembered as failed: not kept, not fetched again on a peer\'s word', async () => {
  // signed by the operator's key, but holding a path out of the folder (or breaking this agent's own limits)
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
  const { nc, requests } = fakeNats({ holder: () => bad, peers: () => [Buffer.from(JSON.stringify(signed))] });
  const a = agent(nc);
  await a.releases.sync();
  assert.is(a.releases.state().current, null);
  assert.match(a.releases.state().lastError?.error ?? '', /outside the bundle's folder/);
  assert.not.ok(existsSync(path.join(a.dir, 'archives', `${release.sha256}.tar.gz`)), 'the refused archive was kept');
  assert.equal(JSON.parse(readFileSync(path.join(a.dir, 'failed.json'), 'utf8')), [release.sha256]);
  const fetched = requests.length;
  await a.releases.sync();
  await a.releases.sync();
  assert.is(requests.length, fetched, 'fetched again');
  assert.is(a.rolled.length, 0);
});

test('a holder answering a chunk request with megabytes, or a short chunk, is refused by length; the fetch gives up naming it', async () => {
  const archive = await bundleArchive('4.0.0');
  const { release } = sign(archive, '4.0.0', 4000);
  for (const answer of [Buffer.alloc(8 * 1024 * 1024), archive.subarray(0, archive.length - 1)]) {
    const { nc } = fakeNats({ holder: () => answer });
    try {
      await fetchArchive(nc, release);
      assert.unreachable('a wrong-length chunk was taken');
    } catch (err) {
      assert.instance(err, ReleaseRefused);
      assert.match((err as Error).message, new RegExp(`chunk 0 is ${answer.length} bytes, not the ${archive.length}`));
    }
  }
  // and the right bytes are taken
  const { nc } = fakeNats({ holder: () => archive });
  assert.ok((await fetchArchive(nc, release)).equals(archive));
});

test.after(() => rmSync(scratch, { recursive: true, force: true }));

test.run();
