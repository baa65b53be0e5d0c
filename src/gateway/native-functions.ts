/**
 * Functions DIPS's own workers serve, or have served: a Gearman worker may not
 * serve them (its CAN_DO is refused, an earlier registration withdrawn), or it
 * would take callers' jobs — deployed bundle functions as much as built-in
 * ones. Discovery alone shows only the workers serving now, and a function's
 * workers may all be paused, stopped or rolling when a Gearman worker asks:
 * so a name once seen served natively stays theirs, kept in the gateway's
 * store across restarts. To hand a function back to Gearman workers, an
 * operator names it in gateway.legacyFunctions.
 */
import type { Discovery } from '../mesh/discovery.js';
import type { JobStore } from './store.js';

/** Names kept at most: deployments have tens of functions; a bound keeps a misbehaving fleet from growing the store. */
const MAX_NATIVE = 4096;

export class NativeFunctions {
  private readonly known: Set<string>;

  constructor(private readonly discovery: Discovery, private readonly store?: JobStore) {
    this.known = new Set(store?.nativeFunctions() ?? []);
  }

  /** Which of `fns` are DIPS's workers' (seen in discovery now, or before). */
  async of(fns: string[]): Promise<Set<string>> {
    let grew = false;
    for (const w of await this.discovery.list()) {
      if (w.gateway || this.known.has(w.fn) || this.known.size >= MAX_NATIVE) continue;
      this.known.add(w.fn);
      grew = true;
    }
    if (grew) void this.store?.setNativeFunctions([...this.known]);
    return new Set(fns.filter((fn) => this.known.has(fn)));
  }
}
