/**
 * One convict schema for every DIPS process (worker, gateway, mesh launcher,
 * controller, client CLI). Load order: schema defaults → config/default.json →
 * the file named by --config or DIPS_CONFIG → DIPS_* environment variables.
 * Convict applies environment overrides on top of files whatever the load
 * order, so an operator's env var always wins.
 */
import convict from 'convict';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { CLIENT_DEFAULTS, natsServersProblem } from './client-config.js';
import { isValidFunctionName } from '../mesh/subjects.js';

export { maxWaitingBytes } from './client-config.js';

/** Repository root (dist/src/shared → ../../..; src/shared → ../..). */
export const projectRoot = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the DIPS project root (no package.json above this module)');
    dir = parent;
  }
  return dir;
})();

convict.addFormat({
  name: 'nats-url-list',
  validate(value: unknown) {
    const problem = natsServersProblem(value);
    if (problem) throw new Error(problem);
  },
  coerce: (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean),
});

convict.addFormat({
  name: 'function-list',
  validate(value: unknown) {
    if (!Array.isArray(value)) throw new Error('must be a comma-separated list of function names');
    for (const name of value) {
      if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
        throw new Error(`must be function names of letters, digits, '_' or '-', got ${JSON.stringify(name)}`);
      }
    }
  },
  coerce: (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean),
});

/** A fraction from 0 to 1. */
convict.addFormat({
  name: 'ratio',
  validate(value: unknown) {
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new Error('must be a number from 0 to 1');
  },
  coerce: (value: string) => (/^\s*\d*\.?\d+\s*$/.test(value) ? Number(value) : value),
});

/** Gearman function names (any bytes but NUL, up to 512), or `*`; env: comma-separated. */
convict.addFormat({
  name: 'gearman-function-list',
  validate(value: unknown) {
    if (!Array.isArray(value)) throw new Error('must be a comma-separated list of function names, or *');
    for (const name of value) {
      if (typeof name !== 'string' || !isValidFunctionName(name)) throw new Error(`must be Gearman function names (1-512 bytes, no NUL) or *, got ${JSON.stringify(name)}`);
    }
  },
  coerce: (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean),
});

/** `name=value,name=value` or a JSON object (env), a JSON object of strings (files). */
convict.addFormat({
  name: 'string-map',
  validate(value: unknown) {
    if (typeof value === 'string') throw new Error(stringMapProblem(value));
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('must be a map of names to strings (env: name=value,name=value)');
    for (const [k, v] of Object.entries(value)) {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(k)) throw new Error(`names must be letters, digits, '_' or '-', got ${JSON.stringify(k)}`);
      if (typeof v !== 'string' || !v) throw new Error(`${k} must be a non-empty string`);
    }
  },
  coerce: coerceStringMap,
});

/**
 * An env var's map, or the text itself when it is not one (bad JSON, a pair
 * without `=`, a name convict would read as a path): validate() then refuses
 * it naming the key. Throwing here would escape convict without the key.
 */
function coerceStringMap(value: string): unknown {
  let entries: Array<[string, unknown]>;
  if (value.trim().startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return value;
      entries = Object.entries(parsed);
    } catch {
      return value;
    }
  } else {
    const pairs = value.split(',').map((s) => s.trim()).filter(Boolean);
    if (pairs.some((pair) => !pair.includes('='))) return value;
    entries = pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]);
  }
  return entries.every(([k]) => /^[A-Za-z0-9_-]{1,64}$/.test(k)) ? Object.fromEntries(entries) : value;
}

/** Why an env var's text is not a map (coerceStringMap gave it back as it was). */
function stringMapProblem(value: string): string {
  const shown = JSON.stringify(value.slice(0, 80));
  if (value.trim().startsWith('{')) {
    try {
      JSON.parse(value);
    } catch {
      return `must be a JSON object of names to strings, got invalid JSON ${shown}`;
    }
  } else if (value.split(',').some((pair) => pair.trim() && !pair.includes('='))) {
    return `must be name=value,name=value, got ${shown}`;
  }
  return `names must be letters, digits, '_' or '-', got ${shown}`;
}

/** convict's nat reads "80abc" as 80 (parseInt): a whole number here is all digits, or the value is refused naming its key. */
convict.addFormat({
  name: 'nat',
  validate(value: unknown) {
    if (!Number.isSafeInteger(value) || (value as number) < 0) throw new Error('must be a whole number, 0 or more');
  },
  coerce: (value: string) => (/^\s*\d+\s*$/.test(String(value)) ? Number(value) : value),
});

