/**
 * A caller's one muxed reply subscription (the requester's inbox concern):
 * every request it sends is answered on `<inbox>.<token>`, so a request can be
 * sent again or withdrawn without a subscription of its own. Job tokens are
 * plain numbers; ping tokens start with PING_TOKEN, so a worker's answer to
 * "are you there?" is told apart from a job's.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from 'nats';
import { inboxPrefixOf } from './nats.js';

const PING_TOKEN = 'p';

export class ReplyInbox {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private nextPing = 0;

  constructor(nc: NatsConnection, onJobReply: (token: string, msg: Msg) => void, onPong: (token: string, msg: Msg) => void) {
    // under the connection's inbox prefix: in the secure variant the only one this identity may read
    this.prefix = createInbox(inboxPrefixOf(nc));
    this.sub = nc.subscribe(`${this.prefix}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const token = msg.subject.slice(this.prefix.length + 1);
        if (token.startsWith(PING_TOKEN)) onPong(token, msg);
        else onJobReply(token, msg);
      },
    });
  }

  /** Where the answer to the request with this token comes back. */
  replyTo(token: string): string {
    return `${this.prefix}.${token}`;
  }

  /** A fresh token for a ping. */
  pingToken(): string {
    return `${PING_TOKEN}${this.nextPing++}`;
  }

  close(): void {
    if (!this.sub.isClosed()) this.sub.unsubscribe();
  }
}
