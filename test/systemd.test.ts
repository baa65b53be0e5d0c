/** The unit files pass systemd-analyze verify and carry the hardening operators expect. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../src/shared/config.js';

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

test.run();
