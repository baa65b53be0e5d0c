/**
 * The names of the functions DIPS's own workers serve (src/services/functions),
 * for processes that must know them without loading the image code: the
 * Gearman gateway refuses them to Gearman workers (gateway.legacyFunctions).
 * test/fast/units.test.ts holds this list against the workers' own.
 */
export const BUILTIN_FUNCTIONS: readonly string[] = [
  'ecard', 'echo', 'delay',
  'resize', 'thumbnail', 'crop', 'rotate', 'flip', 'flop', 'extend', 'blur', 'sharpen', 'modulate', 'grayscale', 'trim', 'watermark',
  'convert', 'pipeline', 'info',
];

/** Whether a Gearman worker may serve `fn` under gateway.legacyFunctions (see its doc). */
export function legacyMayServe(fn: string, allowed: readonly string[]): boolean {
  if (allowed.includes(fn)) return true;
  return allowed.includes('*') && !BUILTIN_FUNCTIONS.includes(fn);
}
