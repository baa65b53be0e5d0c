/**
 * The one validation vocabulary for function parameters. Every message names
 * the function, the parameter, what was expected and what arrived:
 * `resize: width must be an integer from 1 to 16383, got -5`.
 */
import { badRequest } from '../shared/errors.js';
import { nearest } from '../shared/nearest.js';

export function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'a map';
  return String(value);
}

export class Params {
  /** Names the function looked at: after parsing, anything else the caller sent is a mistake (refuseUnknown). */
  private readonly read = new Set<string>();

  constructor(readonly fn: string, private readonly values: Record<string, unknown>) {}

  /** Names read without an accessor (image bytes, a binary parameter). */
  known(...names: string[]): void {
    for (const name of names) this.read.add(name);
  }

  /**
   * A parameter the function never looked at is a typo or a misunderstanding
   * (`qualty=50` would otherwise be ignored and the caller never know): refused,
   * naming it and the nearest name the function does take.
   */
  /**
   * Parse with `parse`; when it fails and the caller sent a name one typo away
   * from one it read (`widht` beside `width`), that is the mistake to report —
   * "width or height must be given" alone would hide it.
   */
  parse<T>(parse: (p: Params) => T): T {
    try {
      return parse(this);
    } catch (err) {
      const typo = Object.keys(this.values).find((name) => !this.read.has(name) && nearest(name, [...this.read]));
      if (typo) this.refuseUnknown();
      throw err;
    }
  }

  refuseUnknown(): void {
    for (const name of Object.keys(this.values)) {
      if (this.read.has(name)) continue;
      const near = nearest(name, [...this.read]);
      const hint = near ? `; did you mean ${near}?` : '';
      throw badRequest(this.fn, `unknown parameter ${JSON.stringify(name)}${hint} (it takes ${[...this.read].sort().join(', ') || 'none'})`);
    }
  }

  fail(name: string, expected: string, value: unknown = this.values[name]): never {
    throw badRequest(this.fn, `${name} must be ${expected}, got ${shown(value)}`);
  }

  has(name: string): boolean {
    this.read.add(name);
    const v = this.values[name];
    return v !== undefined && v !== null && v !== '';
  }

  raw(name: string): unknown {
    this.read.add(name);
    return this.values[name];
  }

  /** Every parameter as received (for binary parameters). */
  all(): Record<string, unknown> {
    return this.values;
  }

  /** An integer in [min, max]; numeric strings count (PHP and CLI callers send them). */
  int(name: string, min: number, max: number, fallback?: number): number {
    if (!this.has(name)) {
      if (fallback !== undefined) return fallback;
      throw badRequest(this.fn, `${name} is required (an integer from ${min} to ${max})`);
    }
    const v = this.values[name];
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) this.fail(name, `an integer from ${min} to ${max}`);
    return n;
  }

  /** A number in [min, max]. */
  number(name: string, min: number, max: number, fallback?: number): number {
    if (!this.has(name)) {
      if (fallback !== undefined) return fallback;
      throw badRequest(this.fn, `${name} is required (a number from ${min} to ${max})`);
    }
    const v = this.values[name];
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(n) || n < min || n > max) this.fail(name, `a number from ${min} to ${max}`);
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    if (!this.has(name)) return fallback;
    const v = this.values[name];
    if (typeof v === 'boolean') return v;
    if (v === 1 || v === '1' || v === 'true' || v === 'yes') return true;
    if (v === 0 || v === '0' || v === 'false' || v === 'no') return false;
    return this.fail(name, 'true or false');
  }

  /** One of a fixed set; the table is both the enum and the validator. */
  oneOf<T extends string>(name: string, allowed: readonly T[], fallback?: T): T {
    if (!this.has(name)) {
      if (fallback !== undefined) return fallback;
      throw badRequest(this.fn, `${name} is required (one of ${allowed.join(', ')})`);
    }
    const v = this.values[name];
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v.toLowerCase())) {
      this.fail(name, `one of ${allowed.join(', ')}`);
    }
    return (v as string).toLowerCase() as T;
  }

  /** Text matching a pattern (numbers are accepted as their decimal text). */
  string(name: string, pattern: RegExp, expected: string, fallback?: string): string {
    if (!this.has(name)) {
      if (fallback !== undefined) return fallback;
      throw badRequest(this.fn, `${name} is required (${expected})`);
    }
    const v = this.values[name];
    const s = typeof v === 'number' && Number.isFinite(v) ? String(v) : v;
    if (typeof s !== 'string' || !pattern.test(s)) this.fail(name, expected);
    return s as string;
  }
}
