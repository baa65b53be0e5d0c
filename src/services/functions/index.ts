/** Every function a DIPS worker can serve, by name: the built-in ones, and those of a bundle (src/services/bundle.ts). */
import { ConfigError, type DipsConfig } from '../../shared/config.js';
import type { FunctionDef } from '../job.js';
import { delay } from './delay.js';
import { ecard } from './ecard/index.js';
import { echo } from './echo.js';
import { imageFunctions } from './image.js';

export function allFunctions(config: Pick<DipsConfig, 'images'>): FunctionDef[] {
  return [ecard, echo, delay, ...imageFunctions(config.images)];
}

/** What worker.functions asks for, among the built-in functions and `bundled` (the active bundle's, already checked not to clash). */
export function selectFunctions(config: Pick<DipsConfig, 'images' | 'worker'>, bundled: readonly FunctionDef[] = []): FunctionDef[] {
  const all = [...allFunctions(config), ...bundled];
  const names = config.worker.functions;
  if (names.length === 0) return all;
  return names.map((name) => {
    const def = all.find((d) => d.name === name);
    if (!def) throw new ConfigError(`invalid configuration: worker.functions: unknown function ${JSON.stringify(name)}; known: ${all.map((d) => d.name).join(', ')}`);
    return def;
  });
}
