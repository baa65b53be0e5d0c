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

/** The units as systemd would install them, in a fresh folder: the instances the tests name, and with `guest` the agent's drop-in. */
function installUnits(guest = false): string {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'dips-units-'));
  for (const f of unitFiles) copyFileSync(path.join(dir, f), path.join(tmp, f));
  symlinkSync('dips-nats@.service', path.join(tmp, 'dips-nats@a.service'));
  symlinkSync('dips-gateway@.service', path.join(tmp, 'dips-gateway@4730.service'));
  if (guest) {
    mkdirSync(path.join(tmp, 'dips-agent.service.d'));
    copyFileSync(path.join(dir, 'dips-agent-guest.conf'), path.join(tmp, 'dips-agent.service.d', 'guest.conf'));
  }
  return tmp;
}

/** systemd-analyze in `units`, which is on the unit path (so it reads drop-ins, and warns on any directive it cannot parse). */
function analyze(units: string, args: string[]) {
  return spawnSync('systemd-analyze', [...args, '--man=no'], { cwd: units, encoding: 'utf8', env: { ...process.env, SYSTEMD_UNIT_PATH: `${units}:` } });
}

const instances = ['dips.target', 'dips-agent.service', 'dips-nats@a.service', 'dips-gateway@4730.service', 'dips-http.service', 'dips-dashboard.service'];

test('systemd-analyze verify passes on every unit (template instances included), with and without the guest drop-in', () => {
  for (const guest of [false, true]) {
    const r = analyze(installUnits(guest), ['verify', ...instances]);
    assert.is(r.status, 0, r.stderr + r.stdout);
    assert.is(r.stderr.trim(), '', `no warnings${guest ? ' with the guest drop-in' : ''}`);
  }
});

test('every service runs as the dips user, hardened, restarted on failure, stopped by SIGTERM', () => {
  assert.ok(services.length >= 3);
  for (const f of services) {
    const text = readFileSync(path.join(dir, f), 'utf8');
    for (const line of ['User=dips', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'LimitNOFILE=', 'Restart=on-failure', 'KillSignal=SIGTERM', 'PartOf=dips.target',
      'CapabilityBoundingSet=\n', 'AmbientCapabilities=\n', 'PrivateUsers=yes', 'ProtectProc=invisible', 'UMask=0077', 'SystemCallArchitectures=native', 'RestrictNamespaces=yes']) {
      assert.ok(text.includes(line), `${f} has ${line.trim()}`);
    }
    // only the address families the code opens: TCP (NATS, its ports), unix (systemd-notify), netlink where it lists this machine's addresses
    assert.match(text, /^RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX( AF_NETLINK)?$/m, `${f} restricts address families`);
    // V8 writes the machine code it compiles: W^X would stop Node at its first function
    if (f !== 'dips-nats@.service') assert.not.match(text, /^MemoryDenyWriteExecute=yes/m, `${f} lets V8 compile`);
    // DIPS's own processes say when they are ready; a bad configuration (exit 78) stops instead of looping
    if (f !== 'dips-nats@.service') for (const line of ['Type=notify', 'NotifyAccess=all', 'RestartPreventExitStatus=78']) assert.ok(text.includes(line), `${f} has ${line}`);
  }
});

test('guest mode: the drop-in gives dips-agent idle CPU and I/O scheduling, nice 19 and a memory ceiling, and systemd reads it without a warning', () => {
  const dropIn = readFileSync(path.join(dir, 'dips-agent-guest.conf'), 'utf8');
  for (const line of ['Environment=DIPS_AGENT_MODE=guest', 'CPUSchedulingPolicy=idle', 'CPUWeight=idle', 'Nice=19', 'IOSchedulingClass=idle', 'MemoryHigh=']) {
    assert.ok(dropIn.includes(line), `the drop-in has ${line}`);
  }
  const r = analyze(installUnits(true), ['verify', 'dips-agent.service']);
  assert.is(r.status, 0, r.stderr + r.stdout);
  assert.is(r.stderr.trim(), '', 'no warnings');
});

/**
 * The exposure `systemd-analyze security` gives each unit (0 sandboxed … 10 exposed), as measured
 * with systemd 252 once the sandbox was as tight as DIPS allows (before it: 7.1, nats 7.0). A change
 * that loosens a unit raises its score and fails here: raise the number only on purpose, in
 * docs/operating.md as well. The agent, the gateways and dips-http must stay below 3.0.
 */
