/** Every function a DIPS worker can serve, by name. */
import type { FunctionDef } from '../job.js';
import { delay } from './delay.js';
import { ecard } from './ecard/index.js';
import { echo } from './echo.js';

export const allFunctions: readonly FunctionDef[] = [ecard, echo, delay];

export function selectFunctions(names: readonly string[]): FunctionDef[] {
  if (names.length === 0) return [...allFunctions];
  return names.map((name) => {
    const def = allFunctions.find((d) => d.name === name);
    if (!def) throw new Error(`unknown function ${JSON.stringify(name)}; known: ${allFunctions.map((d) => d.name).join(', ')}`);
    return def;
  });
}
