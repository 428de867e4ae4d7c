/**
 * Opens the customer database: PostgreSQL when a URL is given, else the embedded PGlite in a data
 * folder (or in memory), and brings its schema up to date.
 */
import {
  type ControlledTransaction,
  Kysely,
  type KyselyConfig,
  Migrator,
  PostgresDialect,
  sql,
  type Transaction,
} from 'kysely';
import pg from 'pg';
import { clusterLocks, type KeyLocks, processLocks } from './locks';
import { migrationProvider } from './migrations';
import { pgliteDialect, type PGliteQueries } from './pglite-dialect';
import type { Database } from './schema';

/** What Rapport uses of a PGlite instance. */
type PGliteInstance = PGliteQueries & {
  close(): Promise<void>;
  dumpDataDir(compression: 'none'): Promise<Blob | File>;
};

export type Db = Kysely<Database>;

/** Connections a process keeps to PostgreSQL for its queries. */
const DEFAULT_POOL_SIZE = 20;

export interface DatabaseOptions {
  /** `postgres://...`: a PostgreSQL server. Without it, PGlite. */
  url?: string | undefined;
  /** PGlite's folder; without it PGlite lives in memory. One process per folder. */
  dataDir?: string | undefined;
  /** Connections to PostgreSQL for queries (default 20); as many more may hold the router's customer locks. */
  poolSize?: number | undefined;
  /** Called after each query with its SQL and duration (benchmarks count queries with it). */
  onQuery?: ((sql: string, ms: number) => void) | undefined;
  /**
   * PostgreSQL: how long a statement may run, and a query wait for the server's answer, before it
   * fails (default 30 s); a connection is given up after a third of it. A server that stopped
   * answering then fails requests and activities, which retry, instead of hanging them.
   */
  statementTimeoutMs?: number | undefined;
}

/** See DatabaseOptions.statementTimeoutMs. */
const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;

export interface OpenDatabase {
  db: Db;
  engine: 'postgres' | 'pglite';
  /** Per-key locks: across processes on a PostgreSQL server, within this one on PGlite (one process per folder). */
  locks: KeyLocks;
  close(): Promise<void>;
}

// node-postgres returns int8 as text; our bigint columns (timeline ids) fit in a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

function queryLog(onQuery: DatabaseOptions['onQuery']): Pick<KyselyConfig, 'log'> {
  if (!onQuery) return {};
  return {
    log: (event) => {
      if (event.level === 'query') onQuery(event.query.sql, event.queryDurationMillis);
    },
  };
}

export async function openDatabase(options: DatabaseOptions): Promise<OpenDatabase> {
  const log = queryLog(options.onQuery);
  if (options.url) {
    const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
    const timeout = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
    const pool = new pg.Pool({
      connectionString: options.url,
      max: poolSize,
      connectionTimeoutMillis: Math.ceil(timeout / 3),
      // The server ends a statement that runs too long; the client gives up on one it never hears
      // back about (a server stopped, a network gone) a little later.
      statement_timeout: timeout,
      query_timeout: timeout + 5_000,
    });
    // An idle connection the server closed (a restart, a failover) is dropped by the pool and opened
    // again when needed; unhandled, its error would end the process.
    pool.on('error', () => undefined);
    // So does a connection in use when the server goes away: its query fails with the error, which
    // is handled where it was made; unlistened, the client's error event would end the process.
    pool.on('connect', (client) => client.on('error', () => undefined));
    // A connection that cannot be made says so (see isDatabaseUnavailable).
    const connecting = {
      connect: () =>
        pool.connect().catch((err: unknown) => {
          throw Object.assign(err instanceof Error ? err : new Error(String(err)), { databaseUnavailable: true });
        }),
      end: () => pool.end(),
    };
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: connecting }), ...log });
    const locks = clusterLocks(options.url, poolSize, Math.ceil(timeout / 3));
    return {
      db,
      engine: 'postgres',
      locks,
      async close() {
        await locks.close();
        await db.destroy();
      },
    };
  }
  // Loaded only when used: the module alone costs some 40 MiB of a process that runs on PostgreSQL.
  const { PGlite } = await import('@electric-sql/pglite');
  const lite = options.dataDir ? await PGlite.create(options.dataDir) : await PGlite.create();
  return pgliteDatabase(lite, options.onQuery);
}

function pgliteDatabase(
  lite: PGliteInstance,
  onQuery: DatabaseOptions['onQuery'],
): OpenDatabase & { lite: PGliteInstance } {
  const db = new Kysely<Database>({ dialect: pgliteDialect(lite), ...queryLog(onQuery) });
  return {
    db,
    engine: 'pglite',
    locks: processLocks(),
    lite,
    async close() {
      await db.destroy();
      await lite.close();
    },
  };
}

