#!/usr/bin/env node
/**
 * The ipx peer of the http scenario: ipx (the sharp-based image server behind
 * Nuxt Image) serving one local directory, the way it is deployed standalone.
 * usage: node dist/bench/ipx-server.js <dir> <port>
 */
import http from 'node:http';
import { createIPX, createIPXNodeServer, ipxFSStorage } from 'ipx';

const [dir, port] = process.argv.slice(2);
const ipx = createIPX({ storage: ipxFSStorage({ dir }) });
http.createServer(createIPXNodeServer(ipx)).listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
