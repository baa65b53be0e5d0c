/** Structured JSON logs (pino) on stderr; secrets are redacted by path. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(role: string, level: string): Logger {
  return pino(
    {
      name: `dips-${role}`,
      level,
      base: { role, pid: process.pid },
      redact: { paths: ['*.pass', '*.token', '*.password', 'config.nats.pass', 'config.nats.token'], censor: '[redacted]' },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