const exposure: Record<string, number> = {
  'dips-agent.service': 1.4,
  'dips-gateway@4730.service': 1.3,
  'dips-http.service': 1.3,
  'dips-dashboard.service': 1.3,
  'dips-nats@a.service': 1.1,
};
const BELOW = ['dips-agent.service', 'dips-gateway@4730.service', 'dips-http.service'];

/** "→ Overall exposure level for dips-http.service: 1.3 OK" → 1.3; undefined when systemd-analyze gives none. */
function overallExposure(output: string): number | undefined {
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(output);
  return m ? Number(m[1]) : undefined;
}

// --offline= (systemd 250 and later) scores unit files without a running systemd; an older one cannot, and says why here
const offlineProbe = analyze(installUnits(), ['security', '--offline=true', 'dips-http.service']);
const noOffline = overallExposure(offlineProbe.stdout ?? '') === undefined
  ? `systemd-analyze security --offline=true gives no exposure level on this machine (${spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] || 'no systemd-analyze'}; offline scoring needs systemd 250 or later): ${(offlineProbe.stderr || offlineProbe.error?.message || '').trim().split('\n')[0]}`
  : undefined;
if (noOffline) console.log(`SKIPPED the exposure scores: ${noOffline}`);

(noOffline ? test.skip : test)('systemd-analyze security: every unit scores at or below its recorded exposure; the agent, the gateways and dips-http below 3.0', () => {
  for (const guest of [false, true]) {
    const units = installUnits(guest);
    for (const [unit, recorded] of Object.entries(exposure)) {
      const r = analyze(units, ['security', '--offline=true', unit]);
      const score = overallExposure(r.stdout);
      const what = `${unit}${guest ? ' with the guest drop-in' : ''}`;
      assert.ok(score !== undefined, `${what}: no exposure level in ${r.stdout}${r.stderr}`);
      assert.ok(score <= recorded, `${what} scores ${score}, above its recorded ${recorded}:\n${r.stdout.split('\n').filter((l) => l.startsWith('✗')).join('\n')}`);
      if (BELOW.includes(unit)) assert.ok(score < 3.0, `${what} scores ${score}, not below 3.0`);
    }
  }
});

test('the system call filters keep what the services use: priorities for guest workers, getrlimit for libuv', () => {
  /** The system calls of a group, with those of the groups it names. */
  const group = (name: string): Set<string> => {
    const lines = spawnSync('systemd-analyze', ['syscall-filter', '--no-pager', name], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.trim());
    return new Set(lines.flatMap((l) => (/^@[a-z-]+$/.test(l) && l !== name ? [...group(l)] : /^[a-z_0-9]+$/.test(l) ? [l] : [])));
  };
  const [allowed, privileged, resources] = [group('@system-service'), group('@privileged'), group('@resources')];
  assert.ok(allowed.size > 100, `systemd-analyze syscall-filter lists @system-service (${allowed.size} calls)`);
  const text = (f: string) => readFileSync(path.join(dir, f), 'utf8');
  const filters = (f: string) => text(f).split('\n').filter((l) => l.startsWith('SystemCallFilter=')).map((l) => l.slice('SystemCallFilter='.length));
  for (const f of services) {
    assert.ok(filters(f).includes('@system-service'), `${f} allows @system-service only`);
    assert.ok(text(f).includes('SystemCallErrorNumber=EPERM'), `${f}: a filtered call fails instead of killing the process`);
  }
  // chrt --idle (sched_setscheduler), ionice -c 3 (ioprio_set), nice and os.setPriority (setpriority): the agent denies neither @resources nor them
  for (const call of ['sched_setscheduler', 'ioprio_set', 'setpriority']) {
    assert.ok(allowed.has(call) && !privileged.has(call), `${call} passes @system-service minus @privileged`);
    assert.not.ok(filters('dips-agent.service').some((f) => f.startsWith('~') && (f.includes('@resources') || f.includes(call))), `dips-agent.service allows ${call}`);
  }
  // libuv aborts when getrlimit (prlimit64) fails: it must not be in a group the units deny
  for (const call of ['prlimit64', 'mmap', 'msync', 'fdatasync', 'flock', 'clone3']) assert.ok(allowed.has(call) && !privileged.has(call) && !resources.has(call), `${call} is allowed everywhere`);
  // a guest's workers may drop to SCHED_IDLE: RestrictRealtime= refuses only the real-time policies, and no unit may keep a real-time policy itself
  assert.ok(text('dips-agent.service').includes('RestrictRealtime=yes'));
  assert.not.match(readFileSync(path.join(dir, 'dips-agent-guest.conf'), 'utf8'), /CPUSchedulingPolicy=(fifo|rr)/);
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
