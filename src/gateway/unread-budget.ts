/**
 * Answers written to clients that have not read them, over all of a gateway's
 * connections. Each connection is bounded on its own (gateway.maxConnectionBytes:
 * past it the gateway stops reading from it), but a few dozen clients that
 * never read would still hold that much each. Past gateway.maxUnreadBytes in
 * all, the connection holding the most unread answers is closed: a client that
 * does not read is dead or hostile, and closing it frees its answers without
 * making the clients that do read wait.
 */
export interface UnreadHolder {
  /** Bytes written to it and not yet read by its client. */
  readonly unreadBytes: number;
  destroy(reason: string): void;
}

export class UnreadBudget {
  private readonly holders = new Map<UnreadHolder, number>();
  private total = 0;

  constructor(private readonly maxBytes: number, private readonly onEvict: (holder: UnreadHolder, bytes: number, total: number) => void) {}

  /** `holder`'s unread bytes changed (it wrote, or its client read); past the limit the biggest holder goes. */
  update(holder: UnreadHolder): void {
    const now = holder.unreadBytes;
    this.total += now - (this.holders.get(holder) ?? 0);
    if (now > 0) this.holders.set(holder, now);
    else this.holders.delete(holder);
    if (this.total > this.maxBytes) this.settle();
  }

  /**
   * Counts are taken when a connection writes or drains, and a socket that
   * flushes its buffer says nothing ('drain' comes only after a full one): so
   * before closing anything, every count is taken again, and only a total that
   * is still over the limit closes the biggest holder.
   */
  private settle(): void {
    this.total = 0;
    for (const holder of [...this.holders.keys()]) {
      const n = holder.unreadBytes;
      if (n > 0) {
        this.holders.set(holder, n);
        this.total += n;
      } else this.holders.delete(holder);
    }
    if (this.total > this.maxBytes) this.evictBiggest();
  }

  forget(holder: UnreadHolder): void {
    this.total -= this.holders.get(holder) ?? 0;
    this.holders.delete(holder);
  }

  private evictBiggest(): void {
    let biggest: UnreadHolder | undefined;
    let bytes = 0;
    for (const [holder, n] of this.holders) if (n > bytes) [biggest, bytes] = [holder, n];
    if (!biggest) return;
    this.forget(biggest);
    this.onEvict(biggest, bytes, this.total + bytes);
    biggest.destroy(`it holds ${bytes} unread bytes and the gateway's clients hold more than gateway.maxUnreadBytes in all`);
  }
}
