#!/usr/bin/env node
/**
 * The gateway's floors: the least a Node process can do between PHP's Gearman
 * client and NATS, measured with the same PHP callers as the gateway.
 *
 * - `relay`: each SUBMIT_JOB is published with nats.js to the library-floor
 *   responders (bench/nats-echo.ts: echo, or an ecard job's card drawn) on one muxed reply subscription, and the
 *   reply goes back as JOB_CREATED + WORK_COMPLETE in one write. No headers,
 *   no job table, no queue, no timers, no retries: what is left of the
 *   gateway's path once all DIPS code is gone.
 * - `answer`: each SUBMIT_JOB is answered at once, no NATS at all: what the
 *   client sockets alone cost a Node process.
 *
 * It uses the gateway's own parser and encoder (the cheapest we have), and
 * handles nothing but SUBMIT_JOB (and OPTION_REQ, which PHP sends first): it is a measuring stick, not a server.
 * usage: node dist/bench/gearman-relay.js <relay|answer> <port> [nats-url]
 */
import net from 'node:net';
import { connect, createInbox } from 'nats';
import { PacketType } from '../src/gateway/protocol/constants.js';
import { encodeResponse } from '../src/gateway/protocol/encoder.js';
import { GearmanParser } from '../src/gateway/protocol/parser.js';
import { relayFloorSubject } from './floors.js';

type Answer = (data: Uint8Array) => void;
type Forward = (fn: string, data: Uint8Array, answer: Answer) => void;

async function main(mode: string, port: number, natsUrl?: string) {
  let forward: Forward = (_fn, data, answer) => answer(data);
  if (mode === 'relay') {
    const nc = await connect({ servers: natsUrl });
    const inbox = createInbox();
    const waiting = new Map<string, Answer>();
    let next = 0;
    nc.subscribe(`${inbox}.*`, {
      callback: (_err, msg) => {
        const token = msg.subject.slice(inbox.length + 1);
        waiting.get(token)?.(msg.data);
        waiting.delete(token);
      },
    });
    forward = (fn, data, answer) => {
      const token = String(next++);
      waiting.set(token, answer);
      nc.publish(relayFloorSubject(fn), data, { reply: `${inbox}.${token}` });
    };
  }
  let handles = 0;
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const parser = new GearmanParser(1 << 30);
    socket.on('data', (chunk: Buffer) => {
      for (const item of parser.push(chunk)) {
        if (item.kind !== 'packet') continue;
        // PHP's client asks for exceptions on connecting and waits for the answer
        if (item.type === PacketType.OPTION_REQ) socket.write(Buffer.concat(encodeResponse(PacketType.OPTION_RES, [item.args[0]])));
        if (item.type !== PacketType.SUBMIT_JOB) continue;
        const handle = `H:floor:${++handles}`;
        forward(item.args[0].toString('latin1'), Buffer.from(item.args[2]), (result) => socket.write(Buffer.concat([...encodeResponse(PacketType.JOB_CREATED, [handle]), ...encodeResponse(PacketType.WORK_COMPLETE, [handle, result])])));
      }
    });
    socket.on('error', () => undefined);
  });
  server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
  process.on('SIGTERM', () => process.exit(0));
}

if (process.argv[1]?.endsWith('gearman-relay.js')) await main(process.argv[2], Number(process.argv[3]), process.argv[4]);
