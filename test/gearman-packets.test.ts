/**
 * Packet by packet, the gateway answers as gearmand 1.1 does: the same probes
 * go to a real gearmand and to a gateway, and their answers (handles and pids
 * aside) must be equal — except the differences docs/gearman.md lists, each
 * asserted here as the gateway's documented answer, so any other difference,
 * and any change to a documented one, fails.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { freePort } from '../src/control/nats-node.js';
import { PacketType as P, PACKET_NAMES } from '../src/gateway/protocol/constants.js';
import { encodeRequest } from '../src/gateway/protocol/encoder.js';
import { startCluster, startProcess, waitFor } from './harness.js';
import { WireClient } from './gearman-wire.js';
import { runPhp } from './php.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything a connection received within `ms` of quiet, as text. */
async function drain(c: WireClient, ms = 300): Promise<string> {
  const out: string[] = [];
  for (;;) {
    try {
      const r = await c.next(ms);
      out.push(`${PACKET_NAMES[r.type]}(${r.args.map((a) => JSON.stringify(a.toString())).join(',')})`);
    } catch {
      break;
    }
  }
  if (c.text) out.push(`TEXT ${JSON.stringify(c.text)}`);
  if (c.closed) out.push('CLOSED');
  return out.join(' ');
}

const raw = (type: number, args: string[]) => encodeRequest(type, args.map((s) => Buffer.from(s)));
const probes: Record<string, (c: WireClient) => void> = {
  // first, while neither server holds other jobs
  admin_showUnique: (c) => { c.send(P.SUBMIT_JOB_BG, ['nobody-serves-it', 'uq-show', 'x']); c.raw('show unique jobs\n'); },
  echo: (c) => { c.send(P.ECHO_REQ, ['x']); },
  optionBogus: (c) => { c.send(P.OPTION_REQ, ['bogus']); },
  getStatusUnknown: (c) => { c.send(P.GET_STATUS, ['H:nope:1']); },
  getStatusUniqueUnknown: (c) => { c.send(P.GET_STATUS_UNIQUE, ['nouniq']); },
  sched: (c) => { c.raw(raw(P.SUBMIT_JOB_SCHED, ['f', '', '1', '2', '3', '4', '5', 'data'])); },
  reduce: (c) => { c.raw(raw(P.SUBMIT_REDUCE_JOB, ['f', '', 'red', 'none', 'data'])); },
  reduceBg: (c) => { c.raw(raw(P.SUBMIT_REDUCE_JOB_BACKGROUND, ['f', '', 'red', 'none', 'data'])); },
  grabAllEmpty: (c) => { c.send(P.CAN_DO, ['pf1']); c.send(P.GRAB_JOB_ALL, []); },
  grabEmpty: (c) => { c.send(P.GRAB_JOB, []); },
  unknownType: (c) => { c.raw(raw(99, ['x'])); },
  allYours: (c) => { c.send(P.ALL_YOURS, []); c.send(P.ECHO_REQ, ['after']); },
  workCompleteUnknown: (c) => { c.send(P.WORK_COMPLETE, ['H:nope:9', 'r']); },
  canDoTimeout: (c) => { c.send(P.CAN_DO_TIMEOUT, ['pf2', '5']); c.send(P.ECHO_REQ, ['after']); },
  resSentAsReq: (c) => { c.raw(raw(P.JOB_CREATED, ['H:x:1'])); },
  submitEmptyFn: (c) => { c.send(P.SUBMIT_JOB_BG, ['', '', 'x']); },
  admin_version: (c) => { c.raw('version\n'); },
  admin_verbose: (c) => { c.raw('verbose\n'); },
  admin_getpid: (c) => { c.raw('getpid\n'); },
  admin_maxqueue: (c) => { c.raw('maxqueue pf9 3\n'); },
  admin_maxqueueBad: (c) => { c.raw('maxqueue\n'); },
  admin_cancelUnknown: (c) => { c.raw('cancel job H:nope:1\n'); },
  admin_bogus: (c) => { c.raw('bogus\n'); },
  admin_show_bogus: (c) => { c.raw('show bogus\n'); },
};

/** A job through a Gearman worker, the client with the exceptions option or not, ending in a result, an exception or a failure. */
async function flow(port: number, exceptions: boolean, kind: 'ok' | 'exc' | 'fail'): Promise<string> {
  const w = await WireClient.connect(port);
  const fn = `flow-${exceptions ? 'e' : 'n'}-${kind}`;
  w.send(P.CAN_DO, [fn]);
  w.send(P.PRE_SLEEP, []);
  await sleep(300);
  const c = await WireClient.connect(port);
  if (exceptions) c.send(P.OPTION_REQ, ['exceptions']);
  c.send(P.SUBMIT_JOB, [fn, 'uq1', 'payload']);
  const out = [`worker: ${await drain(w)}`];
  w.send(P.GRAB_JOB_ALL, []);
  const assign = await w.next(3000);
  const [handle, afn, unique, data] = assign.args.length > 1 ? assign.args.map(String) : assign.args[0].toString().split('\0');
  out.push(`worker: ${PACKET_NAMES[assign.type]}(${[afn, unique, data].join(',')})`);
  if (kind === 'exc') w.send(P.WORK_EXCEPTION, [handle, 'boom']);
  else if (kind === 'fail') w.send(P.WORK_FAIL, [handle]);
  else {
    w.send(P.WORK_STATUS, [handle, '1', '2']);
    w.send(P.WORK_DATA, [handle, 'd']);
    w.send(P.WORK_WARNING, [handle, 'w']);
    w.send(P.WORK_COMPLETE, [handle, 'done']);
  }
  out.push(`client: ${await drain(c, 500)}`);
  c.close();
  w.close();
  return out.join(' | ');
}

