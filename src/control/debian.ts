/**
 * The Debian packages DIPS's real peers come from, checked before `npm start`
 * and `npm test` run: missing ones are installed with apt-get when we are root
 * on Debian (as CI and a fresh machine are), otherwise one line says exactly
 * what to install.
 */
import { spawnSync } from 'node:child_process';

export interface Prerequisite {
  /** Debian package that provides it. */
  pkg: string;
  /** Is it usable now? */
  present(): boolean;
}

export class PrerequisiteMissing extends Error {
  override name = 'PrerequisiteMissing';
}

const succeeds = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

/** A command that answers `args` with exit 0. */
export const command = (pkg: string, cmd: string, args = ['--version']): Prerequisite => ({ pkg, present: () => succeeds(cmd, args) });

/** Install what is missing (root with apt-get), or throw PrerequisiteMissing naming every package. */
export function ensurePackages(prerequisites: Prerequisite[], log: (line: string) => void): void {
  const missing = () => [...new Set(prerequisites.filter((p) => !p.present()).map((p) => p.pkg))];
  let packages = missing();
  if (packages.length === 0) return;
  if (process.getuid?.() === 0 && succeeds('apt-get', ['--version'])) {
    log(`installing the Debian packages DIPS needs: ${packages.join(' ')}`);
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    packages = missing();
    if (packages.length === 0) return;
  }
  throw new PrerequisiteMissing(`missing Debian packages: ${packages.join(' ')} (as root: apt-get install -y ${packages.join(' ')})`);
}
