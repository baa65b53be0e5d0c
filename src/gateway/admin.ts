/**
 * gearmand's text admin protocol on the same port: status, workers, version,
 * getpid, maxqueue, prioritystatus, show jobs, show unique jobs, cancel job,
 * verbose. Output formats follow gearmand 1.1 so gearadmin and monitoring
 * scripts read it unchanged.
 */
import { version } from '../shared/process.js';
import type { Discovery } from '../mesh/discovery.js';
import type { Job, Jobs } from './jobs.js';

export interface AdminContext {
  jobs: Jobs;
  discovery: Discovery;
  /** One line per client connection: "fd ip client-id :" plus legacy functions. */
  connections(): string[];
  logLevel: string;
  /** This gateway's id: its own Gearman workers are listed as connections, not again from discovery. */
  gatewayId: string;
  /** Whether the connection asking may change state (maxqueue, cancel job): see mayChangeState. */
  mayChangeState: boolean;
}

/** Commands that change what the gateway does, not only show it. */
const STATE_CHANGING = new Set(['maxqueue', 'cancel']);

/**
 * Anyone who reaches the port may submit (gearmand's contract), but limiting
 * queues or cancelling others' jobs is an operator's act: from loopback only,
 * unless gateway.remoteAdmin says the network is the operator's.
 */
export function mayChangeState(remoteAddress: string, remoteAdmin: boolean): boolean {
  return remoteAdmin || remoteAddress.startsWith('127.') || remoteAddress === '::1' || remoteAddress.startsWith('::ffff:127.');
}

const OK = 'OK\r\n';
/**
 * A name a client chose (function, unique id, client id) as one field of a
 * text answer: tabs and newlines in it would forge columns and rows that
 * gearadmin and monitoring scripts read as real, so control bytes show as `?`.
 */
export function adminField(name: string): string {
  return name.replace(/[\x00-\x1f\x7f]/g, '?');
}

const ERR_ARGS = (cmd: string) => `ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+${cmd}\r\n`;

export async function runAdminCommand(line: string, ctx: AdminContext): Promise<string> {
  const argv = line.trim().split(/\s+/);
  const cmd = argv[0].toLowerCase();
  if (STATE_CHANGING.has(cmd) && !ctx.mayChangeState) return `ERR NOT_ALLOWED ${cmd}+is+taken+from+loopback+only+(gateway.remoteAdmin)\r\n`;
  switch (cmd) {
    case 'status':
      return (await statusLines(ctx)).map(([fn, total, running, workers]) => `${adminField(fn)}\t${total}\t${running}\t${workers}\n`).join('') + '.\n';
    case 'prioritystatus': {
      const rows = await statusLines(ctx);
      const queued = countJobs(ctx, (j) => j.state === 'waiting', (j) => `${j.fn}\0${j.priority}`);
      return rows.map(([fn, , , workers]) => `${adminField(fn)}\t${queued.get(`${fn}\0high`) ?? 0}\t${queued.get(`${fn}\0normal`) ?? 0}\t${queued.get(`${fn}\0low`) ?? 0}\t${workers}\n`).join('') + '.\n';
    }
    case 'workers': {
      const lines = [...ctx.connections()];
      const byWorker = new Map<string, { host: string; fns: string[] }>();
      for (const w of await ctx.discovery.list()) {
        if (w.gateway === ctx.gatewayId) continue;
        const key = `${w.host}:${w.pid}`;
        const entry = byWorker.get(key) ?? { host: w.host, fns: [] };
        entry.fns.push(w.fn);
        byWorker.set(key, entry);
      }
      // Mesh workers have no socket here: "-" stands for the fd, the pid names them.
      for (const [key, w] of byWorker) {
        const pid = key.split(':').pop()!;
        lines.push(`- ${w.host} ${pid.startsWith('gearman-') ? pid : `nats-worker-${pid}`} : ${w.fns.sort().map(adminField).join(' ')}`);
      }
      return lines.map((l) => `${l}\n`).join('') + '.\n';
    }
    case 'version':
      return `OK dips-${version}\n`;
    case 'getpid':
      return `OK ${process.pid}\n`;
    case 'verbose':
      return `OK ${ctx.logLevel.toUpperCase()}\n`;
    case 'maxqueue': {
      // gearmand: `maxqueue fn` lifts the limit, `maxqueue fn n` sets it for every priority, `maxqueue fn h n l` for each
      const sizes = argv.slice(2, 5).map(Number);
      if (argv.length < 2 || sizes.some((n) => !Number.isSafeInteger(n) || n < 0)) return ERR_ARGS('maxqueue');
      ctx.jobs.setMaxQueue(argv[1], sizes);
      return OK;
    }
    case 'show':
      if (argv.length === 2 && argv[1].toLowerCase() === 'jobs') {
        return [...ctx.jobs.all()].map((j) => `${j.handle}\t0\t0\t${j.state === 'waiting' ? 1 : 0}\n`).join('') + '.\n';
      }
      if (argv.length === 3 && argv[1].toLowerCase() === 'unique' && argv[2].toLowerCase() === 'jobs') {
        return [...ctx.jobs.all()].map((j) => `${adminField(j.unique)}\n`).join('') + '.\n'; // gearmand's form: the unique id alone, one line per job
      }
      return 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n';
    case 'cancel':
      // the job never runs (or its result is dropped) and its waiting clients get WORK_FAIL
      if (argv.length === 3 && argv[1].toLowerCase() === 'job') return ctx.jobs.cancel(argv[2]) ? OK : 'ERR UNKNOWN_JOB\r\n';
      return ERR_ARGS('cancel');
    case 'shutdown':
      return 'ERR SHUTDOWN_REFUSED Stop+the+gateway+with+SIGTERM+(systemctl+stop+dips-gateway)\r\n';
    default:
      return `ERR UNKNOWN_COMMAND Unknown+server+command${argv[0]}\r\n`;
  }
}

/** [function, total jobs, running jobs, available workers] for every function known here or on the mesh. */
async function statusLines(ctx: AdminContext): Promise<Array<[string, number, number, number]>> {
  const workers = await ctx.discovery.countByFunction();
  const total = countJobs(ctx, () => true, (j) => j.fn);
  const running = countJobs(ctx, (j) => j.state === 'running', (j) => j.fn);
  const names = new Set([...workers.keys(), ...total.keys()]);
  return [...names].sort().map((fn) => [fn, total.get(fn) ?? 0, running.get(fn) ?? 0, workers.get(fn) ?? 0]);
}

function countJobs(ctx: AdminContext, filter: (j: Job) => boolean, key: (j: Job) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const job of ctx.jobs.all()) if (filter(job)) counts.set(key(job), (counts.get(key(job)) ?? 0) + 1);
  return counts;
}
