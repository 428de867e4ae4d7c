/**
 * Rapport's configuration: one zod schema over the environment, parsed once at start. Every bad
 * value is reported at once, by variable name, with what was expected.
 */
import { SHARE_PATTERN } from '../definitions/holdout';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_POLICY, parseCap, parseQuietHours, type PolicySettings } from '../activities/policy';
import { parseSendRates, type SendRates } from '../activities/send-rate';
import { projectRoot, builtinTemplatesDir, builtinJourneysDir, builtinScoringFile } from '../paths';

const port = (what: string) =>
  z.coerce
    .number({ error: `expected a port number for ${what}` })
    .int('expected a whole number')
    .min(1, 'expected a port between 1 and 65535')
    .max(65535, 'expected a port between 1 and 65535');

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const url = (protocols: string[], example: string) =>
  optionalText.pipe(
    z
      .string()
      .refine(
        (v) => {
          try {
            return protocols.includes(new URL(v).protocol);
          } catch {
            return false;
          }
        },
        { message: `expected a URL such as ${example}` },
      )
      .optional(),
  );

/** Journeys a worker keeps cached: see RAPPORT_MAX_CACHED_WORKFLOWS. */
const DEFAULT_MAX_CACHED_WORKFLOWS = 300;

const configSchema = z.object({
  /** Where the embedded Temporal server, PGlite and the outbox keep their files. */
  RAPPORT_DATA_DIR: z.string().min(1).default(path.join(projectRoot, 'data')),
  RAPPORT_HOST: z.string().min(1).default('127.0.0.1'),
  RAPPORT_PORT: port('RAPPORT_PORT').default(3000),
  /** Journeys published at start: the built-in ones, plus any folder listed here (separated by ':'). */
  RAPPORT_JOURNEYS_DIRS: optionalText,
  RAPPORT_TEMPLATES_DIR: z.string().min(1).default(builtinTemplatesDir),
  /** The lead scoring rules read at start; without such a file, nothing is scored. */
  RAPPORT_SCORING_FILE: z.string().min(1).default(builtinScoringFile),
  RAPPORT_PUBLISH_BUILTINS: bool.default(true),

  /** An existing Temporal cluster; without it Rapport starts its own dev server. */
  TEMPORAL_ADDRESS: optionalText.pipe(
    z
      .string()
      .regex(/^[^\s:/]+:\d{1,5}$/, 'expected host:port, such as temporal.internal:7233')
      .optional(),
  ),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('rapport'),
  TEMPORAL_API_KEY: optionalText,
  TEMPORAL_TLS: bool.optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: optionalText,
  TEMPORAL_TLS_CLIENT_KEY_PATH: optionalText,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: optionalText,
  TEMPORAL_TLS_SERVER_NAME: optionalText,
  /** Ports of the embedded dev server. */
  TEMPORAL_PORT: port('TEMPORAL_PORT').default(7233),
  TEMPORAL_UI_PORT: port('TEMPORAL_UI_PORT').default(8233),

  /**
   * The embedded database when there is no DATABASE_URL: postgres (a PostgreSQL server from the npm
   * package, as a child process; the default where the package installed) or pglite (in this
   * process). A data folder PGlite already keeps the customers in stays on PGlite.
   */
  RAPPORT_EMBEDDED_DATABASE: z.enum(['postgres', 'pglite'], { error: 'expected postgres or pglite' }).optional(),
  /** PostgreSQL; without it, the embedded database in the data folder. */
  DATABASE_URL: url(['postgres:', 'postgresql:'], 'postgres://user:password@host:5432/rapport'),

  /** Connections to PostgreSQL for queries; a process of the api or all role may open as many more for its router's locks. */
  RAPPORT_DATABASE_POOL_SIZE: z.coerce
    .number({ error: 'expected a number of connections' })
    .int('expected a whole number')
    .min(2, 'expected at least 2 connections')
    .max(500, 'expected at most 500 connections')
    .default(20),

  /**
   * Seconds a PostgreSQL statement may run, and a query wait for the server's answer, before it fails
   * (and is retried where the work allows); a connection is given up after a third of it.
   */
  RAPPORT_DATABASE_TIMEOUT: z.coerce
    .number({ error: 'expected a number of seconds' })
    .int('expected a whole number of seconds')
    .min(1, 'expected at least 1 second')
    .max(3600, 'expected at most 3600 seconds')
    .default(30),

  /** Seconds between two reconciliations of enrollments and sends with Temporal (a worker's). */
  RAPPORT_RECONCILE_EVERY: z.coerce
    .number({ error: 'expected a number of seconds' })
    .int('expected a whole number of seconds')
    .min(1, 'expected at least 1 second')
    .default(60),

  /** An SMTP server; without it, mail goes to the outbox folder. */
  SMTP_URL: url(['smtp:', 'smtps:'], 'smtp://user:password@smtp.example.com:587'),
  MAIL_FROM: z.string().min(3).default('Rapport <noreply@rapport.local>'),

  /** Reply-To of email whose journey sets none. */
  MAIL_REPLY_TO: optionalText,
  /** Where customers and Twilio reach this instance (unsubscribe links, webhooks); default http://RAPPORT_HOST:RAPPORT_PORT. */
  RAPPORT_PUBLIC_URL: url(['http:', 'https:'], 'https://rapport.example.com'),
  /** Signs unsubscribe links; without it, a secret generated once and kept in the data folder. */
  RAPPORT_UNSUBSCRIBE_SECRET: optionalText.pipe(
    z.string().min(32, 'expected at least 32 characters, such as the output of `openssl rand -base64 32`').optional(),
  ),
  /**
   * Verifies POST /webhooks/email (bounces and complaints in Rapport's own shape): an HMAC-SHA256
   * secret shared with whatever posts there. Without it, that webhook refuses everything.
   */
  RAPPORT_EMAIL_WEBHOOK_SECRET: optionalText.pipe(
    z.string().min(32, 'expected at least 32 characters, such as the output of `openssl rand -base64 32`').optional(),
  ),
  /** Mailgun's webhook signing key: verifies POST /webhooks/mailgun. Without it, that webhook refuses everything. */
  MAILGUN_WEBHOOK_SIGNING_KEY: optionalText,
  /** Secrets that signed links before the current one (comma-separated): those links keep working. */
  RAPPORT_UNSUBSCRIBE_PREVIOUS_SECRETS: optionalText,
  /**
   * The master key (32 bytes, base64) that wraps each customer's data key, with which everything
   * Rapport writes to Temporal is encrypted. Default: a key made at first start in the data folder
   * (master.key). Every process sharing a database needs the same one.
   */
  RAPPORT_MASTER_KEY: optionalText.pipe(
    z
      .string()
      .refine(
        (v) => /^[A-Za-z0-9+/_-]+={0,2}$/.test(v) && Buffer.from(v, 'base64').length === 32,
        'expected 32 bytes in base64, such as the output of `openssl rand -base64 32`',
      )
      .optional(),
  ),

  /** Twilio: without an account, SMS go to the outbox folder. */
  TWILIO_ACCOUNT_SID: optionalText.pipe(
    z
      .string()
      .regex(/^AC[0-9a-fA-F]{32}$/, 'expected an Account SID: AC followed by 32 hexadecimal digits')
      .optional(),
  ),
  TWILIO_AUTH_TOKEN: optionalText,
  /** The sender: a number in E.164 form, or a Messaging Service SID. */
  TWILIO_FROM: optionalText.pipe(
    z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/, 'expected a phone number in E.164 form, such as +15005550006')
      .optional(),
  ),
  TWILIO_MESSAGING_SERVICE_SID: optionalText.pipe(
    z
      .string()
      .regex(/^MG[0-9a-fA-F]{32}$/, 'expected a Messaging Service SID: MG followed by 32 hexadecimal digits')
      .optional(),
  ),
  /** Another address for Twilio's REST API, such as a proxy; default https://api.twilio.com. */
  TWILIO_API_URL: url(['http:', 'https:'], 'https://api.twilio.com'),
  /**
   * Sending limits per channel and sender, kept in the database for every process:
   * `sms=1/s, sms:+15005550006=1/s, email=20/s, email:news@acme.example=5/s`. A channel's item
   * limits each of its senders that has no item of its own. Default: no limit.
   */
  RAPPORT_SEND_RATE: optionalText.transform((v, ctx): SendRates | undefined => {
    if (v === undefined) return undefined;
    const rates = parseSendRates(v);
    if (typeof rates !== 'string') return rates;
    ctx.addIssue({ code: 'custom', message: rates });
    return z.NEVER;
  }),
  /**
   * The answer to an SMS that says HELP, in place of the default-language text of `sms.yaml` (the
   * texts folder); customers whose locale has a variant get that variant's.
   */
  RAPPORT_SMS_HELP_TEXT: optionalText.pipe(z.string().min(1).max(320).optional()),
  /**
   * A folder of texts (`sms.yaml`, `preferences.fr.yaml`, ...) whose files replace the built-in
   * ones key by key: a deployment rewords or translates what Rapport itself says without copying it all.
   */
  RAPPORT_TEXTS_DIR: optionalText,

  /** The largest event accepted, in bytes of JSON; a larger one gets 413. */
  RAPPORT_EVENT_MAX_BYTES: z.coerce
    .number({ error: 'expected a size in bytes, such as 262144' })
    .int()
    .min(1024, 'expected at least 1024 bytes')
    .max(1024 * 1024, 'expected at most 1048576 bytes (Temporal refuses payloads over 2 MB)')
    .default(256 * 1024),
  /** Requests a minute per API key (per address for requests without one). */
  RAPPORT_RATE_LIMIT: z.coerce
    .number({ error: 'expected a number of requests a minute' })
    .int()
    .positive('expected a number of requests a minute')
    .default(6000),
  /** Requests a minute per address on public routes (unsubscribe links, Twilio's webhooks). */
  RAPPORT_PUBLIC_RATE_LIMIT: z.coerce
    .number({ error: 'expected a number of requests a minute' })
    .int()
    .positive('expected a number of requests a minute')
    .default(600),

  /**
   * Journeys the worker keeps in memory between their workflow tasks, about 0.7 MiB each. A journey
   * out of the cache costs a replay of its history when it next moves; most customers wait for days,
   * so a bound keeps memory flat as they pile up (Temporal's own default grows with the heap, about
   * 2,300). Fewer save memory at the cost of more replays (bench/README.md).
   */
  RAPPORT_MAX_CACHED_WORKFLOWS: z.coerce
    .number({ error: 'expected a number of workflows' })
    .int('expected a whole number')
    .min(2, 'expected at least 2 (the worker needs two to run)')
    .default(DEFAULT_MAX_CACHED_WORKFLOWS),

  /** Hosts (host or host:port, comma-separated) that webhook steps may call. */
  RAPPORT_WEBHOOK_HOSTS: optionalText,
  /** Let webhook steps reach private and loopback addresses (a webhook inside your own network). */
  RAPPORT_WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  /** Accept http:// webhook URLs when publishing (https is the rule). */
  RAPPORT_WEBHOOK_ALLOW_HTTP: bool.default(false),
  /**
   * Web origins (comma-separated) whose pages may call the codec endpoint from a browser: the Temporal
   * UI's. Default: the embedded dev server's UI, http://127.0.0.1:TEMPORAL_UI_PORT and localhost.
   */
  RAPPORT_CODEC_ORIGINS: optionalText,

  /**
   * A share of customers, such as 5%, kept out of all marketing journeys' sends, their goals still
   * counted: each marketing journey's report shows its lift against them. 0% (the default): none.
   */
  RAPPORT_GLOBAL_HOLDOUT: z
    .string()
    .regex(SHARE_PATTERN, { message: 'expected a share such as 5% (under 100%), or 0%' })
    .default('0%'),
  /**
   * A customer who ordered becomes `lapsed` when the value models' chance that they are still active
   * falls below this (looked at whenever the models refresh); 0 turns lapsing off.
   */
  RAPPORT_LAPSE_BELOW: z.coerce
    .number({ error: 'expected a chance between 0 and 1, such as 0.3' })
    .min(0, 'expected a chance between 0 and 1, such as 0.3')
    .max(1, 'expected a chance between 0 and 1, such as 0.3')
    .default(0.3),
  /**
   * When the value models are refitted on the customer base and everyone's segments and lifecycle
   * stages followed: a cron expression (UTC), or off. Default: 03:00 every night.
   */
  RAPPORT_INSIGHTS_REFIT: z
    .string()
    .regex(/^(off|(\S+\s+){4}\S+)$/, {
      message: 'expected a cron expression with five fields, such as "0 3 * * *", or off',
    })
    .default('0 3 * * *'),
  /** opt-in (default): marketing needs recorded consent; opt-out: allowed unless withdrawn. */
  RAPPORT_MARKETING_CONSENT: z.enum(['opt-in', 'opt-out'], { error: 'expected opt-in or opt-out' }).default('opt-in'),
  /** SMS quiet hours in the customer's local time, such as 21:00-08:00, or none. */
  RAPPORT_SMS_QUIET_HOURS: z
    .string()
    .optional()
    .refine((v) => parseQuietHours(v) !== 'invalid', { message: 'expected HH:MM-HH:MM such as 21:00-08:00, or none' }),
  /** Frequency caps per category: at most N messages in a window, such as 3/7d, or none. */
  RAPPORT_CAP_MARKETING: z
    .string()
    .optional()
    .refine((v) => parseCap(v) !== 'invalid', { message: 'expected N/<duration> such as 3/7d, or none' }),
  RAPPORT_CAP_SERVICE: z
    .string()
    .optional()
    .refine((v) => parseCap(v) !== 'invalid', { message: 'expected N/<duration> such as 10/1d, or none' }),
  /** Marketing messages to all the contacts of one account together, such as 5/7d, or none (the default). */
  RAPPORT_CAP_ACCOUNT: z
    .string()
    .optional()
    .refine((v) => parseCap(v) !== 'invalid', { message: 'expected N/<duration> such as 5/7d, or none' }),

  /**
   * What this process runs: all (the API, the router and the worker), api (the API and the router),
   * worker (the Temporal worker). Processes of one role share PostgreSQL and a Temporal server.
   */
  RAPPORT_ROLE: z.enum(['all', 'api', 'worker'], { error: 'expected all, api or worker' }).default('all'),

  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['pretty', 'json']).optional(),
});

