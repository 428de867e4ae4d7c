/**
 * The customer database as `rapport start` would open it, for a command that works on it directly
 * (`rapport keys create` on the machine Rapport runs on): DATABASE_URL; else the embedded PostgreSQL
 * in the data folder, the running one or one started for the command and stopped after it.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { migrate, openDatabase, type OpenDatabase } from '../activities/db/database';
import type { Config } from './config';
import { runningEmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres';
import { embeddedDatabase } from './start';

export async function withCustomerDatabase<T>(
  config: Config,
  logger: Logger,
  work: (database: OpenDatabase) => Promise<T>,
): Promise<T> {
  let url = config.DATABASE_URL;
  let stop: (() => Promise<void>) | undefined;
  if (!url) {
    const embedded = embeddedDatabase(config);
    if (embedded.engine === 'pglite') {
      throw new Error(
        'the customer database is PGlite, which only the Rapport process itself may open: ' +
          'create the key through the API, from the machine Rapport runs on (it is open there until the first key)',
      );
    }
    const dir = path.join(config.RAPPORT_DATA_DIR, 'postgres');
    url = runningEmbeddedPostgres(dir);
    if (!url) {
      const server = await startEmbeddedPostgres({ home: embedded.home, dir, logger });
      url = server.url;
      stop = () => server.stop();
    }
  }
  try {
    const database = await openDatabase({ url });
    try {
      await migrate(database.db);
      return await work(database);
    } finally {
      await database.close();
    }
  } finally {
    await stop?.();
  }
}
