/** Structured logs (pino) on stderr: JSON lines, or coloured lines when a person reads them; secrets are redacted by path. */
import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export type LogFormat = 'auto' | 'json' | 'pretty';

export function createLogger(role: string, level: string, format: LogFormat = 'auto'): Logger {
  return pino(
    {
      name: `dips-${role}`,
      level,
      base: { role, pid: process.pid },
      redact: { paths: ['*.pass', '*.token', '*.password', 'config.nats.pass', 'config.nats.token'], censor: '[redacted]' },
    },
    destination(format),
  );
}

/** JSON for machines; pino-pretty (synchronous, in this thread: no transport worker) on a terminal, as `npm start` shows. */
function destination(format: LogFormat): DestinationStream {
  const person = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true);
  if (!person) return pino.destination({ fd: 2, sync: false });
  return pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,name' });
}
