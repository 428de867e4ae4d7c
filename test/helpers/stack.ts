/**
 * Rapport assembled in the test process on the time-skipping server: an in-memory PGlite, the real
 * activities and worker, the intake and the HTTP API (called through Fastify's inject).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import pino from 'pino';
import { createActivities } from '../../activities';
import { createMailer } from '../../activities/channels/email';
import { createOutboxSmsSender } from '../../activities/channels/sms';
import { migrate, openDatabase, type OpenDatabase } from '../../activities/db/database';
import { buildApi, type Api } from '../../client/api/server';
import { EventIntake } from '../../client/events/intake';
import { publishFolders } from '../../client/journeys/publish';
import { projectRoot } from '../../worker/temporal/binaries';
import { workflowBundle } from './temporal';

export interface TestStack {
  db: OpenDatabase['db'];
  api: Api;
  intake: EventIntake;
  taskQueue: string;
  outboxDir: string;
  close(): Promise<void>;
}

let counter = 0;

export async function startTestStack(
  env: TestWorkflowEnvironment,
  options: { smtpUrl?: string; journeysDirs?: string[]; databaseUrl?: string } = {},
): Promise<TestStack> {
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const database = await openDatabase({ url: options.databaseUrl });
  await migrate(database.db);
  await publishFolders(
    database.db,
    options.journeysDirs ?? [path.join(projectRoot, 'definitions', 'journeys')],
    path.join(projectRoot, 'definitions', 'templates'),
  );
  const outboxDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-outbox-'));
  const mailer = createMailer({ smtpUrl: options.smtpUrl, outboxDir });
  const taskQueue = `test-${process.pid}-${++counter}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities({
      db: database.db,
      mailer,
      sms: createOutboxSmsSender(outboxDir),
      mailFrom: 'Rapport Test <journeys@rapport.test>',
      logger,
    }),
  });
  const running = worker.run();
  const intake = new EventIntake({ db: database.db, temporal: env.client, taskQueue, logger });
  const api = buildApi({ db: database.db, intake, outboxDir, logger });
  await api.ready();
  return {
    db: database.db,
    api,
    intake,
    taskQueue,
    outboxDir,
    async close() {
      await api.close();
      worker.shutdown();
      await running;
      mailer.close();
      await database.close();
      fs.rmSync(outboxDir, { recursive: true, force: true });
    },
  };
}
