/**
 * The dips package's client: everything in client.ts (also the caller-only
 * dips-client package), and DipsClient.fromEnv(), which reads the configuration
 * the way every DIPS process does and so needs the config loader.
 */
import { loadConfig } from '../shared/config.js';
import { DipsClient as PlainClient, type DipsClientOptions } from './client.js';

export * from './client.js';

export class DipsClient extends PlainClient {
  /** A client configured the way every DIPS process is: config/default.json, DIPS_CONFIG, DIPS_* variables. */
  static fromEnv(options: Omit<DipsClientOptions, 'config'> = {}): DipsClient {
    return new DipsClient({ ...options, config: loadConfig({ argv: [] }) });
  }
}