/**
 * A migrated database in memory, for simulations, scenario runs and tests, which open many in one
 * process. The first is made and migrated as usual and copied; each one after starts from that copy,
 * which skips initdb and the migrations: it opens in about a third of the time.
 */
export async function openMemoryDatabase(options: Pick<DatabaseOptions, 'onQuery'> = {}): Promise<OpenDatabase> {
  const made = (memoryImage ??= (async () => {
    const { PGlite } = await import('@electric-sql/pglite');
    const first = pgliteDatabase(await PGlite.create(), undefined);
    try {
      await migrate(first.db);
      const image = await first.lite.dumpDataDir('none');
      return () => PGlite.create({ loadDataDir: image });
    } finally {
      await first.close();
    }
  })());
  // A copy that failed is not kept: the next call tries again and reports its own failure.
  const copy = await made.catch((err: unknown) => {
    memoryImage = undefined;
    throw err;
  });
  return pgliteDatabase(await copy(), options.onQuery);
}
let memoryImage: Promise<() => Promise<PGliteInstance>> | undefined;

/**
 * A write of a batch that failed while the batch was written without savepoints: `inOneCommit` rolls
 * the batch back and writes it again, each item behind a savepoint.
 */
export class UnguardedWriteFailed extends Error {
  constructor(readonly failure: unknown) {
    super("a batch's item failed to write without a savepoint");
  }
}

/**
 * Writes a batch (a batch of events, an import request's rows) in one transaction that commits once.
 * `write` first writes each item plain (`guarded` false), the cheapest when every write succeeds;
 * when one fails that way it throws `UnguardedWriteFailed`, and the batch is rolled back and written
 * again with each item behind a savepoint (`behindSavepoint`, `guarded` true), so a failed item
 * loses none of the others. Any other failure rolls the batch back and is thrown.
 */
export async function inOneCommit<T>(
  db: Db,
  write: (batch: ControlledTransaction<Database>, guarded: boolean) => Promise<T>,
): Promise<T> {
  try {
    return await commitOnce(db, (batch) => write(batch, false));
  } catch (err) {
    if (!(err instanceof UnguardedWriteFailed)) throw err;
    return commitOnce(db, (batch) => write(batch, true));
  }
}

async function commitOnce<T>(db: Db, work: (batch: ControlledTransaction<Database>) => Promise<T>): Promise<T> {
  const batch = await db.startTransaction().execute();
  try {
    const result = await work(batch);
    await batch.commit().execute();
    return result;
  } catch (err) {
    // A rollback that fails too (the database gone) answers with the write's own failure.
    await batch
      .rollback()
      .execute()
      .catch(() => {
        throw err instanceof UnguardedWriteFailed ? err.failure : err;
      });
    throw err;
  }
}

/**
 * Runs `work` within the batch's transaction behind a savepoint: a failure undoes `work`'s writes
 * only, and is thrown; the rest of the batch stays.
 */
export async function behindSavepoint<T>(
  batch: ControlledTransaction<Database>,
  work: (tx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  const saved = await batch.savepoint('item').execute();
  try {
    const result = await work(saved);
    await saved.releaseSavepoint('item').execute();
    return result;
  } catch (err) {
    await saved.rollbackToSavepoint('item').execute();
    throw err;
  }
}

/**
 * Whether an error says the PostgreSQL server could not be reached or went away (stopped, restarted,
 * not answering), rather than refused what was asked: the request may simply be tried again.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    if ((e as { databaseUnavailable?: unknown }).databaseUnavailable === true) return true;
    const { code, severity } = e as { code?: unknown; severity?: unknown };
    // Connection exceptions, the server shutting down or starting, too many connections.
    if (typeof severity === 'string' && typeof code === 'string' && /^(08|57P0[123]|53300)/.test(code)) return true;
    if (
      e instanceof Error &&
      /Connection terminated|Query read timeout|timeout exceeded when trying to connect/.test(e.message)
    )
      return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Applies every migration not yet applied; throws with the failing migration's name. */
export async function migrate(db: Db): Promise<string[]> {
  // On one connection without the statement timeout: building an index on a large table may take
  // longer than any query should.
  const { error, results } = await db.connection().execute(async (conn) => {
    await sql`set statement_timeout = 0`.execute(conn);
    try {
      const migrator = new Migrator({
        db: conn,
        provider: migrationProvider,
        migrationTableName: 'rapport_migrations',
      });
      return await migrator.migrateToLatest();
    } finally {
      await sql`reset statement_timeout`.execute(conn);
    }
  });
  const failed = results?.find((r) => r.status === 'Error');
  if (error) {
    const reason = error instanceof Error ? error.message : JSON.stringify(error);
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${reason}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
