/**
 * What a caller's connection takes from the configuration (nats.*,
 * gateway.retries, queue.maxWaitingBytes) and their defaults, without the
 * config loader: the caller-only package (dips-client) carries this module
 * and neither convict nor config files. The schema in config.ts takes its
 * defaults for these keys from here, so each default is written once.
 */
import os from 'node:os';

/** nats.* (docs/configuration.md). */
export interface NatsSettings {
  servers: string[];
  preferFirst: boolean;
  user: string;
  pass: string;
  token: string;
  passFile: string;
  inboxPrefix: string;
  tls: { ca: string; cert: string; key: string };
  pingIntervalMs: number;
  requestTimeoutMs: number;
  maxPayloadBytes: number;
  name: string;
}

/** The keys a DipsClient reads; a whole DipsConfig is one. */
export interface ClientConfig {
  nats: NatsSettings;
  gateway: { retries: number };
  queue: { maxWaitingBytes: number };
}

export const CLIENT_DEFAULTS: ClientConfig = {
  nats: {
    servers: ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4223'],
    preferFirst: true,
    user: '',
    pass: '',
    token: '',
    passFile: '',
    inboxPrefix: '_INBOX',
    tls: { ca: '', cert: '', key: '' },
    pingIntervalMs: 500,
    requestTimeoutMs: 30_000,
    maxPayloadBytes: 16 * 1024 * 1024,
    name: '',
  },
  gateway: { retries: 2 },
  queue: { maxWaitingBytes: 0 },
};

/** Why a value is not a list of NATS server URLs, or undefined when it is one. */
export function natsServersProblem(value: unknown): string | undefined {
  if (!Array.isArray(value) || value.length === 0) return 'must be a non-empty comma-separated list of nats://host:port URLs';
  for (const url of value) {
    if (typeof url !== 'string' || !/^(nats|tls|wss?):\/\/[^\s/]+:\d+$|^[^\s/:]+:\d+$/.test(url)) {
      return `must be a list of nats://host:port URLs, got ${JSON.stringify(url)}`;
    }
  }
  return undefined;
}

/** NATS settings a program passes itself: any of nats.*, each TLS file on its own. */
export type NatsOptions = Partial<Omit<NatsSettings, 'tls'>> & { tls?: Partial<NatsSettings['tls']> };

/**
 * The defaults with `nats` (and `servers`, which wins) over them; a bad server
 * list throws a TypeError naming it. No file or environment variable is read.
 */
export function clientConfig(options: { servers?: string[]; nats?: NatsOptions } = {}): ClientConfig {
  const nats: NatsSettings = {
    ...CLIENT_DEFAULTS.nats,
    ...options.nats,
    tls: { ...CLIENT_DEFAULTS.nats.tls, ...options.nats?.tls },
    servers: [...(options.servers ?? options.nats?.servers ?? CLIENT_DEFAULTS.nats.servers)],
  };
  const problem = natsServersProblem(nats.servers);
  if (problem) throw new TypeError(`DipsClient: servers ${problem}`);
  return { nats, gateway: { ...CLIENT_DEFAULTS.gateway }, queue: { ...CLIENT_DEFAULTS.queue } };
}

/** queue.maxWaitingBytes in force: the configured bytes, or a quarter of this machine's memory. */
export function maxWaitingBytes(config: Pick<ClientConfig, 'queue'>): number {
  return config.queue.maxWaitingBytes || Math.floor(os.totalmem() / 4);
}
