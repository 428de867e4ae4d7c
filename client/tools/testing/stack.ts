/**
 * Rapport assembled in the test process on the time-skipping server: an in-memory PGlite (or the
 * PostgreSQL at `databaseUrl`), and the worker, the intake and the HTTP API (called through
 * Fastify's inject) built by the same composition root as `rapport start` (worker/rapport.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { TimeSkippingClient } from '@temporalio/testing/lib/client';
import pino, { type Logger } from 'pino';
import type { Activities } from '../../../activities';
import { migrate, openDatabase, openMemoryDatabase, type OpenDatabase } from '../../../activities/db/database';
import type { WebhookPolicy } from '../../../activities/webhook';
import type { Api } from '../../server/api/server';
import type { EventIntake } from '../../server/events/intake';
import { type DataProtection, dataConverterOf } from '../../server/protection';
import { publishFolders } from '../../server/journeys/publish';
import { builtinTemplatesDir, builtinJourneysDir } from '../../../paths';
import { workflowBundle } from './environment';
import { syncSchedule } from '../../../worker/schedules';
import { parseConfig } from '../../../worker/config';
import { createRapport } from '../../../worker/rapport';
import type { Scoring } from '../../../definitions/scoring';
import type { Simulator } from '../../server/journeys/simulation';

export interface TestStack {
  db: OpenDatabase['db'];
  /**
   * Rapport's Temporal client: it reads and writes the encrypted payloads (client/server/protection.ts).
   * On the time-skipping server, waiting for a result through it lets time skip (as env.client does).
   */
  temporal: Client;
  /** The same, except that it never moves the time-skipping server's clock. */
  plainTemporal: Client;
  protection: DataProtection;
  api: Api;
  intake: EventIntake;
  taskQueue: string;
  outboxDir: string;
  /** Publishes journeys given as YAML text (file name → source); returns what was published. */
  publish(sources: Record<string, string>): Promise<{ journey: string; version: number; created: boolean }[]>;
  /** Posts an event through the API, waiting for it to be routed; the receipt (failing on anything but 202). */
  sendEvent(event: Record<string, unknown>): Promise<{
    customerId: string;
    enrolled: { journey: string; workflowId: string; version: number }[];
    signalled: { journey: string }[];
    notEnrolled: { journey: string; reason: string }[];
  }>;
  /** Stops the worker (as a crash or a deploy would), then starts a new one. */
  stopWorker(): Promise<void>;
  startWorker(): Promise<void>;
  close(): Promise<void>;
}

export interface TestStackOptions {
  smtpUrl?: string;
  /** Lead scoring rules (definitions/scoring.ts readScoring); default: none, nothing is scored. */
  scoring?: Scoring | undefined;
  /** Folders of journeys published at start; default: the built-in ones. */
  journeysDirs?: string[];
  databaseUrl?: string | undefined;
  /** Sees every database query with its duration. */
  onQuery?: (sql: string, ms: number) => void;
  webhooks?: WebhookPolicy;
  /** The templates folder; default: definitions/templates. */
  templatesDir?: string;
  /** Keep Temporal Schedules in line with scheduled journeys (needs the dev server: see schedules.test.ts). */
  schedules?: boolean;
  /** Where the stack logs; default: nowhere (TEST_LOG_LEVEL shows it). */
  logger?: Logger;
  /** The mailer's wait for a reply, in ms. */
  smtpTimeoutMs?: number;
  /** Journeys the worker keeps cached (RAPPORT_MAX_CACHED_WORKFLOWS); default the product's. */
  maxCachedWorkflows?: number;
  /** SMS through the twilio SDK to this address (the stand-in) instead of the outbox. */
  twilio?: { url: string; accountSid: string; authToken: string; from: string; timeoutMs?: number };
  /** Requests a minute per API key or address (RAPPORT_RATE_LIMIT); default Rapport's own. */
  rateLimit?: number;
  /** Run the router in the background (default true); without it, a test routes with intake.routeDue(). */
  router?: boolean;
  /**
   * Wraps the activities the worker runs, to inject a fault or hold one at a chosen point (a test of
   * what happens when a worker stops in the middle, or a signal comes before an activity's answer).
   */
  wrapActivities?: (activities: Activities) => Activities;
  /** More settings, as environment variables (`RAPPORT_GLOBAL_HOLDOUT: '5%'`), read as `rapport start` reads them. */
  settings?: Record<string, string>;
  /** Simulations for the API (POST /v1/journeys/:id/simulate; client/tools/simulate/service.ts); default none (503). */
  simulate?: Simulator;
}

/** The address unsubscribe links and Twilio webhooks use in tests. */
export const TEST_PUBLIC_URL = 'https://rapport.test';
export const TEST_UNSUBSCRIBE_SECRET = 'test-unsubscribe-secret-0123456789abcdef';
export const TEST_SMS_HELP = 'Acme: reply STOP to opt out. Help at acme.example/help.';

let counter = 0;

