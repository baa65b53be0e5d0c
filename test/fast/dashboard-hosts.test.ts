/** The dashboard's allowed host names (DNS rebinding). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allowedHosts } from '../../src/control/dashboard/server.js';

test('dashboard host names: listen address, loopback and the operator\'s dashboard.allowedHosts; nothing else', () => {
  const hosts = allowedHosts('127.0.0.1', ['Dips.Example']);
  for (const h of ['127.0.0.1', 'localhost', '::1', 'dips.example']) assert.ok(hosts.has(h), h);
  assert.not.ok(hosts.has('evil.example'));
});

test.run();
