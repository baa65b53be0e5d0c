/**
 * Requests to DIPS functions over NATS, with the failure handling every caller
 * (native client, gateway) needs and nats.js's request() does not give:
 *
 * - one muxed reply subscription, so a request can be cancelled or re-sent;
 * - "no worker" is answered at once (the server's no-responders status);
 * - a request that may have been lost with a NATS node (we reconnected while
 *   it was pending) is sent again, if the function is idempotent;
 * - a busy worker (503 from its admission control) is tried again elsewhere;
 * - the caller's deadline travels in a header so workers skip abandoned work.
 */
import { createInbox, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { ErrorCode } from './errors.js';
import { ACK_TIMEOUT_MS, EVENT_HEADER, LIVENESS_TIMEOUT_MS, WORKING } from './events.js';
import { Header } from './headers.js';
import { inboxPrefixOf } from './nats.js';
import { functionSubject } from './subjects.js';

export class CallError extends Error {
  override name = 'CallError';
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

export interface RequestOptions {
  timeoutMs: number;
  headers?: MsgHdrs;
  /** Extra sends allowed after a lost or busy attempt. */
  retries?: number;
  /** Only idempotent work is sent again after a possible loss. */
  idempotent?: boolean;
  /** Called with each intermediate message (streamed data, warnings, status) before the final reply. */
  onEvent?: (msg: Msg) => void;
}

interface Pending {
  fn: string;
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs;
  retriesLeft: number;
  idempotent: boolean;
  /** Connection generation (count of reconnects) when last sent. */
  sentIn: number;
  /** When we last sent it or heard anything about it (events, `working`). */
  lastHeard: number;
  /** Anything heard since the last send (an answer is on its way). */
  acknowledged: boolean;
  /** When the server first said nobody serves the function. */
  noWorkerSince?: number;
  resolve(msg: Msg): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  onEvent?: (msg: Msg) => void;
}

const BUSY_BACKOFF_MS = 20;
/** How long "no worker" is double-checked before the caller hears it (workers fail over between NATS nodes within this). */
export const NO_WORKER_GRACE_MS = 600;

export class Requester {
  private readonly inbox: string;
  private readonly pending = new Map<string, Pending>();
  private readonly sub: Subscription;
  private generation = 0;
  private nextToken = 0;
  /** Requests sent again (lost with a NATS node or a worker, or refused busy): for soak reports and metrics. */
  resent = 0;

  private readonly watchdog: NodeJS.Timeout;

  constructor(private readonly nc: NatsConnection, private readonly maxPending = 100_000) {
    this.inbox = createInbox(inboxPrefixOf(nc));
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (err, msg) => !err && this.onReply(msg) });
    void this.watchReconnects();
    this.watchdog = setInterval(() => this.checkLiveness(), 250);
    this.watchdog.unref();
  }

  /**
   * A request nobody acknowledged, or whose worker went silent, was lost (with
   * a NATS node, or with a killed worker): send it again while retries last.
   */
  private checkLiveness(): void {
    const now = Date.now();
    for (const [token, p] of this.pending) {
      const silence = now - p.lastHeard;
      if (silence < (p.acknowledged ? LIVENESS_TIMEOUT_MS : ACK_TIMEOUT_MS)) continue;
      if (p.idempotent && p.retriesLeft > 0) {
        p.retriesLeft--;
        this.send(token, p);
      } else p.lastHeard = now; // nothing more to do: the overall timeout decides
    }
  }

  get outstanding(): number {
    return this.pending.size;
  }

  /** Call a function; resolves with the final reply message, rejects with CallError. */
  call(fn: string, data: Uint8Array, options: RequestOptions): Promise<Msg> {
    if (this.pending.size >= this.maxPending) {
      return Promise.reject(new CallError(ErrorCode.busy, `${fn}: busy: ${this.pending.size} calls already waiting in this client`));
    }
    return new Promise<Msg>((resolve, reject) => {
      const token = String(this.nextToken++);
      const headers = options.headers ?? natsHeaders();
      headers.set(Header.deadline, String(Date.now() + options.timeoutMs));
      const pending: Pending = {
        fn,
        subject: functionSubject(fn),
        data,
        headers,
        retriesLeft: options.retries ?? 2,
        idempotent: options.idempotent ?? true,
        sentIn: this.generation,
        lastHeard: Date.now(),
        acknowledged: false,
        resolve,
        reject,
        onEvent: options.onEvent,
        timer: setTimeout(() => this.fail(token, new CallError(ErrorCode.timeout, `${fn}: no reply within ${options.timeoutMs} ms`)), options.timeoutMs),
      };
      this.pending.set(token, pending);
      this.send(token, pending, false);
    });
  }

  /** Fail every outstanding call (the caller is shutting down). */
  close(reason = 'client closed'): void {
    for (const token of [...this.pending.keys()]) this.fail(token, new CallError(ErrorCode.busy, reason));
    clearInterval(this.watchdog);
    if (!this.sub.isClosed()) this.sub.unsubscribe();
  }

  private send(token: string, p: Pending, again = true): void {
    if (again) this.resent++;
    p.sentIn = this.generation;
    p.lastHeard = Date.now();
    p.acknowledged = false;
    try {
      this.nc.publish(p.subject, p.data, { reply: `${this.inbox}.${token}`, headers: p.headers });
    } catch (err) {
      this.fail(token, new CallError(ErrorCode.internal, `${p.fn}: cannot send the request: ${(err as Error).message}`));
    }
  }

  private onReply(msg: Msg): void {
    const token = msg.subject.slice(this.inbox.length + 1);
    const p = this.pending.get(token);
    if (!p) return; // a late duplicate after a retry, or a reply to a call that timed out
    const h = msg.headers;
    p.lastHeard = Date.now();
    p.acknowledged = true;
    const event = h?.get(EVENT_HEADER);
    if (event) {
      if (event !== WORKING) p.onEvent?.(msg);
      return;
    }
    if (h && h.status === '503' && msg.data.length === 0 && !h.get(Header.serviceError)) {
      // The server says no subscriber exists. Workers of a NATS node that just died are
      // reconnecting to the other one for a moment, so look again briefly before saying so.
      p.noWorkerSince ??= Date.now();
      const waited = Date.now() - p.noWorkerSince;
      if (waited < NO_WORKER_GRACE_MS) {
        setTimeout(() => this.pending.has(token) && this.send(token, p), Math.min(200, 50 * 2 ** Math.floor(waited / 100)));
        return;
      }
      this.fail(token, new CallError(ErrorCode.noWorker, `no worker for ${p.fn}`));
      return;
    }
    const serviceError = h?.get(Header.serviceError);
    if (serviceError) {
      const code = Number(h?.get(Header.serviceErrorCode)) || ErrorCode.internal;
      if (code === ErrorCode.busy && p.retriesLeft > 0) {
        p.retriesLeft--;
        setTimeout(() => this.pending.has(token) && this.send(token, p), BUSY_BACKOFF_MS);
        return;
      }
      this.fail(token, new CallError(code, serviceError));
      return;
    }
    clearTimeout(p.timer);
    this.pending.delete(token);
    p.resolve(msg);
  }

  private fail(token: string, err: Error): void {
    const p = this.pending.get(token);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(token);
    p.reject(err);
  }

  /** After a reconnect, anything sent on the old connection may be lost: send it again. */
  private async watchReconnects(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type !== 'reconnect') continue;
      const lostIn = this.generation++;
      for (const [token, p] of this.pending) {
        if (p.sentIn > lostIn) continue;
        if (p.idempotent && p.retriesLeft > 0) {
          p.retriesLeft--;
          this.send(token, p);
        } else if (!p.idempotent) {
          this.fail(token, new CallError(ErrorCode.internal, `${p.fn}: the request may have been lost with a NATS node; not retried because ${p.fn} is not idempotent`));
        }
      }
    }
  }
}
