/**
 * The native TypeScript client, from plain options:
 *
 *   const dips = new DipsClient({ servers: ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4223'] });
 *   const png = await dips.call('ecard', { pSN: '1234567890', pData: values });
 *   const info = await dips.call('info', imageBytes);   // raw body, params in a header
 *   await dips.close();
 *
 * The entry of the caller-only package (client/: dips-client), so it imports
 * nothing at run time but nats, @msgpack/msgpack and Node: not the config
 * loader (convict, config files) nor pino. index.ts adds DipsClient.fromEnv()
 * for the dips package.
 */
import { randomUUID } from 'node:crypto';
import { headers as natsHeaders, type Msg, type NatsConnection } from 'nats';
import { clientConfig, maxWaitingBytes, type ClientConfig, type NatsOptions } from '../shared/client-config.js';
import { decodeBody, encodeBody, encodingForContentType, type StructuredEncoding } from '../mesh/codec/index.js';
import { Header } from '../mesh/headers.js';
import { ErrorCode } from '../shared/errors.js';
import { connectNats, type NatsConnectError } from '../mesh/nats.js';
import { toJobEvent, type JobEvent } from '../mesh/events.js';
import { Requester, type Priority } from '../mesh/requester.js';
import { CallError, cancelledError } from '../mesh/call-error.js';

export { CallError };
export type { CallErrorOptions } from '../mesh/call-error.js';
export { ErrorCode, ERROR_KINDS } from '../shared/errors.js';
export type { ErrorKind } from '../shared/errors.js';
export type { Priority };
export type * from './functions.js';
import type { DipsFunction, DipsFunctions } from './functions.js';

/** Options of a call to a known function: its parameters are typed. */
export type TypedCallOptions<P> = Omit<CallOptions, 'params'> & { params?: P };
export type { JobEvent };
export type { ClientConfig, NatsOptions, NatsSettings } from '../shared/client-config.js';

export interface DipsClientOptions {
  /** NATS servers (default: nats.servers' default, nats://127.0.0.1:4222 and :4223). */
  servers?: string[];
  /** Any other nats.* setting (docs/configuration.md): user, pass, token, tls, pingIntervalMs, … over their defaults. */
  nats?: NatsOptions;
  /** A whole configuration, e.g. loadConfig()'s in a DIPS process; `servers` and `nats` are then ignored. */
  config?: ClientConfig;
  /** Default per-call timeout in ms (default: nats.requestTimeoutMs). */
  timeoutMs?: number;
  /** Encoding of structured requests (default msgpack). */
  encoding?: StructuredEncoding;
}

export interface CallOptions {
  /** The whole call's deadline, connecting to NATS included (default: the client's timeoutMs, else nats.requestTimeoutMs). */
  timeoutMs?: number;
  /** Parameters sent in a header when the body is raw image bytes. */
  params?: Record<string, unknown>;
  /** Correlation id; one is made up when absent. */
  jobId?: string;
  /** Send again after a possible loss (default true: every image function is idempotent). */
  idempotent?: boolean;
  /** Data, warnings and status the worker streams before the result, in order. */
  onEvent?: (event: JobEvent) => void;
  /** While every worker is full, calls wait here: HIGH before NORMAL before LOW, oldest first (default normal). */
  priority?: Priority;
  /**
   * Aborting withdraws the call, also while the client is still connecting: it
   * rejects with the signal's reason (`signal.reason`: an AbortError DOMException
   * for `abort()`, a TimeoutError for `AbortSignal.timeout()`, or whatever was
   * passed to `abort(reason)`), as fetch() does — not with a CallError.
   */
  signal?: AbortSignal;
}

export type StreamItem = JobEvent | { kind: 'result'; reply: Reply };

/** A reply: image bytes with their media type, or a decoded structured value. */
export interface Reply {
  contentType: string;
  bytes: Uint8Array;
  value?: unknown;
}

interface Connected {
  nc: NatsConnection;
  requester: Requester;
}

/** The one connection attempt the calls waiting for a connection share; `last` says why the latest try failed. */
interface Attempt {
  promise: Promise<Connected>;
  stop: AbortController;
  waiters: number;
  last?: NatsConnectError;
}

/** How long one call may wait for the connection, and what it reports. */
interface Wait {
  fn: string;
  deadline: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

export class DipsClient {
  private readonly config: ClientConfig;
  private connected?: Connected;
  private attempt?: Attempt;

