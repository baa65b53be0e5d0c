/**
 * Intermediate messages of a job, streamed to the caller before its final
 * reply: data, warnings and status (numerator/denominator). They travel on the
 * request's reply subject with a Dips-Event header; the final reply has none.
 */
import { headers as natsHeaders, type Msg, type MsgHdrs } from 'nats';

export const EVENT_HEADER = 'Dips-Event';
export type JobEventKind = 'data' | 'warning' | 'status';

/**
 * Liveness: a worker that holds a job longer than ACK_DELAY_MS says so with a
 * `working` event, then repeats it every HEARTBEAT_MS until it answers. A caller
 * that hears nothing for ACK_TIMEOUT_MS after sending (or LIVENESS_TIMEOUT_MS
 * after the last sign of life) knows the request or its worker was lost — with
 * a NATS node or a killed worker — and sends it again. Fast jobs cost no extra
 * message: they answer before the first `working`.
 */
export const WORKING = 'working';
export const ACK_DELAY_MS = 25;
export const HEARTBEAT_MS = 1000;
export const ACK_TIMEOUT_MS = 1000;
export const LIVENESS_TIMEOUT_MS = 3500;

/** Sends `working` for one job until stopped. */
export function startHeartbeat(send: () => void): () => void {
  let timer = setTimeout(function beat() {
    send();
    timer = setTimeout(beat, HEARTBEAT_MS);
  }, ACK_DELAY_MS);
  return () => clearTimeout(timer);
}

export interface JobEvent {
  kind: JobEventKind;
  data: Uint8Array;
  numerator?: number;
  denominator?: number;
}

export function eventHeaders(kind: JobEventKind | typeof WORKING): MsgHdrs {
  const h = natsHeaders();
  h.set(EVENT_HEADER, kind);
  return h;
}

export function statusPayload(numerator: number, denominator: number): Uint8Array {
  return Buffer.from(`${numerator}/${denominator}`, 'latin1');
}

export function toJobEvent(msg: Msg): JobEvent | undefined {
  const kind = msg.headers?.get(EVENT_HEADER) as JobEventKind | undefined;
  if (kind !== 'data' && kind !== 'warning' && kind !== 'status') return undefined;
  if (kind !== 'status') return { kind, data: msg.data };
  const [n, d] = Buffer.from(msg.data).toString('latin1').split('/');
  return { kind, data: msg.data, numerator: Number(n) || 0, denominator: Number(d) || 0 };
}
