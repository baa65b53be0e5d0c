/** Files that hold secrets (passwords, keys, env files): readable by their owner only, whatever was there before. */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';

export function writePrivateFile(file: string, text: string): void {
  // writeFileSync's mode applies only to a new file: an existing one is narrowed before the secret goes in
  if (existsSync(file)) chmodSync(file, 0o600);
  writeFileSync(file, text, { mode: 0o600 });
}
