/**
 * One client socket: framing in, batched writes out in request order,
 * back-pressure both ways. A protocol violation costs this socket only.
 */
import type net from 'node:net';
import type { Logger } from '../shared/log.js';
import { PACKET_NAMES, PacketType } from './protocol/constants.js';
import { encodeResponse, type Arg } from './protocol/encoder.js';
import { GearmanParser, type Packet } from './protocol/parser.js';
import type { UnreadBudget } from './unread-budget.js';

export interface ConnectionHandlers {
  packet(conn: Connection, packet: Packet): void;
  text(conn: Connection, line: string): Promise<string>;
  closed(conn: Connection): void;
}

export interface ConnectionLimits {
  maxPacketBytes: number;
  /** Close a connection idle this long with no job (0: never, as gearmand). */
  idleTimeoutMs: number;
  /** Bytes queued for a slow reader before we stop reading its requests. */
  highWaterBytes: number;
  /** gateway.maxConnectionBytes: payloads of its jobs in flight plus answers it has not read; past it we stop reading. */
  maxConnectionBytes: number;
  /** Unread answers over all connections (gateway.maxUnreadBytes). */
  unread?: UnreadBudget;
}

let nextId = 1;

/**
 * How long a foreground job's JOB_CREATED may wait to travel with the job's
 * first result packet. A job that answers within this costs its client one
 * wake-up and the gateway one socket write instead of two each; a slower one
 * gets JOB_CREATED at this age. Nothing but the job's own packets can need the
 * handle first: its client blocks until the job ends, and nobody else has it.
 */
const JOB_CREATED_HOLD_MS = 3;

export class Connection {
  readonly id = nextId++;
  readonly remote: string;
  clientId = '-';
  exceptions = false;
  /** Jobs this connection submitted and still waits for. */
  outstanding = 0;
  /** Payload bytes of those jobs (see hold/release): what this connection makes the gateway keep besides its unread answers. */
  private inFlightBytes = 0;
  private readonly parser: GearmanParser;
  private corked = false;
  private closed = false;
  /**
   * Replies reserved in request order whose content is not known yet (a
   * background job's JOB_CREATED waits for its disk write), and what was sent
   * after them: libgearman pairs JOB_CREATED with its submissions by order.
   */
  private readonly outbox: Array<{ parts?: Buffer[] }> = [];
  /** Encoded JOB_CREATED packets held back, in submission order (see JOB_CREATED_HOLD_MS). */
  private held: Buffer[] = [];
  private heldTimer: NodeJS.Timeout | undefined;
  /** Text commands answer asynchronously; keep their replies in order. */
  private textChain: Promise<void> = Promise.resolve();