export type Config = z.output<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Rapport's configuration has ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Settings whose value is a secret: a problem with one names it, never shows it. */
const SECRET_SETTINGS = new Set([
  'TEMPORAL_API_KEY',
  'RAPPORT_UNSUBSCRIBE_SECRET',
  'RAPPORT_UNSUBSCRIBE_PREVIOUS_SECRETS',
  'RAPPORT_MASTER_KEY',
  'TWILIO_AUTH_TOKEN',
  'RAPPORT_EMAIL_WEBHOOK_SECRET',
  'MAILGUN_WEBHOOK_SIGNING_KEY',
]);

/**
 * A bad value as a problem may show it: a secret's only by its length, a URL's without the password
 * it may hold (`postgres://rapport:***@db/rapport`), the rest as given.
 */
function shown(name: string, value: string): string {
  if (SECRET_SETTINGS.has(name)) return `a value of ${value.length} characters, not shown`;
  const url = URL.parse(value);
  if (url?.password) {
    url.password = '***';
    return JSON.stringify(url.href);
  }
  return JSON.stringify(value);
}

export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input = Object.fromEntries(Object.keys(configSchema.shape).map((k) => [k, env[k]]));
  const result = configSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => {
        const name = String(i.path[0] ?? '');
        const value = env[name];
        return `${name}: ${i.message}${value !== undefined ? ` (got ${shown(name, value)})` : ''}`;
      }),
    );
  }
  const c = result.data;
  const tlsFiles = [c.TEMPORAL_TLS_CLIENT_CERT_PATH, c.TEMPORAL_TLS_CLIENT_KEY_PATH].filter(Boolean).length;
  if (tlsFiles === 1) {
    throw new ConfigError([
      'TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH: expected both (mutual TLS) or neither',
    ]);
  }
  const twilioProblems: string[] = [];
  if (Boolean(c.TWILIO_ACCOUNT_SID) !== Boolean(c.TWILIO_AUTH_TOKEN)) {
    twilioProblems.push('TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN: expected both (SMS through Twilio) or neither');
  }
  if (c.TWILIO_ACCOUNT_SID && !c.TWILIO_FROM && !c.TWILIO_MESSAGING_SERVICE_SID) {
    twilioProblems.push('TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID: expected one, the sender of SMS');
  }
  if (twilioProblems.length > 0) throw new ConfigError(twilioProblems);
  // Unsubscribe links in mail, and the address Twilio signs its webhooks for, are the public URL.
  const publicProblems: string[] = [];
  if ((c.SMTP_URL || c.TWILIO_ACCOUNT_SID) && !c.RAPPORT_PUBLIC_URL) {
    publicProblems.push(
      `RAPPORT_PUBLIC_URL: expected the address customers and Twilio reach Rapport at, since ${c.SMTP_URL ? 'SMTP_URL' : 'TWILIO_ACCOUNT_SID'} is set: ` +
        `unsubscribe links and Twilio's webhook signatures use it, and would otherwise point at this machine (${publicUrl(c)})`,
    );
  }
  const given = c.RAPPORT_PUBLIC_URL ? URL.parse(c.RAPPORT_PUBLIC_URL) : null;
  if (given && given.protocol !== 'https:' && !/^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i.test(given.hostname)) {
    publicProblems.push(
      `RAPPORT_PUBLIC_URL: expected https:// (links carry customers' unsubscribe tokens; http is for loopback only) (got ${JSON.stringify(c.RAPPORT_PUBLIC_URL)})`,
    );
  }
  if (publicProblems.length > 0) throw new ConfigError(publicProblems);
  if (c.RAPPORT_ROLE !== 'all') {
    const missing = [
      ...(c.DATABASE_URL ? [] : ['DATABASE_URL (a PostgreSQL server)']),
      ...(c.TEMPORAL_ADDRESS ? [] : ['TEMPORAL_ADDRESS (a Temporal server)']),
    ];
    if (missing.length > 0) {
      throw new ConfigError([
        `RAPPORT_ROLE=${c.RAPPORT_ROLE} (--role): a process of one role shares the work with other processes, ` +
          `through what the embedded defaults cannot share: expected ${missing.join(' and ')}`,
      ]);
    }
  }
  return c;
}

