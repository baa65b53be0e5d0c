#!/usr/bin/env node
/**
 * The library floor: a nats.js responder that answers every request on
 * `dips.floor.lib` with its own payload (`dips.floor.oneway` with nothing; with
 * `ecard`, `dips.floor.ecard` with the bench's card drawn and encoded), and nothing else (no DIPS runtime,
 * no headers, no parameters, no admission). `npm run bench` starts as many as the mesh has
 * workers and calls them with nats.js from the bench process, so the echo
 * rows show what the chosen client library costs before any DIPS code runs.
 * usage: node dist/bench/nats-echo.js <nats-url> [ecard]
 */
import { connect } from 'nats';
import { bareCardRenderer } from './card.js';
import { ECARD_FLOOR_SUBJECT, LIBRARY_FLOOR_ONE_WAY_SUBJECT, LIBRARY_FLOOR_SUBJECT } from './floors.js';

if (process.argv[1]?.endsWith('nats-echo.js')) {
  const nc = await connect({ servers: process.argv[2] });
  nc.subscribe(LIBRARY_FLOOR_SUBJECT, { queue: 'floor', callback: (_err, msg) => msg.respond(msg.data) });
  nc.subscribe(LIBRARY_FLOOR_ONE_WAY_SUBJECT, { queue: 'floor', callback: (_err, msg) => msg.respond() });
  if (process.argv[3] === 'ecard') {
    const renderCard = await bareCardRenderer();
    nc.subscribe(ECARD_FLOOR_SUBJECT, { queue: 'floor', callback: (_err, msg) => msg.respond(renderCard()) });
  }
  await nc.flush();
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => void nc.close().then(() => process.exit(0)));
}