convict.addFormat({
  name: 'string-list',
  validate(value: unknown) {
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new Error('must be a comma-separated list');
  },
  coerce: (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean),
});

convict.addFormat({
  name: 'hex',
  validate(value: unknown) {
    if (typeof value !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(value)) throw new Error('must be hex digits (an even number of them), as imgproxy\'s IMGPROXY_KEY');
  },
});

/** A whole number above 0: a count or a time that must exist (0 would mean "never" or "forever"). */
convict.addFormat({
  name: 'positive-int',
  validate(value: unknown) {
    if (!Number.isSafeInteger(value) || (value as number) < 1) throw new Error('must be a whole number above 0');
  },
  coerce: (value: string) => Number(value),
});

const MiB = 1024 * 1024;

export const schema = {
  nats: {
    servers: {
      doc: 'NATS servers to connect to (both cluster nodes; either may be down at start).',
      format: 'nats-url-list',
      default: CLIENT_DEFAULTS.nats.servers,
      env: 'DIPS_NATS_SERVERS',
    },
    preferFirst: {
      doc: 'Connect to the first server of nats.servers while it is up (the rest are for failover) instead of a random one. With the same order everywhere, callers and workers share a node and no message crosses the cluster route (a round trip through two nodes costs about twice the nats-server CPU); false spreads connections over both nodes.',
      format: Boolean, default: CLIENT_DEFAULTS.nats.preferFirst, env: 'DIPS_NATS_PREFER_FIRST',
    },
    user: { doc: 'NATS user name (empty: none).', format: String, default: CLIENT_DEFAULTS.nats.user, env: 'DIPS_NATS_USER' },
    pass: { doc: 'NATS password (never logged).', format: String, default: CLIENT_DEFAULTS.nats.pass, env: 'DIPS_NATS_PASS', sensitive: true },
    token: { doc: 'NATS auth token (never logged).', format: String, default: CLIENT_DEFAULTS.nats.token, env: 'DIPS_NATS_TOKEN', sensitive: true },
    passFile: { doc: 'File holding the NATS password (read at start; used when nats.pass is empty).', format: String, default: CLIENT_DEFAULTS.nats.passFile, env: 'DIPS_NATS_PASS_FILE' },
    inboxPrefix: {
      doc: 'Prefix of this process\'s reply subjects (_INBOX: _INBOX.<nats.user> when a user is set, the only prefix the secure NATS config lets that identity read).',
      format: String, default: CLIENT_DEFAULTS.nats.inboxPrefix, env: 'DIPS_NATS_INBOX_PREFIX',
    },
    tls: {
      ca: { doc: 'CA certificate file for TLS to NATS (empty: no TLS).', format: String, default: CLIENT_DEFAULTS.nats.tls.ca, env: 'DIPS_NATS_TLS_CA' },
      cert: { doc: 'Client certificate file for TLS to NATS (empty: none).', format: String, default: CLIENT_DEFAULTS.nats.tls.cert, env: 'DIPS_NATS_TLS_CERT' },
      key: { doc: 'Client key file for TLS to NATS (empty: none).', format: String, default: CLIENT_DEFAULTS.nats.tls.key, env: 'DIPS_NATS_TLS_KEY' },
    },
    pingIntervalMs: {
      doc: 'How often a DIPS process pings its NATS node; after two pings without an answer it leaves that node for the other one, and a connection attempt gives up after two intervals. A node whose machine vanished (power, cable) sends no reset: this is how fast every process notices.',
      format: 'nat', default: CLIENT_DEFAULTS.nats.pingIntervalMs, env: 'DIPS_NATS_PING_INTERVAL_MS',
    },
    requestTimeoutMs: {
      doc: 'How long a caller waits for a function reply, in milliseconds.',
      format: 'nat', default: CLIENT_DEFAULTS.nats.requestTimeoutMs, env: 'DIPS_NATS_REQUEST_TIMEOUT_MS',
    },
    maxPayloadBytes: {
      doc: 'Largest message body, in bytes. Must not exceed max_payload in config/nats-common.conf (16 MiB); the smaller of this and the server\'s limit is used.',
      format: 'nat', default: CLIENT_DEFAULTS.nats.maxPayloadBytes, env: 'DIPS_NATS_MAX_PAYLOAD_BYTES',
    },
    name: { doc: 'Connection name shown by the NATS monitoring endpoints (empty: process role and pid).', format: String, default: CLIENT_DEFAULTS.nats.name, env: 'DIPS_NATS_NAME' },
  },
  worker: {
    functions: {
      doc: 'Functions this worker process serves (empty: every function it knows, the built-in ones and its bundle\'s).',
      format: 'function-list', default: [] as string[], env: 'DIPS_WORKER_FUNCTIONS',
    },
    bundleDir: {
      doc: 'Folder of a bundle of the operator\'s own functions (a dips-bundle.json and its compiled JavaScript: docs/functions.md) that workers serve beside the built-in ones; a bad bundle stops the worker with exit code 78 (empty: none).',
      format: String, default: '', env: 'DIPS_WORKER_BUNDLE_DIR',
    },
    concurrency: {
      doc: 'Jobs a worker process runs at once (its slots; 0: one per CPU, at least 2); a job that finds every slot taken waits at its caller until room frees.',
      format: 'nat', default: 0, env: 'DIPS_WORKER_CONCURRENCY',
    },
    maxQueued: {
      doc: 'Most jobs a worker process takes beyond its slots, waiting inside it (within worker.prefetchMs); others wait at their caller, in priority order.',
      format: 'nat', default: 64, env: 'DIPS_WORKER_MAX_QUEUED',
    },
    prefetchMs: {
      doc: 'Longest a job may be kept waiting inside a worker, by the typical run time of the jobs before it (about one NATS round trip: the cost of handing a freed slot its next job). Jobs of unknown or longer run time never wait inside a worker. 0: none do.',
      format: 'nat', default: 2, env: 'DIPS_WORKER_PREFETCH_MS',
    },
    maxWaitingBytes: {
      doc: 'Bytes of plain NATS requests (callers that did not send Dips-Accept: no-room) one worker process holds waiting for a slot, in priority order, each counted as its payload plus 4 KiB; past it such a request is answered 503 naming this key.',
      format: 'nat', default: 64 * MiB, env: 'DIPS_WORKER_MAX_WAITING_BYTES',
    },
    defaultDeadlineMs: {
      doc: 'Deadline of a request that carries no Dips-Deadline header (a plain NATS caller\'s), from its arrival at a worker: past it the job is not started, and the caller gets 408 naming this key.',
      format: 'nat', default: 10000, env: 'DIPS_WORKER_DEFAULT_DEADLINE_MS',
    },
    processes: {
      doc: 'Worker processes a node agent (and `npm start`) runs (0: one per CPU).',
      format: 'nat', default: 0, env: 'DIPS_WORKER_PROCESSES',
    },
    metricsPort: {
      doc: 'Port a worker serves Prometheus metrics on (0: none; under an agent, the agent serves them).',
      format: 'port', default: 0, env: 'DIPS_WORKER_METRICS_PORT',
    },
    latencyWindowSec: {
      doc: 'The p50 and p99 latencies a worker reports (dipsctl status, the dashboard) are over the jobs that ended in the last this many seconds (at most 2048 per function); a function with no job in that time shows none.',
      format: 'positive-int', default: 60, env: 'DIPS_WORKER_LATENCY_WINDOW_SEC',
    },
  },
  agent: {
    node: { doc: 'Name of this node in control messages and status (empty: the host name).', format: String, default: '', env: 'DIPS_AGENT_NODE' },
    mode: {
      doc: 'guest: the workers use only CPU the host does not need — lowest scheduling priority (SCHED_IDLE, nice 19, idle I/O class) and fewer or no jobs while the host\'s own processes keep its CPUs busy (agent.guestHostCpuMax); the seed\'s use, DIPS on servers of other kinds. dedicated: a machine for DIPS alone, workers at normal priority (npm start, which runs the whole mesh on one machine, uses it).',
      format: ['guest', 'dedicated'] as const, default: 'guest', env: 'DIPS_AGENT_MODE',
    },
    guestHostCpuMax: {
      doc: 'In guest mode, the share of all CPUs (0-1) the host\'s own processes (everything but this node\'s workers) may use before the workers take no new job; below it they take jobs in proportion to the CPU left.',
      format: 'ratio', default: 0.8, env: 'DIPS_AGENT_GUEST_HOST_CPU_MAX',
    },
    metricsPort: { doc: 'Port the node agent serves Prometheus metrics on, its workers\' included (0: none).', format: 'port', default: 9464, env: 'DIPS_AGENT_METRICS_PORT' },
    restartMinMs: { doc: 'First delay before restarting a crashed worker; doubles per crash in a row.', format: 'nat', default: 500, env: 'DIPS_AGENT_RESTART_MIN_MS' },
    restartMaxMs: { doc: 'Longest delay before restarting a crashed worker.', format: 'nat', default: 30000, env: 'DIPS_AGENT_RESTART_MAX_MS' },
    workerUser: { doc: 'NATS user the agent gives its workers (empty: the agent\'s own identity).', format: String, default: '', env: 'DIPS_AGENT_WORKER_USER' },
    workerPass: { doc: 'NATS password the agent gives its workers (never logged).', format: String, default: '', env: 'DIPS_AGENT_WORKER_PASS', sensitive: true },
  },
  deploy: {
    dir: {
      doc: 'Directory where a node agent keeps the releases deployed to it (dipsctl deploy), versions side by side, and which one is in force (empty: run/agent-<node>/releases in the project).',
      format: String, default: '', env: 'DIPS_DEPLOY_DIR',
    },
    publicKeys: {
      doc: 'Ed25519 public keys (PEM files, from dipsctl keygen) whose signed releases a node agent accepts; a release signed by any other key, or by none, is refused (empty: the agent accepts no deploy).',
      format: 'string-list', default: [] as string[], env: 'DIPS_DEPLOY_PUBLIC_KEYS',
    },
    signingKey: { doc: 'The operator\'s Ed25519 private key (a PEM file, from dipsctl keygen) that dipsctl deploy and rollback sign releases with.', format: String, default: '', env: 'DIPS_DEPLOY_SIGNING_KEY' },
    maxBundleBytes: { doc: 'Largest packed (gzipped) bundle dipsctl sends and an agent accepts, in bytes.', format: 'nat', default: 32 * MiB, env: 'DIPS_DEPLOY_MAX_BUNDLE_BYTES' },
    maxUnpackedBytes: { doc: 'Largest a bundle may be once unpacked, in bytes (a small archive may unpack to a great deal).', format: 'nat', default: 128 * MiB, env: 'DIPS_DEPLOY_MAX_UNPACKED_BYTES' },
    maxFiles: { doc: 'Most files a bundle may hold.', format: 'nat', default: 10000, env: 'DIPS_DEPLOY_MAX_FILES' },
    keepReleases: { doc: 'Releases a node agent keeps on disk (the one in force included): what dipsctl rollback can return to without a transfer.', format: 'nat', default: 5, env: 'DIPS_DEPLOY_KEEP_RELEASES' },
    readyTimeoutMs: { doc: 'How long a worker on a new release may take to become ready before the node rolls back to the release it ran, in milliseconds.', format: 'nat', default: 30000, env: 'DIPS_DEPLOY_READY_TIMEOUT_MS' },
    syncIntervalMs: { doc: 'How often a node agent asks the others which release they run, to catch up with a deploy it missed, in milliseconds (also at start and on every reconnect).', format: 'nat', default: 30000, env: 'DIPS_DEPLOY_SYNC_INTERVAL_MS' },
  },
  control: {
    timeoutMs: { doc: 'How long dipsctl gathers answers from agents, in milliseconds.', format: 'nat', default: 1500, env: 'DIPS_CONTROL_TIMEOUT_MS' },
  },
  gateway: {
    host: { doc: 'Address the Gearman gateway listens on.', format: String, default: '127.0.0.1', env: 'DIPS_GATEWAY_HOST' },
    port: { doc: 'Port of the Gearman gateway.', format: 'port', default: 4730, env: 'DIPS_GATEWAY_PORT' },
    secondPort: { doc: 'Port of the second gateway that `npm start` runs for redundancy (0: none).', format: 'port', default: 4731, env: 'DIPS_GATEWAY_SECOND_PORT' },
    maxPacketBytes: {
      doc: 'Largest Gearman packet accepted; never more than the NATS payload limit.',
      format: 'nat', default: 16 * MiB, env: 'DIPS_GATEWAY_MAX_PACKET_BYTES',
    },
    maxConnections: { doc: 'Client connections a gateway accepts at once.', format: 'nat', default: 10000, env: 'DIPS_GATEWAY_MAX_CONNECTIONS' },
    idleTimeoutMs: {
      doc: 'A connection with no traffic and no job for this long is closed (0: never, as gearmand; TCP keepalive finds dead peers).',
      format: 'nat', default: 0, env: 'DIPS_GATEWAY_IDLE_TIMEOUT_MS',
    },
    handleHost: {
      doc: 'Host part of the job handles this gateway hands out, H:<host>:<number> as gearmand\'s (empty: this machine\'s name); cut so that a handle never passes libgearman\'s 63 bytes. Numbers start past port × 10^9, so gateways on one host never share a handle.',
      format: String, default: '', env: 'DIPS_GATEWAY_HANDLE_HOST',
    },
    dataDir: {
      doc: 'Directory where the gateway stores background and epoch jobs until they finish (empty: run/gateway-<port> in the project).',
      format: String, default: '', env: 'DIPS_GATEWAY_DATA_DIR',
    },
    retries: { doc: 'Times a job lost with a NATS node (no reply) is sent again before it fails.', format: 'nat', default: CLIENT_DEFAULTS.gateway.retries, env: 'DIPS_GATEWAY_RETRIES' },
    backgroundAttempts: {
      doc: 'Attempts a background job gets (a worker\'s failure, exception or queue.backgroundRunTimeoutMs each end one; a gateway\'s death counts the one it cut off); after the last, or at once for a failure of the job itself (400, 403, 404, 413, 422), it moves to the dead letters: `dipsctl dead-letter list|retry|drop`.',
      format: 'positive-int', default: 3, env: 'DIPS_GATEWAY_BACKGROUND_ATTEMPTS',
    },
    metricsPort: { doc: 'Port the gateway serves Prometheus metrics on (0: none).', format: 'port', default: 0, env: 'DIPS_GATEWAY_METRICS_PORT' },
    maxSegmentBytes: {
      doc: 'TCP segment size (MSS) the gateway advertises to clients (0: the kernel\'s). libgearman clients shrink their socket buffers to 32 KiB, and on loopback, with 64 KiB segments, each large job then stalls 40 ms per 64 KiB on delayed ACKs; 16 KiB keeps several segments in flight. No effect on Ethernet, whose segments are smaller.',
      format: 'nat', default: 16384, env: 'DIPS_GATEWAY_MAX_SEGMENT_BYTES',
    },
    legacyFunctions: {
      doc: 'Functions Gearman workers connected to this gateway may serve (CAN_DO); `*` stands for every name but DIPS\'s own functions (ecard, echo, the image functions), which a Gearman worker may serve only when named here.',
      format: 'gearman-function-list', default: ['*'], env: 'DIPS_GATEWAY_LEGACY_FUNCTIONS',
    },
    maxAbilities: { doc: 'Functions one Gearman worker connection may register (CAN_DO).', format: 'nat', default: 256, env: 'DIPS_GATEWAY_MAX_ABILITIES' },
    idempotentFunctions: {
      doc: 'Functions served by Gearman workers that may run twice: sent again when a request may have been lost with a NATS node, and run again (up to 3 times) when the Gearman worker holding a job disconnects. Any other is sent once, and its caller told if it was lost or its worker went.',
      format: 'gearman-function-list', default: [] as string[], env: 'DIPS_GATEWAY_IDEMPOTENT_FUNCTIONS',
    },
    remoteAdmin: {
      doc: 'Take the admin commands that change state (maxqueue, cancel job) from any address, not only loopback: only where the network reaching the Gearman port is the operator\'s own.',
      format: Boolean, default: false, env: 'DIPS_GATEWAY_REMOTE_ADMIN',
    },
    maxConnectionBytes: {
      doc: 'Bytes one client connection may hold in the gateway (its jobs\' payloads in flight and answers not yet read); past it the gateway stops reading that connection until it reads its answers.',
      format: 'nat', default: 64 * MiB, env: 'DIPS_GATEWAY_MAX_CONNECTION_BYTES',
    },
    maxUnreadBytes: {
      doc: 'Answers written to clients and not yet read by them, over all connections; past it the gateway closes the connection holding the most (a client that does not read), logged at warn.',
      format: 'nat', default: 256 * MiB, env: 'DIPS_GATEWAY_MAX_UNREAD_BYTES',
    },
  },
  http: {
    host: { doc: 'Address the HTTP gateway (dips-http) listens on.', format: String, default: '127.0.0.1', env: 'DIPS_HTTP_HOST' },
    port: { doc: 'Port of the HTTP gateway (`npm start` takes a free one, and prints it, if this one is taken).', format: 'port', default: 8080, env: 'DIPS_HTTP_PORT' },
    publicUrl: { doc: 'Base URL browsers reach the HTTP gateway at, used by `dips url` (empty: http://<host>:<port>).', format: String, default: '', env: 'DIPS_HTTP_PUBLIC_URL' },
    key: { doc: 'HMAC key for signed URLs, hex (imgproxy\'s IMGPROXY_KEY); empty: URLs cannot be signed (never logged).', format: 'hex', default: '', env: 'DIPS_HTTP_KEY', sensitive: true },
    salt: { doc: 'Salt for signed URLs, hex (imgproxy\'s IMGPROXY_SALT) (never logged).', format: 'hex', default: '', env: 'DIPS_HTTP_SALT', sensitive: true },
    allowUnsigned: { doc: 'Accept URLs whose signature is `_` or `insecure` (development only: anyone may then make the mesh do any work; a warning is logged at start).', format: Boolean, default: false, env: 'DIPS_HTTP_ALLOW_UNSIGNED' },
    presets: { doc: 'Named operation lists, e.g. {"thumb": "thumbnail:width=200/format:auto"}, used as /<signature>/p/<name>/<source> (env: the same JSON).', format: 'string-map', default: {} as Record<string, string>, env: 'DIPS_HTTP_PRESETS' },
    publicPresets: { doc: 'Serve /p/<preset>/<source> without a signature (sources are still checked against their rules).', format: Boolean, default: false, env: 'DIPS_HTTP_PUBLIC_PRESETS' },
    localRoots: { doc: 'Local directories sources may name, e.g. {"photos": "/srv/photos"} for local:photos/a.jpg (env: photos=/srv/photos,cards=/srv/cards).', format: 'string-map', default: {} as Record<string, string>, env: 'DIPS_HTTP_LOCAL_ROOTS' },
    origins: { doc: 'HTTP(S) URL prefixes sources may be fetched from, e.g. https://images.example.com/ (redirects are checked against them too).', format: 'string-list', default: [] as string[], env: 'DIPS_HTTP_ORIGINS' },
    allowPrivateNetworks: { doc: 'Fetch sources from loopback, private and link-local addresses (off: such addresses are refused even for allowed origins — SSRF).', format: Boolean, default: false, env: 'DIPS_HTTP_ALLOW_PRIVATE_NETWORKS' },
    allowedAddresses: { doc: 'Addresses exempt from the private-network rule (e.g. an internal image store at 10.0.0.5).', format: 'string-list', default: [] as string[], env: 'DIPS_HTTP_ALLOWED_ADDRESSES' },
    sourceMaxBytes: { doc: 'Largest source image fetched or read, in bytes (never more than the NATS payload limit: larger ones get 413).', format: 'nat', default: 16 * MiB, env: 'DIPS_HTTP_SOURCE_MAX_BYTES' },
    sourceTimeoutMs: { doc: 'Longest a remote source fetch may take, in milliseconds.', format: 'nat', default: 10000, env: 'DIPS_HTTP_SOURCE_TIMEOUT_MS' },
    maxRedirects: { doc: 'Redirects followed when fetching a remote source.', format: 'nat', default: 5, env: 'DIPS_HTTP_MAX_REDIRECTS' },
    cacheControl: { doc: 'Cache-Control of successful image responses.', format: String, default: 'public, max-age=31536000, immutable', env: 'DIPS_HTTP_CACHE_CONTROL' },
    apiKey: { doc: 'Key POST /fn/<function> callers send (Authorization: Bearer <key> or X-Api-Key); empty: POST /fn is off (never logged).', format: String, default: '', env: 'DIPS_HTTP_API_KEY', sensitive: true },
    placeholder: { doc: 'Image file sent (with the error status and a Dips-Error header) when an image URL fails, for <img> callers (empty: a JSON error body).', format: String, default: '', env: 'DIPS_HTTP_PLACEHOLDER' },
    maxConcurrent: { doc: 'Requests handled at once; more get 503 with Retry-After (jobs beyond the workers\' slots wait in the queue, this bounds the memory they hold).', format: 'nat', default: 512, env: 'DIPS_HTTP_MAX_CONCURRENT' },
    timeoutMs: { doc: 'Deadline of one image request, waiting and running, in milliseconds (408 after it).', format: 'nat', default: 30000, env: 'DIPS_HTTP_TIMEOUT_MS' },
    requiredFunctions: { doc: 'Functions that must have a worker for /readyz to say ready.', format: 'function-list', default: ['pipeline', 'convert', 'info'], env: 'DIPS_HTTP_REQUIRED_FUNCTIONS' },
  },
  dashboard: {
    host: { doc: 'Address the dashboard (dips-dashboard) listens on; keep it on loopback unless dashboard.token is set.', format: String, default: '127.0.0.1', env: 'DIPS_DASHBOARD_HOST' },
    port: { doc: 'Port of the dashboard (`npm start` takes a free one, and prints it, if this one is taken).', format: 'port', default: 8090, env: 'DIPS_DASHBOARD_PORT' },
    allowedHosts: {
      doc: 'Host names, besides its listen address and loopback, the dashboard answers to (e.g. the name a proxy in front of it passes on as Host); any other Host header is refused (DNS rebinding).',
      format: Array, default: [] as string[], env: 'DIPS_DASHBOARD_ALLOWED_HOSTS',
    },
    token: { doc: 'Token the dashboard asks for (?token=… once, then a cookie; or Authorization: Bearer). Required when dashboard.host is not a loopback address (never logged).', format: String, default: '', env: 'DIPS_DASHBOARD_TOKEN', sensitive: true },
    natsMonitorUrls: { doc: 'Monitoring endpoints of the NATS nodes (their http port), shown up or down with connections and routes.', format: 'string-list', default: ['http://127.0.0.1:8222', 'http://127.0.0.1:8223'], env: 'DIPS_DASHBOARD_NATS_MONITOR_URLS' },
  },
  queue: {
    maxWaitingBytes: {
      doc: 'Payload bytes of jobs one gateway or client holds at once, waiting for room or running (0: a quarter of this machine\'s memory); past it a job is refused (Gearman QUEUE_ERROR, NATS 503) naming this key.',
      format: 'nat', default: CLIENT_DEFAULTS.queue.maxWaitingBytes, env: 'DIPS_QUEUE_MAX_WAITING_BYTES',
    },
    backgroundMaxAgeMs: {
      doc: 'A background job still waiting for a worker after this long fails and is logged (0: it waits until it runs, as in gearmand).',
      format: 'nat', default: 0, env: 'DIPS_QUEUE_BACKGROUND_MAX_AGE_MS',
    },
    backgroundRunTimeoutMs: {
      doc: 'Longest one attempt of a background job may run once sent to a worker, even while the worker keeps saying it is working; then the attempt fails (see gateway.backgroundAttempts). With queue.backgroundMaxAgeMs set, that bounds waiting and running together instead.',
      format: 'positive-int', default: 600_000, env: 'DIPS_QUEUE_BACKGROUND_RUN_TIMEOUT_MS',
    },
  },
  images: {
    maxPixels: {
      doc: 'Largest image, in pixels per frame (width x height): an input, checked from its header before decoding, and every step\'s output (resize, extend, rotate…), checked before any pixel is made.',
      format: 'nat', default: 50_000_000, env: 'DIPS_IMAGES_MAX_PIXELS',
    },
    maxInputBytes: {
      doc: 'Largest encoded image accepted, in bytes.',
      format: 'nat', default: 16 * MiB, env: 'DIPS_IMAGES_MAX_INPUT_BYTES',
    },
    maxFrames: { doc: 'Most frames (pages) of an animated image accepted.', format: 'nat', default: 500, env: 'DIPS_IMAGES_MAX_FRAMES' },
    maxOutputDimension: { doc: 'Largest output width or height, in pixels.', format: 'nat', default: 16383, env: 'DIPS_IMAGES_MAX_OUTPUT_DIMENSION' },
    timeLimitMs: { doc: 'Longest an image job may run, in milliseconds (the caller\'s deadline may be shorter).', format: 'nat', default: 30000, env: 'DIPS_IMAGES_TIME_LIMIT_MS' },
    threadsPerJob: { doc: 'libvips threads one image operation may use (0: libvips default, one per CPU).', format: 'nat', default: 0, env: 'DIPS_IMAGES_THREADS_PER_JOB' },
  },
  tracing: {
    otlpEndpoint: {
      doc: 'OTLP/HTTP collector that job traces are sent to, e.g. http://127.0.0.1:4318 (/v1/traces is added unless the URL ends with it). Empty: the standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT if set, else tracing is off and costs nothing.',
      format: String, default: '', env: 'DIPS_TRACING_OTLP_ENDPOINT',
    },
    sampleRatio: {
      doc: 'Share of calls started here that are traced (0-1); a job whose caller traced it is traced whatever this says (the sampled flag of its traceparent).',
      format: 'ratio', default: 1, env: 'DIPS_TRACING_SAMPLE_RATIO',
    },
    serviceName: {
      doc: 'service.name of the spans, followed by the process role: dips-worker, dips-gateway, dips-http, dips-client.',
      format: String, default: 'dips', env: 'DIPS_TRACING_SERVICE_NAME',
    },
  },
  log: {
    level: {
      doc: 'Log level.',
      format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const,
      default: 'info', env: 'DIPS_LOG_LEVEL',
    },
    format: {
      doc: 'json: one JSON object a line (for journald and log shippers); pretty: coloured lines for a person; auto: pretty when stderr is a terminal, else json.',
      format: ['auto', 'json', 'pretty'] as const, default: 'auto', env: 'DIPS_LOG_FORMAT',
    },
  },
};

