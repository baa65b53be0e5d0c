/**
 * A package as a user gets it: `npm pack` of a folder, and npm run where the
 * user's project is, and the README's example a user pastes. Shared by package.test.ts (dips) and
 * client-package.test.ts (dips-client).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/shared/config.js';

/** A command run to its end (npm: no audit, no funding notices), its output as text. */
export const run = (cmd: string, args: string[], cwd: string) =>
  spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 300_000, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' } });

/** `npm pack` of the package in `dir` (its prepack script included) into `destination`: the tarball's path and the files it holds. */
export function pack(dir: string, destination: string): { tarball: string; files: string[] } {
  const packed = run('npm', ['pack', '--pack-destination', destination, '--json'], dir);
  if (packed.status !== 0) throw new Error(`npm pack in ${dir} failed (exit ${packed.status}): ${packed.stderr}`);
  const [result] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  return { tarball: `${destination}/${result.filename}`, files: result.files.map((f) => f.path) };
}

/** The README's "From TypeScript" example, exactly as a user would paste it. */
export function readmeExample(): string {
  const readme = readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
  const from = readme.indexOf('```ts\n', readme.indexOf('From TypeScript'));
  return readme.slice(from + 6, readme.indexOf('```\n', from + 6));
}