  constructor(
    private readonly socket: net.Socket,
    private readonly handlers: ConnectionHandlers,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
  ) {
    this.remote = socket.remoteAddress ?? '?';
    this.parser = new GearmanParser(limits.maxPacketBytes);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000); // finds half-open peers the idle timer would wait long for
    if (limits.idleTimeoutMs > 0) {
      socket.setTimeout(limits.idleTimeoutMs);
      socket.on('timeout', () => {
        if (this.outstanding === 0) this.destroy('idle');
      });
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.limits.unread?.update(this);
      this.resumeIfRoom();
    });
    socket.on('error', (err) => this.log.debug({ err, conn: this.id }, 'socket error'));
    socket.on('close', () => {
      this.closed = true;
      this.limits.unread?.forget(this);
      clearTimeout(this.heldTimer);
      this.handlers.closed(this);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Answers written to this client that it has not read yet. */
  get unreadBytes(): number {
    return this.closed ? 0 : this.socket.writableLength;
  }

  get fd(): number {
    return (this.socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
  }

  /** Queue a response; writes made in one tick go out together. */
  send(type: number, args: readonly Arg[]): void {
    this.enqueue(encodeResponse(type, args));
  }

  /**
   * Keep this reply's place in line: the returned function sends it (once its
   * content is known), after everything queued before it and before anything after.
   */
  reserve(): (type: number, args: readonly Arg[]) => void {
    this.releaseHeld();
    const slot: { parts?: Buffer[] } = {};
    this.outbox.push(slot);
    return (type, args) => {
      slot.parts = encodeResponse(type, args);
      while (this.outbox[0]?.parts) this.write(this.outbox.shift()!.parts!);
    };
  }

  private enqueue(parts: Buffer[]): void {
    if (this.outbox.length) this.outbox.push({ parts });
    else this.write(parts);
  }

  private write(parts: Buffer[]): void {
    if (this.closed) return;
    this.cork();
    this.releaseHeld();
    for (const part of parts) this.socket.write(part);
    this.applyBackPressure();
  }

  /** JOB_CREATED for a foreground job: goes out with the next packet to this client, or after JOB_CREATED_HOLD_MS. */
  sendJobCreated(handle: string): void {
    if (this.closed) return;
    if (this.outbox.length) {
      this.send(PacketType.JOB_CREATED, [handle]);
      return;
    }
    this.held.push(...encodeResponse(PacketType.JOB_CREATED, [handle]));
    this.heldTimer ??= setTimeout(() => {
      this.cork();
      this.releaseHeld();
    }, JOB_CREATED_HOLD_MS);
  }

  private releaseHeld(): void {
    if (this.heldTimer === undefined) return;
    clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    for (const part of this.held) this.socket.write(part);
    this.held = [];
  }

  sendError(code: string, message: string): void {
    this.send(PacketType.ERROR, [code, message]);
  }

  private sendText(text: string): void {
    this.enqueue([Buffer.from(text, 'latin1')]);
  }

  destroy(reason: string): void {
    if (this.closed) return;
    this.log.debug({ conn: this.id, remote: this.remote, reason }, 'closing connection');
    this.socket.destroy();
  }

  /** Close after what is queued has been written (used after a fatal protocol error). */
  end(): void {
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private cork(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(() => {
      this.corked = false;
      this.socket.uncork();
    });
  }

  /** A foreground job of `bytes` is in flight for this connection until release(). */
  hold(bytes: number): void {
    this.inFlightBytes += bytes;
    this.applyBackPressure();
  }

  release(bytes: number): void {
    this.inFlightBytes -= bytes;
    this.resumeIfRoom();
  }

  /**
   * A reader that does not keep up, or a client with too much in flight, stops
   * us reading from it: what it sends next waits in the kernel's buffers, and
   * its memory here cannot grow without bound (gearmand's would force the same).
   */
  private applyBackPressure(): void {
    this.limits.unread?.update(this);
    if (!this.hasRoom()) this.socket.pause();
  }

  private hasRoom(): boolean {
    const unread = this.socket.writableLength;
    return unread <= this.limits.highWaterBytes && unread + this.inFlightBytes <= this.limits.maxConnectionBytes;
  }

  private resumeIfRoom(): void {
    if (this.socket.isPaused() && !this.closed && this.hasRoom()) this.socket.resume();
  }

  private onData(chunk: Buffer): void {
    for (const item of this.parser.push(chunk)) {
      if (item.kind === 'packet') {
        if (this.log.isLevelEnabled('trace')) this.log.trace({ conn: this.id, type: PACKET_NAMES[item.type] ?? item.type, sizes: item.args.map((a) => a.length) }, 'packet');
        if (item.magic !== 'REQ') this.sendError('INVALID_MAGIC', 'Request magic expected');
        else this.handlers.packet(this, item);
      } else if (item.kind === 'text') {
        const line = item.line;
        this.textChain = this.textChain.then(async () => this.sendText(await this.handlers.text(this, line)));
      } else {
        this.log.warn({ conn: this.id, remote: this.remote, code: item.code, problem: item.message }, 'protocol violation, closing connection');
        this.sendError(item.code, item.message);
        this.end();
        return;
      }
    }
  }
}