export function publicUrl(config: Config): string {
  return (config.RAPPORT_PUBLIC_URL ?? `http://${config.RAPPORT_HOST}:${config.RAPPORT_PORT}`).replace(/\/+$/, '');
}

/** A secret kept in the data folder, made by the first process that needs it (readable by its owner only). */
function keptSecret(config: Config, name: string): string {
  const file = path.join(config.RAPPORT_DATA_DIR, name);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(config.RAPPORT_DATA_DIR, { recursive: true });
    try {
      fs.writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      // Another process wrote it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return fs.readFileSync(file, 'utf8').trim();
}

/** The unsubscribe secrets: the configured one, or one generated at first start and kept in the data folder. */
export function unsubscribeSecrets(config: Config): { current: string; previous: string[]; generated: boolean } {
  const previous = (config.RAPPORT_UNSUBSCRIBE_PREVIOUS_SECRETS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (config.RAPPORT_UNSUBSCRIBE_SECRET)
    return { current: config.RAPPORT_UNSUBSCRIBE_SECRET, previous, generated: false };
  return { current: keptSecret(config, 'unsubscribe.secret'), previous, generated: true };
}

/** The master key of customers' data keys: RAPPORT_MASTER_KEY, or the one kept in the data folder. */
export function masterKey(config: Config): { key: Buffer; generated: boolean } {
  if (config.RAPPORT_MASTER_KEY) return { key: Buffer.from(config.RAPPORT_MASTER_KEY, 'base64'), generated: false };
  return { key: Buffer.from(keptSecret(config, 'master.key'), 'base64url'), generated: true };
}

/** The origins allowed to call the codec endpoint from a browser (RAPPORT_CODEC_ORIGINS). */
export function codecOrigins(config: Config): string[] {
  if (config.RAPPORT_CODEC_ORIGINS) {
    return config.RAPPORT_CODEC_ORIGINS.split(',')
      .map((o) => o.trim().replace(/\/+$/, ''))
      .filter(Boolean);
  }
  return [`http://127.0.0.1:${config.TEMPORAL_UI_PORT}`, `http://localhost:${config.TEMPORAL_UI_PORT}`];
}

export function journeyDirs(config: Config): string[] {
  const dirs = config.RAPPORT_PUBLISH_BUILTINS ? [builtinJourneysDir] : [];
  for (const d of (config.RAPPORT_JOURNEYS_DIRS ?? '').split(path.delimiter).filter(Boolean))
    dirs.push(path.resolve(d));
  return dirs;
}

export function webhookPolicy(config: Config): { allowHosts: string[]; allowPrivate: boolean } {
  return {
    allowHosts: (config.RAPPORT_WEBHOOK_HOSTS ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean),
    allowPrivate: config.RAPPORT_WEBHOOK_ALLOW_PRIVATE,
  };
}

export function policySettings(config: Config): PolicySettings {
  const quiet = parseQuietHours(config.RAPPORT_SMS_QUIET_HOURS);
  const marketing =
    config.RAPPORT_CAP_MARKETING === undefined ? DEFAULT_POLICY.caps.marketing : parseCap(config.RAPPORT_CAP_MARKETING);
  const service = parseCap(config.RAPPORT_CAP_SERVICE);
  const account = parseCap(config.RAPPORT_CAP_ACCOUNT);
  return {
    smsQuietHours: quiet === 'invalid' ? DEFAULT_POLICY.smsQuietHours : quiet,
    marketingConsent: config.RAPPORT_MARKETING_CONSENT,
    caps: {
      ...(marketing && marketing !== 'invalid' ? { marketing } : {}),
      ...(service && service !== 'invalid' ? { service } : {}),
    },
    ...(account && account !== 'invalid' ? { accountCap: account } : {}),
  };
}
