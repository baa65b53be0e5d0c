/**
 * For the fast tier only: an in-process stand-in for a NATS connection with
 * just what the requester uses (subscribe with `*` wildcards, publish with
 * reply and headers, no-responders, status), so its rules can be tested in
 * milliseconds. Every test of the real thing runs against nats-server in the
 * slow tier; this never replaces one of those.
 */
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection } from 'nats';

type Handler = (msg: Msg) => void;

export class LoopbackNats {
  private readonly subs: Array<{ subject: string; handler: Handler; closed: boolean }> = [];
  readonly published: string[] = [];
  readonly options = { inboxPrefix: '_INBOX' };

  /** Serve `subject` like a worker: `answer` gets each request and replies through `respond`. */
  serve(subject: string, answer: (msg: Msg, respond: (data: Uint8Array, h?: MsgHdrs) => void) => void): () => void {
    return this.sub(subject, (msg) => answer(msg, (data, h) => msg.reply && this.publish(msg.reply, data, { headers: h })));
  }

  /** Open subscriptions whose subject starts with `prefix`. */
  subscriptionsTo(prefix: string): number {
    return this.subs.filter((s) => !s.closed && s.subject.startsWith(prefix)).length;
  }

  subscribe(subject: string, opts: { callback: (err: Error | null, msg: Msg) => void }) {
    const unsubscribe = this.sub(subject, (msg) => opts.callback(null, msg));
    let closed = false;
    return { unsubscribe: () => ((closed = true), unsubscribe()), isClosed: () => closed };
  }

  publish(subject: string, data: Uint8Array = new Uint8Array(0), opts: { reply?: string; headers?: MsgHdrs } = {}): void {
    this.published.push(subject);
    const targets = this.subs.filter((s) => !s.closed && matches(s.subject, subject));
    // like the server: a request nobody listens to gets a 503 no-responders status at once
    if (targets.length === 0 && opts.reply) {
      const h = natsHeaders(503, 'No Responders');
      queueMicrotask(() => this.publish(opts.reply!, new Uint8Array(0), { headers: h }));
      return;
    }
    const target = targets[Math.floor(Math.random() * targets.length)]; // one member, as a queue group
    const msg = { subject, data, reply: opts.reply, headers: opts.headers } as unknown as Msg;
    queueMicrotask(() => target?.handler(msg));
  }

  async *status(): AsyncIterable<{ type: string }> {
    // never reconnects
  }

  isClosed(): boolean {
    return false;
  }

  asConnection(): NatsConnection {
    return this as unknown as NatsConnection;
  }

  private sub(subject: string, handler: Handler): () => void {
    const entry = { subject, handler, closed: false };
    this.subs.push(entry);
    return () => (entry.closed = true);
  }
}

function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  return p.length === s.length && p.every((t, i) => t === '*' || t === s[i]);
}
