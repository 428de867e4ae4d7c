/**
 * Logs through pino: readable lines in a terminal, JSON elsewhere. Customer data is redacted by
 * field name wherever it appears in a log record.
 */
import pino, { type Logger } from 'pino';

const REDACTED_FIELDS = [
  'email',
  'phone',
  'to',
  'firstName',
  'lastName',
  'first_name',
  'last_name',
  'address',
  'text',
  'html',
  'subject',
  'body',
  'profile',
];

const redactPaths = REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);

export function createLogger(options: { level?: string; format?: 'pretty' | 'json' | undefined } = {}): Logger {
  const pretty = (options.format ?? (process.stdout.isTTY ? 'pretty' : 'json')) === 'pretty';
  return pino({
    level: options.level ?? 'info',
    base: { service: 'rapport' },
    redact: { paths: redactPaths, censor: '[redacted]' },
    ...(pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: { colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss', ignore: 'pid,hostname,service' },
          },
        }
      : {}),
  });
}

export type { Logger };
