/**
 * Intermediate messages of a job, streamed to the caller before its final
 * reply: data, warnings and status (numerator/denominator). They travel on the
 * request's reply subject with a Dips-Event header; the final reply has none.
 */
import { headers as natsHeaders, type Msg, type MsgHdrs } from 'nats';

export const EVENT_HEADER = 'Dips-Event';
export type JobEventKind = 'data' | 'warning' | 'status';

export interface JobEvent {
  kind: JobEventKind;
  data: Uint8Array;
  numerator?: number;
  denominator?: number;
}

export function eventHeaders(kind: JobEventKind): MsgHdrs {
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
