/**
 * Starts Rapport: Temporal (the embedded dev server, or a cluster), the customer database (PGlite in
 * the data folder, or PostgreSQL), the built-in journeys, and what the process's role runs: the
 * worker (`worker`), the HTTP API and the router (`api`), or all three (`all`, the default). PGlite
 * allows one process per data folder, so a process of one role needs PostgreSQL and a Temporal
 * server that other processes share (config.ts checks).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Connection } from '@temporalio/client';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from 'pino';
import { activeKeyCount } from '../activities/store/api-keys';
import { syncInsightsSchedule, syncSchedule, syncSchedules } from './schedules';
import { migrate, openDatabase, type OpenDatabase } from '../activities/db/database';
import { publishFolders } from '../client/server/journeys/publish';
import { readScoringFile } from '../client/server/journeys/load';
import { journeyDirs, type Config } from './config';
import { startReconciling } from '../client/server/events/reconcile';
import { createRapport, type RapportOverrides, type RapportParts } from './rapport';
import type { Simulator } from '../client/server/journeys/simulation';
import { ensureBinaries } from './temporal/binaries';
import { connectClient, connectWorker, ensureSearchAttributes } from './temporal/connection';
import { startDevServer, type DevServer } from './temporal/dev-server';
import { embeddedPostgresHome, startEmbeddedPostgres } from './embedded-postgres';

export interface Rapport {
  /** Where the API listens; undefined for a worker-only process. */
  apiUrl: string | undefined;
  temporalAddress: string;
  temporalUiUrl: string | undefined;
  mailDestination: string;
  smsDestination: string;
  database: OpenDatabase;
  stop(): Promise<void>;
}

let runtimeInstalled = false;
function installRuntime(logger: Logger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({
      logger: new DefaultLogger('WARN', ({ level, message, meta }) => {
        const lvl = level.toLowerCase() as Lowercase<LogLevel>;
        const fn = lvl === 'error' ? 'error' : lvl === 'warn' ? 'warn' : 'debug';
        logger[fn]({ ...(meta ?? {}), component: 'temporal-sdk' }, message);
      }),
      // The SDK's core logs through the same logger, warnings and up.
      telemetryOptions: { logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} } },
    });
  } catch {
    // Already installed by whoever embeds Rapport.
  }
}

/** Which embedded database a start without DATABASE_URL runs, and why when it is not the default. */
export function embeddedDatabase(
  config: Config,
): { engine: 'postgres'; home: string; reason?: undefined } | { engine: 'pglite'; reason?: string } {
  if (config.RAPPORT_EMBEDDED_DATABASE === 'pglite') return { engine: 'pglite' };
  const pgliteDir = path.join(config.RAPPORT_DATA_DIR, 'pglite');
  const postgresDir = path.join(config.RAPPORT_DATA_DIR, 'postgres');
  if (config.RAPPORT_EMBEDDED_DATABASE === undefined && fs.existsSync(pgliteDir) && !fs.existsSync(postgresDir)) {
    return {
      engine: 'pglite',
      reason: `${pgliteDir} holds the customers of an earlier start (see "The embedded database" in the README)`,
    };
  }
  const home = embeddedPostgresHome();
  if (home) return { engine: 'postgres', home };
  const reason = `no PostgreSQL binaries for ${process.platform}-${process.arch} (the optional package @embedded-postgres/${process.platform}-${process.arch})`;
  if (config.RAPPORT_EMBEDDED_DATABASE === 'postgres') throw new Error(`RAPPORT_EMBEDDED_DATABASE=postgres: ${reason}`);
  return { engine: 'pglite', reason };
}

/**
 * What an embedder adds to a start: the overrides of createRapport, and the worker's options (a
 * prebuilt workflow bundle, sinks). `npm run faults` starts Rapport so, with its fault hooks.
 */
export interface StartExtras {
  overrides?: RapportOverrides;
  worker?: Parameters<RapportParts['createWorker']>[1];
  /**
   * Simulations for the API and the console (POST /v1/journeys/:id/simulate), given by the command
   * line, which has the time-skipping server; closed when Rapport stops.
   */
  simulator?: { simulate: Simulator; close(): Promise<void> };
}

