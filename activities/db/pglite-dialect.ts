/**
 * Kysely over PGlite. PGlite is one connection, so a connection is handed out to one caller at a
 * time: a transaction holds it from BEGIN to COMMIT and nothing else interleaves.
 */
import { PostgresDialect, type PostgresPool, type PostgresPoolClient, type PostgresQueryResult } from 'kysely';

const WRITE_COMMAND = /^\s*(insert|update|delete|merge)\b/i;

function commandOf(sql: string): PostgresQueryResult<unknown>['command'] {
  const m = WRITE_COMMAND.exec(sql);
  return m ? (m[1]!.toUpperCase() as PostgresQueryResult<unknown>['command']) : 'SELECT';
}

class Gate {
  private tail: Promise<void> = Promise.resolve();
  acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => held);
    return ready;
  }
}

/** What the dialect uses of a PGlite instance. */
export interface PGliteQueries {
  query<R>(sql: string, params: unknown[]): Promise<{ rows: R[]; affectedRows?: number }>;
}

export function pgliteDialect(pg: PGliteQueries): PostgresDialect {
  const gate = new Gate();
  const pool: PostgresPool = {
    async connect(): Promise<PostgresPoolClient> {
      const release = await gate.acquire();
      const client = {
        async query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
          const result = await pg.query<R>(sql, [...parameters]);
          return { command: commandOf(sql), rowCount: result.affectedRows ?? result.rows.length, rows: result.rows };
        },
        release,
      };
      return client as PostgresPoolClient;
    },
    async end() {},
  };
  return new PostgresDialect({ pool });
}
