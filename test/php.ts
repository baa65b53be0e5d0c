/** Running real PHP (php8.2-cli with the gearman extension) from tests. */
import { spawn } from 'node:child_process';

export interface PhpResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Run a PHP script given as source text; stdin optional. */
export function runPhp(source: string, stdin?: Uint8Array, timeoutMs = 60_000): Promise<PhpResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('php', ['-d', 'display_errors=stderr', '-r', source.replace(/^<\?php\s*/, '').replace(/\?>\s*$/, '')], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.end(stdin ?? Buffer.alloc(0));
  });
}
