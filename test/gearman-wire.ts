/** A minimal Gearman client speaking raw packets, for tests that need exact bytes on the wire. */
import net from 'node:net';
import { splitArgs } from '../src/gateway/protocol/parser.js';
import { encodeRequest } from '../src/gateway/protocol/encoder.js';

export interface ResPacket {
  type: number;
  args: Buffer[];
}

export class WireClient {
  private buffer = Buffer.alloc(0);
  private readonly packets: ResPacket[] = [];
  private waiters: Array<() => void> = [];
  text = '';
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.drainBuffer();
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => resolve(new WireClient(socket)));
      socket.once('error', reject);
    });
  }

  send(type: number, args: (string | Buffer)[]): void {
    this.socket.write(encodeRequest(type, args.map((a) => (typeof a === 'string' ? Buffer.from(a) : a))));
  }

  raw(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** The next response packet, waiting up to timeoutMs. */
  async next(timeoutMs = 5000): Promise<ResPacket> {
    const deadline = Date.now() + timeoutMs;
    while (this.packets.length === 0) {
      if (this.closed) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no packet within timeout');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.packets.shift()!;
  }

  /** Text reply up to a line that is "." or starts with OK/ERR. */
  async textReply(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!/(^|\n)(\.|OK[^\n]*|ERR[^\n]*)\r?\n$/.test(this.text)) {
      if (Date.now() > deadline || this.closed) throw new Error(`incomplete text reply: ${JSON.stringify(this.text)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const out = this.text;
    this.text = '';
    return out;
  }

  /** Resolves when the server closes the connection. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }

  private drainBuffer(): void {
    while (this.buffer.length > 0) {
      if (this.buffer[0] !== 0) {
        this.text += this.buffer.toString('latin1');
        this.buffer = Buffer.alloc(0);
        return;
      }
      if (this.buffer.length < 12) return;
      const size = this.buffer.readUInt32BE(8);
      if (this.buffer.length < 12 + size) return;
      const type = this.buffer.readUInt32BE(4);
      const body = this.buffer.subarray(12, 12 + size);
      this.buffer = this.buffer.subarray(12 + size);
      // responses we read carry at most one binary argument, last
      const argc = { 8: 1, 13: 2, 14: 1, 12: 3, 17: 1, 19: 2, 20: 5, 25: 2, 27: 1, 28: 2, 29: 2, 42: 6 }[type] ?? 1;
      const args = splitArgs(body, argc);
      this.packets.push({ type, args });
    }
  }
}
