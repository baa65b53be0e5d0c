/**
 * Which workers the mesh has, from NATS service discovery ($SRV.INFO.dips):
 * every worker process registers one service per function it serves. The
 * admin protocol's "available workers" and "workers" come from here, and
 * `dips functions` (and the CLI's check of a function name).
 */
import { RequestStrategy, type NatsConnection } from 'nats';
import { BUILTIN_FUNCTIONS } from '../shared/builtin-functions.js';
import { functionFromToken, SERVICE_NAME } from './subjects.js';
import { LIST_FRESH_MS, GATHER_MAX_MS } from './timing.js';

export interface MeshWorker {
  id: string;
  fn: string;
  host: string;
  pid: string;
  /** Set for Gearman workers connected to a gateway: that gateway's id. */
  gateway?: string;
  idempotent: boolean;
  /** What the function does, as its worker describes it. */
  description: string;
}


export class Discovery {
  private workers: MeshWorker[] = [];
  /** Functions whose workers all declared them idempotent: derived once per refresh, read on every job. */
  private idempotent = new Set<string>();
  private refreshedAt = 0;
  private inFlight?: Promise<void>;

  constructor(private readonly nc: NatsConnection, private readonly maxAgeMs = 1000, private readonly gatherMs = 150) {}

  /**
   * Current workers for the admin commands (status, workers): gathered anew
   * unless a gathering ended within LIST_FRESH_MS — a cache a job's lookup
   * filled a moment before a worker registered must not hide that worker from
   * the `status` asked right after its first job.
   */
  async list(): Promise<MeshWorker[]> {
    if (Date.now() - this.refreshedAt > LIST_FRESH_MS) await this.refresh();
    return this.workers;
  }

  /**
   * Whether a lost request for `fn` may be sent again. DIPS's own functions
   * are; any other only once the workers seen serving it all declared it so
   * (metadata idempotent=true): a function not known yet, or declared by none,
   * is sent once and its caller told if it was lost, never run twice unasked.
   * Answers from the cache, never waits (it is on every job's path); a stale
   * cache is refreshed in the background.
   */
  isIdempotent(fn: string): boolean {
    if (BUILTIN_FUNCTIONS.includes(fn)) return true;
    const known = this.idempotent.has(fn);
    // a function not seen yet may have just appeared: look again sooner than for a known one
    if (Date.now() - this.refreshedAt > this.maxAgeMs * (known ? 5 : 1)) void this.refresh();
    return known;
  }

  async countByFunction(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const w of await this.list()) counts.set(w.fn, (counts.get(w.fn) ?? 0) + 1);
    return counts;
  }

  private refresh(): Promise<void> {
    this.inFlight ??= this.gather().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async gather(): Promise<void> {
    const found: MeshWorker[] = [];
    try {
      // Each reply gives the stragglers another gatherMs: on a loaded host the
      // workers answer spread out, and a fixed window would drop the late ones
      // from `status` (an empty mesh answers "no responders" at once).
      const replies = await this.nc.requestMany(`$SRV.INFO.${SERVICE_NAME}`, undefined, {
        strategy: RequestStrategy.JitterTimer, jitter: this.gatherMs, maxWait: GATHER_MAX_MS,
      });
      for await (const msg of replies) {
        const info = msg.json<{ id: string; description?: string; metadata?: Record<string, string>; endpoints?: Array<{ name: string }> }>();
        for (const endpoint of info.endpoints ?? []) {
          found.push({
            id: info.id, fn: functionFromToken(endpoint.name), host: info.metadata?.host ?? '?', pid: info.metadata?.pid ?? '?',
            gateway: info.metadata?.gateway, idempotent: info.metadata?.idempotent === 'true', description: info.description ?? '',
          });
        }
      }
    } catch {
      // no responders: no workers at all
    }
    this.workers = found;
    const declaredNot = new Set(found.filter((w) => !w.idempotent).map((w) => w.fn));
    this.idempotent = new Set(found.filter((w) => w.idempotent && !declaredNot.has(w.fn)).map((w) => w.fn));
    this.refreshedAt = Date.now();
  }
}
