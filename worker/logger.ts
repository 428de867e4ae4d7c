/**
 * Logs through pino: readable lines in a terminal, JSON elsewhere. Customer data is redacted by
 * field name wherever it appears in a log record.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

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

/** A database error quotes the values it refused: `Key (email)=(ann@example.com) already exists`. */
const QUOTED_KEY = /(Key \([^)]*\))=\((?:[^()]|\([^)]*\))*\)/g;

/**
 * Errors as pino's standard serializer gives them, without what quotes customer data: PostgreSQL's
 * `detail` (the row or key a constraint refused), `where` and query parameters, and quoted keys in
 * the message.
 */
function scrubbedError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const out: Record<string, unknown> = { ...pino.stdSerializers.err(err) };
  for (const field of ['detail', 'where', 'parameters', 'params', 'internalQuery']) delete out[field];
  for (const field of ['message', 'stack']) {
    const text = out[field];
    if (typeof text === 'string') out[field] = text.replace(QUOTED_KEY, '$1=([redacted])');
  }
  return out;
}

export function createLogger(
  options: { level?: string; format?: 'pretty' | 'json' | undefined; destination?: DestinationStream } = {},
): Logger {
  const pretty = !options.destination && (options.format ?? (process.stdout.isTTY ? 'pretty' : 'json')) === 'pretty';
  const settings = {
    level: options.level ?? 'info',
    base: { service: 'rapport' },
    redact: { paths: redactPaths, censor: '[redacted]' },
    serializers: { err: scrubbedError, error: scrubbedError },
  };
  if (options.destination) return pino(settings, options.destination);
  return pino({
    ...settings,
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
