/**
 * Rapport's composition root: the one place that turns settings into working parts. Given the
 * configuration (worker/config.ts), a customer database and a Temporal client, it builds the
 * channels (email, SMS), the event intake with its router, the activities, and on demand the worker
 * and the HTTP API, wired the same way for every caller:
 *
 * - `rapport start` (worker/start.ts), after it has started or reached Temporal and the database;
 * - the test stack (client/tools/testing/stack.ts), with the test's own settings in the same Config;
 * - the fault-injection worker (test/fixtures/workers/crash-worker.ts) and the benchmarks.
 *
 * What differs between them is a setting (an environment variable parsed into Config) or one of the
 * few overrides below, each for what a configuration cannot say: a test's fault hooks, a timeout
 * shorter than any user would set, a prebuilt workflow bundle.
 */
import { parseShare } from '../definitions/holdout';
import type { Scoring } from '../definitions/scoring';
import path from 'node:path';
import v8 from 'node:v8';
import { Client, type ClientOptions, type Connection } from '@temporalio/client';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Logger } from 'pino';
import { type Activities, type ActivityDeps, createActivities } from '../activities';
import { createMailer, type Mailer } from '../activities/channels/email';
import { createOutboxSmsSender, createTwilioSender, type SmsSender } from '../activities/channels/sms';
import { unsubscribeKeys } from '../activities/channels/unsubscribe';
import { createPreviews } from '../activities/previews';
import { createSendLimiter } from '../activities/send-rate';
import type { OpenDatabase } from '../activities/db/database';
import type { WebhookPolicy } from '../activities/webhook';
import type { ChannelSettings } from '../client/server/api/channel-callbacks';
import { buildApi } from '../client/server/api/server';
import { EventIntake } from '../client/server/events/intake';
import type { Simulator } from '../client/server/journeys/simulation';
import type { RouterDeps } from '../client/server/events/router';
import { createDataProtection, dataConverterOf, type DataProtection } from '../client/server/protection';
import { keptWorkflowBundle } from './bundle';
import {
  codecOrigins,
  masterKey,
  policySettings,
  publicUrl,
  unsubscribeSecrets,
  webhookPolicy,
  type Config,
} from './config';

/**
 * How far a V8 heap may grow past what survived its last full collection before the next one, in
 * percent. V8's own choice reaches 300 % on a heap that collects quickly, and the workflow thread's
 * heap (journeys cached between their workflow tasks, and the garbage their replays leave) then sat
 * at up to four times what it kept alive: 570 MiB for 140 MiB alive. At 50 % it stays within half
 * again, for a few more collections of some milliseconds each (bench/README.md, memory). A V8 flag
 * given to node (`--heap-growing-percent`) wins.
 */
const HEAP_GROWING_PERCENT = 50;

function boundHeapGrowth(): void {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('heap-growing-percent'));
  if (!given) v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

export interface RapportDeps {
  /** The customer database; without `locks`, each customer's events are kept in order within this process only. */
  database: Pick<OpenDatabase, 'db'> & Partial<Pick<OpenDatabase, 'locks'>>;
  /** Temporal, for the client Rapport builds on it (with its codec: client/server/protection.ts). */
  connection: Connection;
  logger: Logger;
  /** The lead scoring rules (RAPPORT_SCORING_FILE, read at start); without them nothing is scored. */
  scoring?: Scoring | undefined;
}