export async function startRapport(config: Config, logger: Logger, extras: StartExtras = {}): Promise<Rapport> {
  const cleanups: { name: string; run: () => Promise<void> | void }[] = [];
  const onStop = (name: string, run: () => Promise<void> | void) => cleanups.push({ name, run });
  const stopAll = async () => {
    for (const { name, run } of cleanups.reverse()) {
      const started = Date.now();
      try {
        await run();
      } catch (err) {
        logger.warn({ err, component: name }, 'error while stopping');
      }
      logger.debug({ component: name, ms: Date.now() - started }, 'stopped component');
    }
  };
  try {
    installRuntime(logger);
    fs.mkdirSync(config.RAPPORT_DATA_DIR, { recursive: true });

    // Temporal.
    let address = config.TEMPORAL_ADDRESS;
    let uiUrl: string | undefined;
    if (!address) {
      const { found, problem } = ensureBinaries((line) => logger.info(line));
      if (problem) logger.warn(problem);
      let dev: DevServer | { address: string; uiUrl: string; stop(): Promise<void> };
      if (found.temporal) {
        logger.info('starting the Temporal dev server');
        dev = await startDevServer({
          binary: found.temporal,
          dataDir: config.RAPPORT_DATA_DIR,
          port: config.TEMPORAL_PORT,
          uiPort: config.TEMPORAL_UI_PORT,
          namespace: config.TEMPORAL_NAMESPACE,
          logger,
        });
      } else {
        const { TestWorkflowEnvironment } = await import('@temporalio/testing');
        const env = await TestWorkflowEnvironment.createLocal({
          server: {
            executable: { type: 'cached-download' },
            dbFilename: path.join(config.RAPPORT_DATA_DIR, 'temporal', 'temporal.db'),
            port: config.TEMPORAL_PORT,
            ui: true,
            uiPort: config.TEMPORAL_UI_PORT,
            namespace: config.TEMPORAL_NAMESPACE,
          },
        });
        dev = {
          address: env.address,
          uiUrl: `http://127.0.0.1:${config.TEMPORAL_UI_PORT}`,
          stop: () => env.teardown(),
        };
      }
      onStop('temporal dev server', () => dev.stop());
      address = dev.address;
      uiUrl = dev.uiUrl;
    }
    const connection: Connection = await connectClient(config, address);
    onStop('temporal client', () => connection.close());
    if (config.TEMPORAL_ADDRESS) await ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE, logger);

    // Customer database.
    let databaseUrl = config.DATABASE_URL;
    const embedded = databaseUrl ? undefined : embeddedDatabase(config);
    if (embedded?.engine === 'postgres') {
      const server = await startEmbeddedPostgres({
        home: embedded.home,
        dir: path.join(config.RAPPORT_DATA_DIR, 'postgres'),
        logger,
      });
      onStop('embedded postgres', () => server.stop());
      databaseUrl = server.url;
    } else if (embedded?.reason) {
      logger.info(`the customer database is PGlite, in this process: ${embedded.reason}`);
    }
    const database = await openDatabase({
      url: databaseUrl,
      dataDir: path.join(config.RAPPORT_DATA_DIR, 'pglite'),
      poolSize: config.RAPPORT_DATABASE_POOL_SIZE,
      statementTimeoutMs: config.RAPPORT_DATABASE_TIMEOUT * 1000,
    });
    onStop('database', () => database.close());
    const applied = await migrate(database.db);
    logger.info(
      { engine: embedded ? `embedded ${embedded.engine}` : database.engine, applied },
      'customer database ready',
    );

    const published = await publishFolders(database.db, journeyDirs(config), config.RAPPORT_TEMPLATES_DIR, logger, {
      allowHttpWebhooks: config.RAPPORT_WEBHOOK_ALLOW_HTTP,
      textsDir: config.RAPPORT_TEXTS_DIR,
    });
    logger.info({ journeys: published.map((p) => `${p.journey}@${p.version}`) }, 'journeys published');
    const scoring = readScoringFile(config.RAPPORT_SCORING_FILE);
    logger.info(
      scoring
        ? { scoring: scoring.file, rules: [...scoring.byEvent.values()].flat().length + scoring.attributeRules.length }
        : { scoring: `none (no file ${config.RAPPORT_SCORING_FILE})` },
      'lead scoring',
    );

    const rapport = createRapport(config, { database, connection, logger, scoring }, extras.overrides);
    onStop('mailer', () => rapport.close());
    // A master key that cannot open this database's data keys would leave journeys unable to read
    // their own histories: refused here, before anything runs.
    await rapport.protection.check();
    const client = rapport.temporal;
    const role = config.RAPPORT_ROLE;
    if (role !== 'api') {
      const nativeConnection = await connectWorker(config, address);
      onStop('worker connection', () => nativeConnection.close());
      const worker = await rapport.createWorker(nativeConnection, extras.worker);
      const running = worker.run();
      onStop('worker', async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
      });
      running.catch((err: unknown) => logger.error({ err }, 'the worker stopped with an error'));
      // Enrollments whose workflow failed or vanished, and sends whose journey has gone, are recorded
      // as such (client/server/events/reconcile.ts); workers of several processes may share it.
      const reconciler = startReconciling(
        { db: database.db, temporal: client, logger },
        { everyMs: config.RAPPORT_RECONCILE_EVERY * 1000 },
      );
      onStop('reconciler', () => reconciler.stop());
    }

    let apiUrl: string | undefined;
    if (role !== 'worker') {
      const simulator = extras.simulator;
      if (simulator) onStop('simulator', () => simulator.close());
      const api = rapport.createApi({
        onPublished: async (journeyId) => {
          await syncSchedule(client, database.db, config.TEMPORAL_TASK_QUEUE, journeyId, logger);
        },
        ...(simulator ? { simulate: simulator.simulate } : {}),
      });
      await syncSchedules(client, database.db, config.TEMPORAL_TASK_QUEUE, logger);
      await syncInsightsSchedule(client, config.TEMPORAL_TASK_QUEUE, config.RAPPORT_INSIGHTS_REFIT, logger);
      if ((await activeKeyCount(database.db)) === 0) {
        logger.warn('no API key exists: the API answers this machine only; create one with `rapport keys create`');
      }
      await api.listen({ host: config.RAPPORT_HOST, port: config.RAPPORT_PORT });
      onStop('api', () => api.close());
      apiUrl = `http://${config.RAPPORT_HOST}:${config.RAPPORT_PORT}`;

      // Events accepted before the last stop, or while Temporal was away, and those whose routing
      // failed and waits to be tried again: the router takes them in the background, in order, and
      // never stops the start (an event that cannot be routed is parked, with its error). Routers of
      // several processes share the work; a customer's lock keeps their events in order.
      const router = rapport.intake.startRouting();
      onStop('router', () => router.stop());
    }

    return {
      apiUrl,
      temporalAddress: address,
      temporalUiUrl: uiUrl,
      mailDestination: rapport.mailer.destination,
      smsDestination: rapport.sms.destination,
      database,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
