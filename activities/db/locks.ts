/**
 * Work serialized per key (a customer's routing): one task per key at a time in this process and,
 * on a PostgreSQL server, across every process that shares it, through a session advisory lock.
 *
 * The advisory locks are held on connections of their own, never the pool the task's queries use:
 * a task waiting for a lock holds no connection the lock's holder needs, so they cannot deadlock.
 * A process that dies loses its session, and with it its locks.
 */
import pg from 'pg';

export interface KeyLocks {
  /** Runs `task` holding the lock of `key`; tasks of one key run in the order they were queued here. */
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
  /** Whether the locks reach other processes (a PostgreSQL server) or this one only (PGlite). */
  readonly scope: 'cluster' | 'process';
  close(): Promise<void>;
}

/** Runs tasks for one key one after another, in the order they were queued. */
class KeyedQueue {
  private tails = new Map<string, Promise<unknown>>();
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(task, task);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

/** Locks within this process only: enough where one process owns the database (PGlite). */
export function processLocks(): KeyLocks {
  const queue = new KeyedQueue();
  return { scope: 'process', run: (key, task) => queue.run(key, task), close: () => Promise.resolve() };
}

/**
 * Locks across every process connected to the PostgreSQL server at `url`, at most `sessions` held at
 * once (a key waits for a session when all are busy).
 *
 * A session whose task has ended keeps its key locked for a moment: the next task to take the
 * session releases that key in the statement that locks its own (one round trip instead of two),
 * unlocking first, so a session never holds one key while it waits for another. A session no task
 * takes releases its key at the event loop's next turn.
 */
export function clusterLocks(url: string, sessions = 20, connectTimeoutMs = 10_000): KeyLocks {
  const queue = new KeyedQueue();
  // No statement timeout: a lock waits as long as the customer's events before it take to route.
  const lockSessions = new pg.Pool({
    connectionString: url,
    max: sessions,
    application_name: 'rapport-locks',
    connectionTimeoutMillis: connectTimeoutMs,
  });
  // An idle session whose server goes away: the pool drops it; unlistened, the error would end the process.
  lockSessions.on('error', () => undefined);
  // The same for a session held by a task when the server goes away: its next query fails instead.
  lockSessions.on('connect', (client) => client.on('error', () => undefined));

  /** Sessions whose task has ended, each with the key it still holds, newest last. */
  const ending: { session: pg.PoolClient; key: string }[] = [];
  let unlocking: NodeJS.Immediate | undefined;
  const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));
  /** Releases the keys of the sessions no task took. */
  const unlockEnding = () => {
    unlocking = undefined;
    for (const { session, key } of ending.splice(0)) {
      session.query('select pg_advisory_unlock(hashtextextended($1, 0))', [key]).then(
        () => session.release(),
        // A session that could not unlock is closed, which releases its locks.
        (err: unknown) => session.release(asError(err)),
      );
    }
  };
  /** A session holding the lock of `key`. */
  const lock = async (key: string): Promise<pg.PoolClient> => {
    // The session that held this key last, if it is still ending, else the newest ending.
    const at = ending.findLastIndex((e) => e.key === key);
    const taken = ending.splice(at >= 0 ? at : ending.length - 1, 1)[0];
    if (taken) {
      try {
        await taken.session.query(
          'select pg_advisory_unlock(hashtextextended($1, 0)), pg_advisory_lock(hashtextextended($2, 0))',
          [taken.key, key],
        );
        return taken.session;
      } catch (err) {
        taken.session.release(asError(err));
        throw err;
      }
    }
    const session = await lockSessions.connect();
    try {
      await session.query('select pg_advisory_lock(hashtextextended($1, 0))', [key]);
      return session;
    } catch (err) {
      session.release(asError(err));
      throw err;
    }
  };
  return {
    scope: 'cluster',
    run: (key, task) =>
      queue.run(key, async () => {
        const session = await lock(key);
        try {
          return await task();
        } finally {
          ending.push({ session, key });
          unlocking ??= setImmediate(unlockEnding);
        }
      }),
    close: async () => {
      if (unlocking) clearImmediate(unlocking);
      unlockEnding();
      await lockSessions.end();
    },
  };
}
