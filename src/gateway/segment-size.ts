/**
 * Cap the TCP segment size of the gateway's listening socket (inherited by
 * every accepted connection).
 *
 * Why: libgearman (PHP's GearmanClient, the gearman CLI) shrinks its socket
 * buffers to 32 KiB. On loopback, where a segment may be 64 KiB, that leaves
 * one segment in flight; the receiving kernel acknowledges every second full
 * segment or when its 40 ms delayed-ACK timer fires, so a client submitting a
 * large job stalls 40 ms per 64 KiB: an 829 KB photo took 415 ms to arrive,
 * through gearmand just the same. With 16 KiB segments several are in flight,
 * ACKs go out at once, and the photo arrives in about 20 ms. On Ethernet (MSS
 * 1460) the cap changes nothing. Node has no setsockopt, hence `sockopt`.
 */
import { createRequire } from 'node:module';
import type net from 'node:net';

// loaded on first use, so a platform without the addon's prebuilt binary still runs the gateway (uncapped, with a warning)
const require = createRequire(import.meta.url);

const IPPROTO_TCP = 6;
const TCP_MAXSEG = 2;

/** Returns the segment size now in force, or an Error saying why it could not be set. */
export function capSegmentSize(server: net.Server, bytes: number): number | Error {
  try {
    const { setsockopt, getsockopt } = require('sockopt') as typeof import('sockopt');
    setsockopt(server, IPPROTO_TCP, TCP_MAXSEG, bytes);
    return getsockopt(server, IPPROTO_TCP, TCP_MAXSEG);
  } catch (err) {
    return err as Error;
  }
}
