/**
 * A function as the mesh lists it: one NATS service per function and worker
 * (service name `dips`, so `$SRV.INFO.dips` lists every worker), whose one
 * endpoint takes the function's jobs on `dips.fn.<token>` in the queue group
 * `<token>`. DIPS's workers (src/services/runtime.ts) and the Gearman workers a
 * gateway bridges (src/gateway/legacy.ts) register the same way, so discovery
 * and the admin `status` see both alike.
 */
import type { Msg, NatsConnection, Service } from 'nats';
import type { Logger } from '../shared/log.js';
import { repliesToInbox } from './replies.js';
import { functionSubject, functionToken, SERVICE_NAME } from './subjects.js';

export interface FunctionService {
  fn: string;
  version: string;
  /** What the function does, or who serves it (shown in $SRV.INFO). */
  description: string;
  /** Where it runs and whether a lost job may be sent again: discovery reads these (src/mesh/discovery.ts). */
  metadata: Record<string, string> & { idempotent: string };
}

/** Register the function's service; its endpoint is added by takeJobs once the caller is ready for jobs. */
export function registerFunction(nc: NatsConnection, f: FunctionService): Promise<Service> {
  return nc.services.add({ name: SERVICE_NAME, version: f.version, description: f.description, queue: functionToken(f.fn), metadata: { function: f.fn, ...f.metadata } });
}

/** Take the function's jobs: each request answered to an inbox reaches `handle` (any other is dropped, see repliesToInbox). */
export function takeJobs(service: Service, f: Pick<FunctionService, 'fn' | 'metadata'>, log: Logger, handle: (msg: Msg) => void): void {
  service.addEndpoint(functionToken(f.fn), {
    subject: functionSubject(f.fn),
    queue: functionToken(f.fn),
    metadata: { idempotent: f.metadata.idempotent },
    handler: (err, msg) => {
      if (err) {
        log.error({ err, fn: f.fn }, 'endpoint subscription failed');
        return;
      }
      if (repliesToInbox(msg, log)) handle(msg);
    },
  });
}
