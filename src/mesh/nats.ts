/** Opening a NATS connection the way every DIPS process needs it. */
import { readFileSync } from 'node:fs';
import { connect, type ConnectionOptions, type NatsConnection } from 'nats';
import type { NatsSettings } from '../shared/client-config.js';
import { connectionInboxPrefix } from './nats-internals.js';

export type { NatsConnection };

/** The configuration a connection reads: nats.* (a DipsConfig is one). */
type WithNats = { nats: NatsSettings };

/** Where a process's connection status goes: its pino logger (named by shape, so the caller-only package needs no pino). */
export interface StatusLog {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
}

/** Connecting failed for good (bad credentials, TLS): callers exit with "unavailable". */
export class NatsConnectError extends Error {
  override name = 'NatsConnectError';
}

export interface ConnectOptions {
  /** Shown in the server's connection list: role and pid. */
  name: string;
  log?: StatusLog;
  /**
   * A caller's (the client, dips, dipsctl): stop trying when it aborts, and
   * reject with a NatsConnectError naming the servers and the last failure.
   * Without it (the mesh's own processes) connecting waits for NATS for good.
   */
  signal?: AbortSignal;
  /** Each failed attempt of a caller's connect (every server tried once), e.g. to say why when its deadline passes. */
  onAttemptFailed?: (err: NatsConnectError) => void;
}

/**
 * Connect with every configured server in the list (the first one while it is
 * up, with nats.preferFirst: the same node as the other DIPS processes). waitOnFirstConnect keeps
 * trying when the servers are not up yet (either node may be down at start);
 * reconnects never give up, because a worker or gateway without NATS is useless
 * and the supervisor would only restart it to do the same.
 */
export async function connectNats(config: WithNats, options: ConnectOptions): Promise<NatsConnection> {
  const opts: ConnectionOptions = {
    servers: [...config.nats.servers],
    noRandomize: config.nats.preferFirst,
    name: config.nats.name || options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    waitOnFirstConnect: true,
    // a node's machine that vanished sends nothing: missed pings are the only sign (see nats.pingIntervalMs);
    // nats.js tries the node it lost first when it reconnects, so a dial that gets no answer gives up as fast
    pingInterval: config.nats.pingIntervalMs,
    maxPingOut: 2,
    timeout: 2 * config.nats.pingIntervalMs,
  };
  if (config.nats.user) {
    opts.user = config.nats.user;
    opts.pass = config.nats.pass || (config.nats.passFile ? readFileSync(config.nats.passFile, 'utf8').trim() : '');
  }
  if (config.nats.token) opts.token = config.nats.token;
  const inboxPrefix = inboxPrefixFor(config);
  if (inboxPrefix !== '_INBOX') opts.inboxPrefix = inboxPrefix;
  if (config.nats.tls.ca || config.nats.tls.cert) {
    opts.tls = {
      ...(config.nats.tls.ca ? { caFile: config.nats.tls.ca } : {}),
      ...(config.nats.tls.cert ? { certFile: config.nats.tls.cert, keyFile: config.nats.tls.key } : {}),
    };
  }
  let nc: NatsConnection;
  if (options.signal) nc = await connectUntil(opts, options.signal, options.onAttemptFailed);
  else {
    try {
      nc = await connect(opts);
    } catch (err) {
      throw connectError(opts, err);
    }
  }
  if (options.log) watchStatus(nc, options.log);
  return nc;
}

/** `cannot connect to NATS at <servers>: <why>`: the one line a caller (and dips, dipsctl with exit 69) shows. */
function connectError(opts: ConnectionOptions, err: unknown): NatsConnectError {
  const servers = ([] as string[]).concat(opts.servers ?? []).join(', ');
  const code = (err as { code?: string }).code;
  const why =
    code === 'CONNECTION_REFUSED' ? 'connection refused'
    : code === 'TIMEOUT' ? `no NATS greeting within ${opts.timeout} ms (is it a NATS port? is the node hung?)`
    : (err as Error).message;
  return new NatsConnectError(`cannot connect to NATS at ${servers}: ${why}`, { cause: err });
}

/**
 * A caller's connect: nats.js's waitOnFirstConnect retries for ever and cannot
 * be stopped from outside (connect() hands out nothing to close until it
 * succeeds), so a caller's deadline would not hold. Instead each attempt tries
 * every server once (waitOnFirstConnect off; a dial gives up after
 * opts.timeout, so a port that accepts and says nothing cannot hold it), and
 * attempts repeat, reconnectTimeWait apart, until one connects or the signal
 * aborts. Once connected, the connection reconnects for ever like any other.
 */
async function connectUntil(opts: ConnectionOptions, signal: AbortSignal, onAttemptFailed?: (err: NatsConnectError) => void): Promise<NatsConnection> {
  let last: NatsConnectError | undefined;
  const gaveUp = () => last ?? new NatsConnectError(`cannot connect to NATS at ${([] as string[]).concat(opts.servers ?? []).join(', ')}: no server answered yet`);
  while (!signal.aborted) {
    const attempt = connect({ ...opts, waitOnFirstConnect: false });
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(gaveUp());
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([attempt, aborted]);
    } catch (err) {
      if (signal.aborted) {
        // the attempt in flight ends by itself within a dial timeout; a connection it still makes is closed, never leaked
        attempt.then((nc) => nc.close(), () => undefined);
        throw gaveUp();
      }
      last = connectError(opts, err);
      onAttemptFailed?.(last);
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, (opts.reconnectTimeWait ?? 250) + Math.random() * (opts.reconnectJitter ?? 100));
      signal.addEventListener('abort', done, { once: true });
    });
  }
  throw gaveUp();
}

function watchStatus(nc: NatsConnection, log: StatusLog): void {
  log.info({ server: nc.getServer() }, 'connected to NATS');
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'pingTimer' || s.type === 'staleConnection') continue;
      const level = s.type === 'disconnect' || s.type === 'error' ? 'warn' : 'info';
      log[level]({ status: s.type, data: typeof s.data === 'string' ? s.data : undefined }, 'NATS connection status');
    }
  })().catch(() => undefined);
}

/**
 * The prefix of this process's reply subjects. nats.inboxPrefix when it is set
 * to anything but the default; otherwise, for a connection with a user,
 * `_INBOX.<user>`: the secure NATS config lets each user subscribe only under
 * its own prefix (so no caller reads another's replies), and a process then
 * needs no setting beyond its user. It stays under `_INBOX.`, where workers
 * answer. A user name that is not one plain subject token gets `_INBOX`
 * (set nats.inboxPrefix to what its permissions allow).
 */
export function inboxPrefixFor(config: WithNats): string {
  const { inboxPrefix, user } = config.nats;
  if (inboxPrefix && inboxPrefix !== '_INBOX') return inboxPrefix;
  return user && /^[A-Za-z0-9_-]+$/.test(user) ? `_INBOX.${user}` : '_INBOX';
}

/** The inbox prefix this connection was opened with (private per identity in the secure setup). */
export function inboxPrefixOf(nc: NatsConnection): string | undefined {
  return connectionInboxPrefix(nc);
}

/** The payload limit in force: the smaller of ours and the server's. */
export function effectiveMaxPayload(nc: NatsConnection, config: WithNats): number {
  const server = nc.info?.max_payload ?? config.nats.maxPayloadBytes;
  return Math.min(server, config.nats.maxPayloadBytes);
}