/** What a configuration cannot say. */
export interface RapportOverrides {
  /** Where the outbox is (mail and SMS without a provider); default `<RAPPORT_DATA_DIR>/outbox`. */
  outboxDir?: string;
  /** The mailer's wait for the SMTP server's reply, in ms (tests of a server that never answers). */
  smtpTimeoutMs?: number;
  /** The wait for Twilio's answer, in ms. */
  twilioTimeoutMs?: number;
  /** Instead of RAPPORT_WEBHOOK_HOSTS and RAPPORT_WEBHOOK_ALLOW_PRIVATE. */
  webhooks?: WebhookPolicy;
  /** Called at each point of a send (fault injection: see reliability notes). */
  onSendPoint?: ActivityDeps['onSendPoint'];
  /** Called at each point of routing (fault injection). */
  onRoutePoint?: RouterDeps['onRoutePoint'];
  /** Journeys continue as new after this many steps (fault injection at continue-as-new). */
  maxStepsPerRun?: number;
  /** Wraps the activities the worker runs, to inject a fault or hold one at a chosen point. */
  wrapActivities?: (activities: Activities) => Activities;
  /** Makes the Temporal client from Rapport's options (a test's time-skipping client). */
  newClient?: (options: ClientOptions) => Client;
}

export interface RapportParts {
  config: Config;
  /** The Temporal client, whose payloads are encrypted per customer. */
  temporal: Client;
  /** The payload codec and its keys. */
  protection: DataProtection;
  intake: EventIntake;
  activities: Activities;
  mailer: Mailer;
  sms: SmsSender;
  channels: ChannelSettings;
  outboxDir: string;
  taskQueue: string;
  /**
   * A worker on the task queue with Rapport's workflows and activities; run it with `run()`. Its
   * options default to Rapport's (the workflow bundle kept per version of the sources, the cache
   * bound of RAPPORT_MAX_CACHED_WORKFLOWS); a test or a benchmark may set others.
   */
  createWorker(
    connection: NativeConnection,
    options?: Partial<Omit<WorkerOptions, 'connection' | 'namespace' | 'taskQueue' | 'activities'>>,
  ): Promise<Worker>;
  /**
   * The HTTP API, not yet listening. `onPublished` runs after a journey is published, paused or
   * resumed; `simulate` plays a journey out on the time-skipping server (client/tools/simulate).
   */
  createApi(options?: {
    onPublished?: (journeyId: string) => Promise<void>;
    simulate?: Simulator;
  }): ReturnType<typeof buildApi>;
  /** Closes what the parts hold open (the SMTP pool); the database and Temporal belong to the caller. */
  close(): void;
}