/** A schema value's type, widened from its default (`''` is a string, `[] as string[]` a list of them). */
type Widen<T> = T extends string ? string : T extends number ? number : T extends boolean ? boolean : T extends readonly (infer U)[] ? Array<Widen<U>> : T extends object ? { [K in keyof T]: Widen<T[K]> } : T;
/** A key's type: one of its format's values when the format lists them, else its default's. */
type KeyType<K> = K extends { format: readonly (infer V)[] } ? V : K extends { default: infer D } ? Widen<D> : never;
/** The configuration as loadConfig returns it, derived from the schema: a key added there is typed here, and nothing is written twice. */
type FromSchema<S> = { [K in keyof S]: S[K] extends { doc: string } ? KeyType<S[K]> : FromSchema<S[K]> };

export type DipsConfig = FromSchema<typeof schema>;

/** worker.concurrency in force: the configured slots, or one per CPU (at least 2). */
export function workerConcurrency(config: DipsConfig): number {
  return config.worker.concurrency || Math.max(2, os.availableParallelism());
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Value of a `--config FILE` or `--config=FILE` argument, if any. */
function configFileFromArgv(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--config') return argv[i + 1];
    if (argv[i].startsWith('--config=')) return argv[i].slice('--config='.length);
  }
  return undefined;
}