  /** A client from explicit options alone: no DIPS_* variable or config file is read (the dips package's DipsClient.fromEnv() reads them). */
  constructor(private readonly options: DipsClientOptions = {}) {
    this.config = options.config ?? clientConfig(options);
  }

  /**
   * Call a function; resolves to bytes (images) or the decoded value (structured
   * replies). Known functions are typed (`call('ecard', …)` is a `Uint8Array`,
   * `call('info', …)` an `ImageInfo`); any other name resolves to `unknown`.
   */
  call<F extends DipsFunction>(fn: F, input: DipsFunctions[F]['input'], options?: TypedCallOptions<DipsFunctions[F]['params']>): Promise<DipsFunctions[F]['result']>;
  call<F extends string>(fn: F extends DipsFunction ? never : F, input: Record<string, unknown> | Uint8Array, options?: CallOptions): Promise<unknown>;
  async call(fn: string, input: Record<string, unknown> | Uint8Array, options: CallOptions = {}): Promise<unknown> {
    const reply = await this.callForReply(fn, input, options);
    return reply.value !== undefined ? reply.value : reply.bytes;
  }

  async callForReply(fn: string, input: Record<string, unknown> | Uint8Array, options: CallOptions = {}): Promise<Reply> {
    // failures surface with the caller's stack; what the requester saw is their cause
    const callSite = new Error();
    try {
      return await this.request(fn, input, options);
    } catch (err) {
      if (!(err instanceof CallError)) throw err;
      // the caller aborted: what it aborted with is what it expects back (fetch() and the AWS SDK reject
      // with an AbortError, not a service error); a program checks `signal.aborted` or the error's name
      if (err.kind === 'CANCELLED' && options.signal?.aborted) throw abortReason(options.signal);
      const surfaced = new CallError(err.code, err.message, { cause: err, kind: err.kind, retryable: err.retryable });
      surfaced.stack = `CallError: ${err.message}${callSite.stack?.slice(callSite.stack.indexOf('\n')) ?? ''}`;
      throw surfaced;
    }
  }

  private async request(fn: string, input: Record<string, unknown> | Uint8Array, options: CallOptions): Promise<Reply> {
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs ?? this.config.nats.requestTimeoutMs;
    const started = Date.now();
    const wasConnected = this.connected !== undefined;
    const { requester } = await this.connect({ fn, deadline: started + timeoutMs, timeoutMs, signal: options.signal });
    // the deadline covers connecting too: a call that waited for the connection has only what is left
    const left = wasConnected ? timeoutMs : Math.max(1, started + timeoutMs - Date.now());
    const headers = natsHeaders();
    headers.set(Header.jobId, options.jobId ?? randomUUID());
    let body: Uint8Array;
    if (input instanceof Uint8Array) {
      headers.set(Header.encoding, 'raw');
      if (options.params) headers.set(Header.params, JSON.stringify(options.params));
      body = input;
    } else {
      const encoding = this.options.encoding ?? 'msgpack';
      headers.set(Header.encoding, encoding);
      body = encodeBody(input, encoding);
    }
    const msg = await requester.call(fn, body, {
      timeoutMs: left,
      headers,
      idempotent: options.idempotent ?? true,
      retries: this.config.gateway.retries,
      priority: options.priority,
      signal: options.signal,
      onEvent: options.onEvent
        ? (m) => {
            const event = toJobEvent(m);
            if (event) options.onEvent!(event);
          }
        : undefined,
    }).catch((err: unknown) => {
      // the requester names the time it was given; the caller gave (and waited) the whole timeoutMs
      if (err instanceof CallError && left !== timeoutMs) throw new CallError(err.code, err.message.replace(`within ${left} ms`, `within ${timeoutMs} ms`), { cause: err.cause, kind: err.kind, retryable: err.retryable });
      throw err;
    });
    return toReply(msg);
  }

  /**
   * The job's streamed events, then its result, as an async iterator:
   *   for await (const item of dips.stream('delay', { ms: 300, steps: 3 })) { … item.kind … }
   * A failed call throws from the loop.
   */
  async *stream(fn: string, input: Record<string, unknown> | Uint8Array, options: CallOptions = {}): AsyncGenerator<StreamItem> {
    const queue: StreamItem[] = [];
    let wake: (() => void) | undefined;
    let failure: unknown;
    let finished = false;
    const push = (item: StreamItem) => {
      queue.push(item);
      wake?.();
    };
    // leaving the loop early (break, return, a throw in its body) withdraws the call, as an aborted signal does
    const abandoned = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, abandoned.signal]) : abandoned.signal;
    this.callForReply(fn, input, { ...options, signal, onEvent: push }).then(
      (reply) => {
        push({ kind: 'result', reply });
        finished = true;
        wake?.();
      },
      (err) => {
        failure = err;
        finished = true;
        wake?.();
      },
    );
    try {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (finished) {
          if (failure) throw failure;
          return;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      if (!finished) abandoned.abort(new DOMException('the stream was left before its result', 'AbortError'));
    }
  }

