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
  // An idle session's error (the server restarted) drops that session; the next lock opens another.
  lockSessions.on('error', () => undefined);
  // A session holding a lock when the server goes away: the unlock fails and the session is dropped.
  lockSessions.on('connect', (client) => client.on('error', () => undefined));
  return {
    scope: 'cluster',
    run: (key, task) =>
      queue.run(key, async () => {
        const session = await lockSessions.connect();
        let broken: Error | undefined;
        try {
          await session.query('select pg_advisory_lock(hashtextextended($1, 0))', [key]);
          return await task();
        } finally {
          try {
            await session.query('select pg_advisory_unlock(hashtextextended($1, 0))', [key]);
          } catch (err) {
            // The session is closed instead, which releases whatever it held.
            broken = err instanceof Error ? err : new Error(String(err));
          }
          session.release(broken);
        }
      }),
    close: () => lockSessions.end(),
  };
}