export async function startTestStack(env: TestWorkflowEnvironment, options: TestStackOptions = {}): Promise<TestStack> {
  const logger = options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const database = options.databaseUrl
    ? await openDatabase({ url: options.databaseUrl, onQuery: options.onQuery })
    : await openMemoryDatabase({ onQuery: options.onQuery });
  await migrate(database.db);
  const templatesDir = options.templatesDir ?? builtinTemplatesDir;
  const compileOptions = { allowHttpWebhooks: true };
  await publishFolders(
    database.db,
    options.journeysDirs ?? [builtinJourneysDir],
    templatesDir,
    undefined,
    compileOptions,
  );
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-test-'));
  const outboxDir = path.join(scratch, 'outbox');
  const taskQueue = `test-${process.pid}-${++counter}`;
  // The test's settings, as a user would give them, in the same Config `rapport start` reads.
  const config = parseConfig({
    RAPPORT_DATA_DIR: scratch,
    TEMPORAL_NAMESPACE: env.namespace ?? 'default',
    TEMPORAL_TASK_QUEUE: taskQueue,
    MAIL_FROM: 'Rapport Test <journeys@rapport.test>',
    // Journeys published as YAML alone through the API read the same templates as those published here.
    RAPPORT_TEMPLATES_DIR: templatesDir,
    RAPPORT_PUBLIC_URL: TEST_PUBLIC_URL,
    RAPPORT_UNSUBSCRIBE_SECRET: TEST_UNSUBSCRIBE_SECRET,
    RAPPORT_SMS_HELP_TEXT: TEST_SMS_HELP,
    ...(options.rateLimit ? { RAPPORT_RATE_LIMIT: String(options.rateLimit) } : {}),
    ...(options.maxCachedWorkflows ? { RAPPORT_MAX_CACHED_WORKFLOWS: String(options.maxCachedWorkflows) } : {}),
    ...(options.smtpUrl ? { SMTP_URL: options.smtpUrl } : {}),
    ...(options.twilio
      ? {
          TWILIO_ACCOUNT_SID: options.twilio.accountSid,
          TWILIO_AUTH_TOKEN: options.twilio.authToken,
          TWILIO_FROM: options.twilio.from,
          TWILIO_API_URL: options.twilio.url,
        }
      : {}),
    ...options.settings,
  });
  const rapport = createRapport(
    config,
    { database, connection: env.connection, logger, scoring: options.scoring },
    {
      outboxDir,
      ...(options.smtpTimeoutMs ? { smtpTimeoutMs: options.smtpTimeoutMs } : {}),
      ...(options.twilio?.timeoutMs ? { twilioTimeoutMs: options.twilio.timeoutMs } : {}),
      ...(options.webhooks ? { webhooks: options.webhooks } : {}),
      ...(options.wrapActivities ? { wrapActivities: options.wrapActivities } : {}),
      // On the time-skipping server, waiting for a journey's result lets time skip, as env.client does.
      newClient: (clientOptions) =>
        env.supportsTimeSkipping ? new TimeSkippingClient(clientOptions) : new Client(clientOptions),
    },
  );
  const { intake } = rapport;
  const newWorker = async () => rapport.createWorker(env.nativeConnection, { workflowBundle: await workflowBundle() });
  let worker = await newWorker();
  let running = worker.run();
  const api = rapport.createApi({
    onPublished: async (journeyId) => {
      if (options.schedules) await syncSchedule(rapport.temporal, database.db, taskQueue, journeyId, logger);
    },
    ...(options.simulate ? { simulate: options.simulate } : {}),
  });
  await api.ready();
  // Events sent without waiting are routed by the router, as in a running Rapport.
  const router = options.router === false ? { stop: async () => {} } : intake.startRouting();
  let published = 0;
  return {
    db: database.db,
    temporal: rapport.temporal,
    plainTemporal: new Client({
      connection: env.connection,
      namespace: env.namespace ?? 'default',
      dataConverter: dataConverterOf(rapport.protection),
    }),
    protection: rapport.protection,
    api,
    intake,
    taskQueue,
    outboxDir,
    async publish(sources) {
      const dir = path.join(scratch, `journeys-${++published}`);
      fs.mkdirSync(dir);
      for (const [name, source] of Object.entries(sources)) fs.writeFileSync(path.join(dir, name), source);
      return publishFolders(database.db, [dir], templatesDir, undefined, compileOptions);
    },
    async stopWorker() {
      worker.shutdown();
      await running;
    },
    async startWorker() {
      worker = await newWorker();
      running = worker.run();
    },
    async sendEvent(event) {
      const res = await api.inject({ method: 'POST', url: '/v1/events?wait=routed', payload: event });
      if (res.statusCode !== 202) throw new Error(`POST /v1/events answered ${res.statusCode}: ${res.body}`);
      return res.json();
    },
    async close() {
      await router.stop();
      await api.close();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      rapport.close();
      await database.close();
      fs.rmSync(scratch, { recursive: true, force: true });
    },
  };
}
