/**
 * The report's counts on a real PostgreSQL server, written by many records at once: records of one
 * journey on one day all update the same rows of counts, in whatever order their marks come, and
 * none may deadlock or count twice.
 */
import { migrate, openDatabase, type OpenDatabase } from '../../activities/db/database';
import { type Mark, readStats, recordMarks } from '../../activities/store/journey-stats';
import { pool } from '../../client/server/events/pool';
import { startPostgres, type Postgres } from '../helpers/postgres';

let postgres: Postgres;
let database: OpenDatabase;

beforeAll(async () => {
  postgres = await startPostgres();
  database = await openDatabase({ url: postgres.url });
  await migrate(database.db);
});

afterAll(async () => {
  await database?.close();
  await postgres?.stop();
});

test('300 records at once, 24 at a time, on overlapping rows of counts: none deadlocks or fails, each counted once', async () => {
  const steps = Array.from({ length: 12 }, (_, k) => `step-${k}`);
  const days = ['2026-05-01', '2026-05-02', '2026-05-03'];
  // Each record has its own mix of days and steps, so the rows it updates overlap others' in orders of their own.
  const marksOf = (i: number): Mark[] => [
    { mark: 'entered', metric: 'entered', key: '', at: `${days[i % 3]}T10:00:00.000Z` },
    ...steps
      .filter((_, k) => (i >> (k % 5)) % 2 === 0 || k === i % 12)
      .map((s, k): Mark => ({
        mark: `reached:${s}`,
        metric: 'step',
        key: s,
        at: `${days[(i + k) % 3]}T10:00:00.000Z`,
      })),
  ];
  const expected = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    for (const m of marksOf(i)) expected.set(`${m.metric}:${m.key}`, (expected.get(`${m.metric}:${m.key}`) ?? 0) + 1);
  }
  const failures: unknown[] = [];
  await pool(
    Array.from({ length: 300 }, (_, i) => i),
    24,
    async (i) => {
      try {
        // Each record written twice, as a retried local activity would be.
        await recordMarks(database.db, { id: `enr_${i}`, journeyId: 'busy', version: 1 }, marksOf(i));
        await recordMarks(database.db, { id: `enr_${i}`, journeyId: 'busy', version: 1 }, marksOf(i).reverse());
      } catch (err) {
        failures.push((err as Error).message);
      }
    },
  );
  expect(failures).toEqual([]);
  const counted = new Map<string, number>();
  for (const r of await readStats(database.db, 'busy')) {
    counted.set(`${r.metric}:${r.key}`, (counted.get(`${r.metric}:${r.key}`) ?? 0) + r.count);
  }
  expect(counted).toEqual(expected);
});