export interface LoadOptions {
  argv?: string[];
  env?: NodeJS.ProcessEnv;
  /** Extra values applied after files (used by launchers and tests). */
  overrides?: Record<string, unknown>;
}

/** Load, validate and freeze the configuration; throws ConfigError naming the key. */
export function loadConfig(options: LoadOptions = {}): DipsConfig {
  const env = options.env ?? process.env;
  const conf = convict(schema, { env, args: [] });
  const defaults = path.join(projectRoot, 'config', 'default.json');
  const extra = configFileFromArgv(options.argv ?? process.argv) ?? env.DIPS_CONFIG;
  try {
    if (existsSync(defaults)) conf.loadFile(defaults);
    if (extra) {
      if (!existsSync(extra)) throw new Error(`config file ${extra} does not exist`);
      conf.loadFile(extra);
    }
    if (options.overrides) conf.load(options.overrides);
    conf.validate({ allowed: 'strict' });
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
  }
  const config = conf.getProperties() as DipsConfig;
  if (config.gateway.maxPacketBytes > config.nats.maxPayloadBytes) {
    throw new ConfigError(
      `invalid configuration: gateway.maxPacketBytes (${config.gateway.maxPacketBytes}) must not exceed nats.maxPayloadBytes (${config.nats.maxPayloadBytes})`,
    );
  }
  return deepFreeze(config);
}

/** Describe every key, its default and its env var (for --help and the README). */
/** Every key of the schema with its env var, default and doc, in schema order. */
export function describeConfigEntries(): Array<{ key: string; env: string; default: unknown; doc: string }> {
  const entries: Array<{ key: string; env: string; default: unknown; doc: string }> = [];
  const walk = (node: Record<string, any>, prefix: string) => {
    for (const [key, value] of Object.entries(node)) {
      if (value && typeof value === 'object' && 'doc' in value) entries.push({ key: `${prefix}${key}`, env: value.env, default: value.default, doc: value.doc });
      else walk(value, `${prefix}${key}.`);
    }
  };
  walk(schema, '');
  return entries;
}

export function describeConfig(): string[] {
  return describeConfigEntries().map((e) => `${e.key} (${e.env}, default ${JSON.stringify(e.default)}): ${e.doc}`);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