async function probeAll(port: number): Promise<Record<string, string>> {
  const answers: Record<string, string> = {};
  for (const [name, send] of Object.entries(probes)) {
    const c = await WireClient.connect(port);
    send(c);
    answers[name] = await drain(c);
    c.close();
  }
  for (const exceptions of [false, true]) for (const kind of ['ok', 'exc', 'fail'] as const) answers[`flow_${exceptions ? 'exceptions' : 'plain'}_${kind}`] = await flow(port, exceptions, kind);
  return answers;
}

/**
 * Where the gateway answers otherwise, on purpose (docs/gearman.md says why):
 * the gateway's answer, handles and pids masked.
 */
const DIFFERENCES: Record<string, RegExp> = {
  // the message names what was refused
  optionBogus: /^ERROR\("UNKNOWN_OPTION","Server does not recognize given option \\"bogus\\""\)$/,
  sched: /^ERROR\("INVALID_COMMAND","Command not expected: SUBMIT_JOB_SCHED"\)$/,
  resSentAsReq: /^ERROR\("INVALID_COMMAND","Command not expected: JOB_CREATED"\)$/,
  allYours: /^ERROR\("INVALID_COMMAND","Command not expected: ALL_YOURS"\) ECHO_RES\("after"\)$/,
  // map/reduce is not offered
  reduce: /^ERROR\("INVALID_COMMAND","Command not expected: SUBMIT_REDUCE_JOB"\)$/,
  reduceBg: /^ERROR\("INVALID_COMMAND","Command not expected: SUBMIT_REDUCE_JOB_BACKGROUND"\)$/,
  // an unknown packet costs an ERROR, not the connection
  unknownType: /^ERROR\("INVALID_COMMAND","Invalid command 99"\)$/,
  // a job no worker can ever take is refused instead of kept
  submitEmptyFn: /^ERROR\("INVALID_ARGUMENT","Function name is empty"\)$/,
  admin_version: /^TEXT "OK dips-[^"]+\\n"$/,
  admin_verbose: /^TEXT "OK (TRACE|DEBUG|INFO|WARN|ERROR|FATAL|SILENT)\\n"$/,
  // gearmand appends a NUL to the handle of the WORK_FAIL that stands for an exception; the gateway sends the handle alone
  flow_plain_exc: /WORK_FAIL\("H:\*"\)$/,
  // after WORK_EXCEPTION the gateway also sends WORK_FAIL: clients that wait for a final packet (Perl's Gearman::Client) end the job
  flow_exceptions_exc: /WORK_EXCEPTION\("H:\*","boom"\) WORK_FAIL\("H:\*"\)$/,
};

const mask = (s: string) => s.replace(/H:[^:"]+:\d+/g, 'H:*').replace(/"OK \d+\\n"/g, '"OK <pid>\\n"');

test('every probe: the gateway answers as gearmand, or as docs/gearman.md says it differs', async () => {
  const gearmandPort = await freePort();
  const gearmand = spawn('gearmand', ['-p', String(gearmandPort), '-L', '127.0.0.1', '--log-file', 'none'], { stdio: 'ignore' });
  const cluster = await startCluster();
  const port = await freePort();
  const gateway = await startProcess('gateway', cluster, { DIPS_GATEWAY_PORT: String(port) });
  try {
    await waitFor(async () => (await runPhp(`$c = new GearmanClient(); $c->addServer('127.0.0.1', ${gearmandPort}); echo @$c->ping('x') ? 'up' : 'down';`)).stdout.toString() === 'up', 10_000, 'gearmand');
    const expected = await probeAll(gearmandPort);
    const actual = await probeAll(port);
    for (const name of Object.keys(expected)) {
      const ours = mask(actual[name]);
      const theirs = mask(expected[name]);
      const documented = DIFFERENCES[name];
      if (documented) {
        assert.ok(ours !== theirs, `${name}: documented as different but now the same as gearmand (${ours}): update docs/gearman.md and this list`);
        assert.match(ours, documented, `${name}: gearmand ${theirs}`);
      } else assert.is(ours, theirs, `${name}: gateway ${ours}; gearmand ${theirs}`);
    }
  } finally {
    gearmand.kill('SIGKILL');
    await gateway.stop();
    await cluster.stop();
  }
});

test.run();