export function createRapport(config: Config, deps: RapportDeps, overrides: RapportOverrides = {}): RapportParts {
  const { database, logger } = deps;
  const master = masterKey(config);
  if (master.generated) {
    logger.info(
      'customer data sent to Temporal is encrypted with keys wrapped by a master key kept in the data folder; set RAPPORT_MASTER_KEY when several instances share a database',
    );
  }
  const protection = createDataProtection(database.db, master.key);
  const dataConverter = dataConverterOf(protection);
  const temporal = (overrides.newClient ?? ((options) => new Client(options)))({
    connection: deps.connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter,
  });
  const outboxDir = overrides.outboxDir ?? path.join(config.RAPPORT_DATA_DIR, 'outbox');
  const taskQueue = config.TEMPORAL_TASK_QUEUE;

  const mailer = createMailer({
    smtpUrl: config.SMTP_URL,
    outboxDir,
    ...(overrides.smtpTimeoutMs ? { timeoutMs: overrides.smtpTimeoutMs } : {}),
  });
  const secrets = unsubscribeSecrets(config);
  if (secrets.generated) {
    logger.info(
      'unsubscribe links are signed with a secret kept in the data folder; set RAPPORT_UNSUBSCRIBE_SECRET when several instances send',
    );
  }
  const keys = unsubscribeKeys(secrets.current, secrets.previous);
  const channels: ChannelSettings = {
    publicUrl: publicUrl(config),
    unsubscribeKeys: keys,
    twilioAuthToken: config.TWILIO_AUTH_TOKEN,
    emailWebhookSecret: config.RAPPORT_EMAIL_WEBHOOK_SECRET,
    mailgunSigningKey: config.MAILGUN_WEBHOOK_SIGNING_KEY,
    smsHelpText: config.RAPPORT_SMS_HELP_TEXT,
    textsDir: config.RAPPORT_TEXTS_DIR,
  };
  const sms =
    config.TWILIO_ACCOUNT_SID && config.TWILIO_AUTH_TOKEN
      ? createTwilioSender({
          accountSid: config.TWILIO_ACCOUNT_SID,
          authToken: config.TWILIO_AUTH_TOKEN,
          from: config.TWILIO_FROM,
          messagingServiceSid: config.TWILIO_MESSAGING_SERVICE_SID,
          statusCallbackUrl: `${channels.publicUrl}/webhooks/twilio/status`,
          apiUrl: config.TWILIO_API_URL,
          ...(overrides.twilioTimeoutMs ? { timeoutMs: overrides.twilioTimeoutMs } : {}),
        })
      : createOutboxSmsSender(outboxDir);

  // The sending limits, shared with every other process through the database.
  const sendRate = config.RAPPORT_SEND_RATE ? createSendLimiter(database.db, config.RAPPORT_SEND_RATE) : undefined;

  const intake = new EventIntake({
    db: database.db,
    temporal,
    taskQueue,
    logger,
    locks: database.locks,
    protection,
    onRoutePoint: overrides.onRoutePoint,
    maxStepsPerRun: overrides.maxStepsPerRun,
    globalHoldout: parseShare(config.RAPPORT_GLOBAL_HOLDOUT),
    lapseBelow: config.RAPPORT_LAPSE_BELOW,
    scoring: deps.scoring,
  });
  const real = createActivities({
    enroll: intake.enrollScheduled,
    segments: intake.segments,
    db: database.db,
    mailer,
    sms,
    mailFrom: config.MAIL_FROM,
    replyTo: config.MAIL_REPLY_TO,
    unsubscribe: { keys, publicUrl: channels.publicUrl },
    logger,
    webhooks: overrides.webhooks ?? webhookPolicy(config),
    policy: policySettings(config),
    sendRate,
    ...(overrides.onSendPoint ? { onSendPoint: overrides.onSendPoint } : {}),
  });
  const activities = overrides.wrapActivities ? overrides.wrapActivities(real) : real;

  return {
    config,
    temporal,
    protection,
    intake,
    activities,
    mailer,
    sms,
    channels,
    outboxDir,
    taskQueue,
    async createWorker(connection, options = {}) {
      // Set before the worker starts its workflow thread, whose heap is the one that grows.
      boundHeapGrowth();
      return Worker.create({
        maxCachedWorkflows: config.RAPPORT_MAX_CACHED_WORKFLOWS,
        ...options,
        workflowBundle: options.workflowBundle ?? (await keptWorkflowBundle()),
        dataConverter,
        connection,
        namespace: config.TEMPORAL_NAMESPACE,
        taskQueue,
        activities,
      });
    },
    createApi(options = {}) {
      return buildApi({
        db: database.db,
        intake,
        temporal,
        taskQueue,
        protection,
        outboxDir,
        logger,
        allowHttpWebhooks: config.RAPPORT_WEBHOOK_ALLOW_HTTP,
        codecOrigins: codecOrigins(config),
        channels,
        previews: createPreviews({
          db: database.db,
          mailer,
          sms,
          mailFrom: config.MAIL_FROM,
          replyTo: config.MAIL_REPLY_TO,
          publicUrl: channels.publicUrl,
          sendRate,
        }),
        rateLimit: { perKey: config.RAPPORT_RATE_LIMIT, public: config.RAPPORT_PUBLIC_RATE_LIMIT },
        eventMaxBytes: config.RAPPORT_EVENT_MAX_BYTES,
        templatesDir: config.RAPPORT_TEMPLATES_DIR,
        ...(options.onPublished ? { onPublished: options.onPublished } : {}),
        ...(options.simulate ? { simulate: options.simulate } : {}),
      });
    },
    close() {
      mailer.close();
    },
  };
}
