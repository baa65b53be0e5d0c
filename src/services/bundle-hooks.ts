/**
 * Module resolution hook a worker registers before it imports a bundle
 * (node:module register(); Node runs it on its own hooks thread): the bare name
 * `dips/function` resolves to the worker's own function API, whatever the
 * bundle has (or lacks) in its node_modules. One copy of the API means one
 * DipsError class, and a bundle deployed as a folder of JavaScript needs no
 * npm install on the machine it runs on.
 */
interface HookData {
  /** The file URL of dist/src/services/function-api.js. */
  functionApi: string;
}

interface ResolveResult {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
}

type NextResolve = (specifier: string, context?: unknown) => ResolveResult | Promise<ResolveResult>;

export const FUNCTION_API_SPECIFIER = 'dips/function';

let functionApi = '';

export function initialize(data: HookData): void {
  functionApi = data.functionApi;
}

export function resolve(specifier: string, context: unknown, nextResolve: NextResolve): ResolveResult | Promise<ResolveResult> {
  if (specifier === FUNCTION_API_SPECIFIER && functionApi) return { url: functionApi, format: 'module', shortCircuit: true };
  return nextResolve(specifier, context);
}
