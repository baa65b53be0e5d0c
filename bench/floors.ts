/**
 * The floors under the dispatch numbers: what one round trip costs on this
 * machine before any DIPS code runs. A TCP ping-pong between two sockets, and
 * a request through one nats-server node between two minimal NATS clients
 * (PUB/SUB/MSG by hand, no client library, no headers), so the report shows
 * how much of an echo's latency is the server hop itself.
 *
 * The protocol client is written here because measuring a library's overhead
 * needs something without one; it speaks only what a ping-pong needs.
 */
import net from 'node:net';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { connect } from 'nats';
import { freePort } from '../src/control/nats-node.js';
import { timedLoops } from './stats.js';

/** The subjects bench/nats-echo.ts answers on: with the payload, and with nothing (one way). */
export const LIBRARY_FLOOR_SUBJECT = 'dips.floor.lib';
export const LIBRARY_FLOOR_ONE_WAY_SUBJECT = 'dips.floor.oneway';
export const ECARD_FLOOR_SUBJECT = 'dips.floor.ecard';
/** Where the Gearman relay floor sends a PHP job for `fn`: ecard to the card drawers, anything else echoed. */
export const relayFloorSubject = (fn: string) => (fn === 'ecard' ? ECARD_FLOOR_SUBJECT : LIBRARY_FLOOR_SUBJECT);

const CRLF = Buffer.from('\r\n');

/** A NATS connection that hands each MSG payload to `onMessage`. */
async function minimalNatsClient(port: number, onMessage: (reply: string, payload: Buffer, socket: net.Socket) => void): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await once(socket, 'connect');
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    for (;;) {
      const eol = pending.indexOf(CRLF);
      if (eol < 0) return;
      const line = pending.toString('latin1', 0, eol);
      if (line.startsWith('MSG ')) {
        // MSG <subject> <sid> [reply] <size>
        const parts = line.split(' ');
        const size = Number(parts[parts.length - 1]);
        if (pending.length < eol + 2 + size + 2) return;
        const payload = pending.subarray(eol + 2, eol + 2 + size);
        pending = pending.subarray(eol + 2 + size + 2);
        onMessage(parts.length === 5 ? parts[3] : '', payload, socket);
        continue;
      }
      pending = pending.subarray(eol + 2);
      if (line === 'PING') socket.write('PONG\r\n');
    }
  });
  socket.write('CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n');
  return socket;
}

const publish = (socket: net.Socket, subject: string, reply: string, payload: Buffer) =>
  socket.write(Buffer.concat([Buffer.from(`PUB ${subject} ${reply} ${payload.length}\r\n`, 'latin1'), payload, CRLF]));

async function pingPong(calls: number, roundTrip: () => Promise<void>) {
  const latencies: number[] = [];
  for (let i = 0; i < Math.ceil(calls / 10); i++) await roundTrip(); // warm up
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await roundTrip();
    latencies.push(performance.now() - t);
  }
  return { latencies, failed: 0, seconds: (performance.now() - started) / 1000 };
}

/** Round trips of `payload` through the NATS node on `port`: requester -> server -> responder -> server -> requester. */
export async function natsFloor(port: number, payload: Buffer, calls: number) {
  const responder = await minimalNatsClient(port, (reply, data, socket) => publish(socket, reply, '', data));
  responder.write('SUB dips.floor.echo floor 1\r\nPING\r\n');
  let answered: () => void = () => undefined;
  const requester = await minimalNatsClient(port, () => answered());
  requester.write('SUB _INBOX.floor 1\r\nPING\r\n');
  await new Promise((r) => setTimeout(r, 200)); // both subscriptions registered
  try {
    return await pingPong(calls, () => new Promise<void>((resolve) => {
      answered = resolve;
      publish(requester, 'dips.floor.echo', '_INBOX.floor', payload);
    }));
  } finally {
    requester.destroy();
    responder.destroy();
  }
}

/** Round trips of `payload` over one loopback TCP connection between two sockets. */
export async function tcpFloor(payload: Buffer, calls: number) {
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    s.on('data', (d) => s.write(d));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  socket.setNoDelay(true);
  await once(socket, 'connect');
  try {
    return await pingPong(calls, async () => {
      let received = 0;
      socket.write(payload);
      while (received < payload.length) received += ((await once(socket, 'data'))[0] as Buffer).length;
    });
  } finally {
    socket.destroy();
    server.close();
  }
}

/**
 * nats.js responders in `processes` child processes (bench/nats-echo.ts) and a
 * nats.js requester here: the cost of the client library alone. Returns a
 * caller for `concurrency` loops of requests and a stop(). With `drawCards`
 * they also draw the bench's card for the Gearman relay's ecard floor.
 */
export async function startLibraryFloor(server: string, processes: number, drawCards = false) {
  const children = await Promise.all(Array.from({ length: processes }, () => startFloorProcess('nats-echo.js', drawCards ? [server, 'ecard'] : [server])));
  const nc = await connect({ servers: server });
  return {
    pids: children.map((c) => c.pid),
    /** Requests of `payload`; with `reply`, the responders answer that instead of echoing. */
    calls: (payload: Uint8Array, concurrency: number, calls: number, reply?: Uint8Array) =>
      timedLoops(concurrency, calls, () => nc.request(reply ? LIBRARY_FLOOR_ONE_WAY_SUBJECT : LIBRARY_FLOOR_SUBJECT, payload, { timeout: 10_000 })),
    async stop() {
      await nc.close();
      for (const c of children) c.kill('SIGTERM');
    },
  };
}

/** bench/gearman-relay.ts in a child process: `relay` forwards PHP's jobs to the library-floor responders; `answer` answers them itself. */
export async function startGearmanFloor(mode: 'relay' | 'answer', server: string) {
  const port = await freePort();
  const child = await startFloorProcess('gearman-relay.js', [mode, String(port), server]);
  return { port, pid: child.pid, stop: () => void child.kill('SIGTERM') };
}

/** One of bench/'s floor scripts in a child process, once it has said it is ready (its first line). */
async function startFloorProcess(script: string, args: string[]) {
  const child = spawn(process.execPath, [new URL(`./${script}`, import.meta.url).pathname, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout!, 'data');
  return child;
}
