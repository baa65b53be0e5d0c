/** The unit files pass systemd-analyze verify and carry the hardening operators expect. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../src/shared/config.js';
import { freePort } from '../src/control/nats-node.js';
import { startCluster, startProcess, waitFor } from './harness.js';

const dir = path.join(projectRoot, 'systemd');
const services = readdirSync(dir).filter((f) => f.endsWith('.service'));
const unitFiles = readdirSync(dir).filter((f) => f.endsWith('.service') || f.endsWith('.target'));

test('systemd-analyze verify passes on every unit (template instances included)', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'dips-units-'));
  for (const f of unitFiles) copyFileSync(path.join(dir, f), path.join(tmp, f));
  symlinkSync('dips-nats@.service', path.join(tmp, 'dips-nats@a.service'));
  symlinkSync('dips-gateway@.service', path.join(tmp, 'dips-gateway@4730.service'));
  const units = ['dips.target', 'dips-agent.service', 'dips-nats@a.service', 'dips-gateway@4730.service', 'dips-http.service', 'dips-dashboard.service'];
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...units], { cwd: tmp, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr + r.stdout);
  assert.is(r.stderr.trim(), '', 'no warnings');
});

test('every service runs as the dips user, hardened, restarted on failure, stopped by SIGTERM', () => {
  assert.ok(services.length >= 3);
  for (const f of services) {
    const text = readFileSync(path.join(dir, f), 'utf8');
    for (const line of ['User=dips', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'LimitNOFILE=', 'Restart=on-failure', 'KillSignal=SIGTERM', 'PartOf=dips.target']) {
      assert.ok(text.includes(line), `${f} has ${line}`);
    }
    // DIPS's own processes say when they are ready; a bad configuration (exit 78) stops instead of looping
    if (f !== 'dips-nats@.service') for (const line of ['Type=notify', 'NotifyAccess=all', 'RestartPreventExitStatus=78']) assert.ok(text.includes(line), `${f} has ${line}`);
  }
});

test('guest mode: the drop-in gives dips-agent idle CPU and I/O scheduling, nice 19 and a memory ceiling, and systemd reads it without a warning', () => {
  const dropIn = readFileSync(path.join(dir, 'dips-agent-guest.conf'), 'utf8');
  for (const line of ['Environment=DIPS_AGENT_MODE=guest', 'CPUSchedulingPolicy=idle', 'CPUWeight=idle', 'Nice=19', 'IOSchedulingClass=idle', 'MemoryHigh=']) {
    assert.ok(dropIn.includes(line), `the drop-in has ${line}`);
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'dips-guest-units-'));
  for (const f of unitFiles) copyFileSync(path.join(dir, f), path.join(tmp, f));
  mkdirSync(path.join(tmp, 'dips-agent.service.d'));
  copyFileSync(path.join(dir, 'dips-agent-guest.conf'), path.join(tmp, 'dips-agent.service.d', 'guest.conf'));
  // the unit path names the folder, so systemd reads the drop-in (and warns on any directive it cannot parse)
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', 'dips-agent.service'], { cwd: tmp, encoding: 'utf8', env: { ...process.env, SYSTEMD_UNIT_PATH: `${tmp}:` } });
  assert.is(r.status, 0, r.stderr + r.stdout);
  assert.is(r.stderr.trim(), '', 'no warnings');
});

test('a gateway tells systemd it is ready: READY=1 with its pid on NOTIFY_SOCKET, once it serves', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dips-notify-'));
  const socket = path.join(dir, 'notify');
  // systemd's side of the socket: a unix datagram socket (Node has none), printing what it receives
  const listener = spawn('python3', ['-c', `import socket,sys
s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); print('listening', flush=True)
print(s.recv(4096).decode().replace(chr(10), ' '), flush=True)`, socket]);
  let heard = '';
  listener.stdout.on('data', (d: Buffer) => (heard += d.toString()));
  await waitFor(() => heard.includes('listening'), 5000, 'the notify socket');
  const cluster = await startCluster();
  const port = await freePort();
  const gateway = await startProcess('gateway', cluster, { DIPS_GATEWAY_PORT: String(port), NOTIFY_SOCKET: socket });
  try {
    await waitFor(() => heard.includes('READY=1'), 5000, 'READY=1');
    assert.match(heard, new RegExp(`MAINPID=${gateway.child.pid}`));
  } finally {
    listener.kill();
    await gateway.stop();
    await cluster.stop();
  }
});

test.run();