  /** Calls this client has under way (sent or waiting for room). */
  get pending(): number {
    return this.connected?.requester.outstanding ?? 0;
  }

  /** Requests this client sent again after a loss or a busy answer. */
  async resent(): Promise<number> {
    return (await this.connect(this.defaultWait('resent'))).requester.resent;
  }

  /** The underlying connection (for tools that need raw NATS); gives up like a call does, after the client's timeoutMs. */
  async nats(): Promise<NatsConnection> {
    return (await this.connect(this.defaultWait('nats'))).nc;
  }

  /** Stop connecting (calls still waiting for a connection get 503), or drain the connection. */
  async close(): Promise<void> {
    this.attempt?.stop.abort();
    if (!this.connected) return;
    const { nc, requester } = this.connected;
    requester.close();
    await nc.drain();
  }

  private defaultWait(fn: string): Wait {
    const timeoutMs = this.options.timeoutMs ?? this.config.nats.requestTimeoutMs;
    return { fn, deadline: Date.now() + timeoutMs, timeoutMs };
  }

  /**
   * The connection, once up. While it is not, calls share one attempt and each
   * waits only until its own deadline or signal (503 UNAVAILABLE naming the
   * servers, or the signal's reason); when the last one waiting gives up the attempt stops, and the next
   * call starts a fresh one. NATS being down is then a failed call, not a hang.
   */
  private async connect(wait: Wait): Promise<Connected> {
    if (this.connected) return this.connected;
    const attempt = (this.attempt ??= this.startAttempt());
    attempt.waiters++;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const unavailable = (why: string) => new CallError(ErrorCode.unavailable, `${wait.fn}: ${why}`, { kind: 'UNAVAILABLE' });
    try {
      return await new Promise<Connected>((resolve, reject) => {
        attempt.promise.then(resolve, (err: Error) => reject(unavailable(err.message)));
        timer = setTimeout(() => {
          const why = attempt.last?.message ?? `cannot connect to NATS at ${this.config.nats.servers.join(', ')}: no server answered`;
          reject(unavailable(`${why} (gave up after ${wait.timeoutMs} ms)`));
        }, Math.max(0, wait.deadline - Date.now()));
        if (wait.signal) {
          // callForReply turns it into the signal's reason; resent() and nats() take no signal
          onAbort = () => reject(cancelledError(wait.fn));
          if (wait.signal.aborted) onAbort();
          else wait.signal.addEventListener('abort', onAbort, { once: true });
        }
      });
    } finally {
      clearTimeout(timer);
      if (onAbort) wait.signal?.removeEventListener('abort', onAbort);
      if (--attempt.waiters === 0 && !this.connected) {
        attempt.stop.abort();
        if (this.attempt === attempt) this.attempt = undefined;
      }
    }
  }

  private startAttempt(): Attempt {
    const stop = new AbortController();
    const attempt: Attempt = { stop, waiters: 0, promise: undefined as unknown as Promise<Connected> };
    attempt.promise = connectNats(this.config, { name: `dips-client-${process.pid}`, signal: stop.signal, onAttemptFailed: (err) => (attempt.last = err) }).then((nc) => {
      this.connected = { nc, requester: new Requester(nc, { maxPendingBytes: maxWaitingBytes(this.config), limitName: 'queue.maxWaitingBytes' }) };
      if (this.attempt === attempt) this.attempt = undefined;
      return this.connected;
    });
    // a stopped attempt nobody waits for any more is no unhandled rejection
    attempt.promise.catch(() => undefined);
    return attempt;
  }
}

/**
 * What an aborted call rejects with: the signal's reason, as fetch() does. A
 * signal aborted without one (an AbortSignal implementation older than
 * `reason`) gets the AbortError DOMException `abort()` gives today.
 */
function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

export function toReply(msg: Msg): Reply {
  const contentType = msg.headers?.get(Header.contentType) || 'application/octet-stream';
  const encoding = encodingForContentType(contentType);
  return { contentType, bytes: msg.data, value: encoding ? decodeBody(msg.data, encoding) : undefined };
}
