/**
 * The dips package's client: everything in client.ts (also the caller-only
 * dips-client package), and DipsClient.fromEnv(), which reads the configuration
 * the way every DIPS process does and so needs the config loader; and, once
 * startTracing has run (fromEnv, the dips CLI), a span per call (src/shared/tracing.ts).
 */
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../shared/config.js';
import { flushTracing, startTracing, traceCall, tracingOn } from '../shared/tracing.js';
import { DipsClient as PlainClient, type CallOptions, type DipsClientOptions, type Reply } from './client.js';

export * from './client.js';

export class DipsClient extends PlainClient {
  /** A client configured the way every DIPS process is: config/default.json, DIPS_CONFIG, DIPS_* variables. */
  static fromEnv(options: Omit<DipsClientOptions, 'config'> = {}): DipsClient {
    const config = loadConfig({ argv: [] });
    // traced when tracing.otlpEndpoint says so; calls made before the SDK has loaded are not
    void startTracing(config, 'client');
    return new DipsClient({ ...options, config });
  }

  /** With tracing on (startTracing), each call is a `call <fn>` span whose sends are its children. */
  override callForReply(fn: string, input: Record<string, unknown> | Uint8Array, options: CallOptions = {}): Promise<Reply> {
    if (!tracingOn()) return super.callForReply(fn, input, options);
    const traced = { ...options, jobId: options.jobId ?? randomUUID() };
    return traceCall(fn, traced.jobId, () => super.callForReply(fn, input, traced));
  }

  /** Close, then send the spans still buffered. */
  override async close(): Promise<void> {
    await super.close();
    await flushTracing();
  }
}
