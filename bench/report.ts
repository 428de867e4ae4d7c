/**
 * The journey report at scale: one journey with 1,000,000 enrollments and 5,000,000 messages over a
 * year, and how long its report takes on PostgreSQL and on PGlite. Also what counting costs on the
 * way: an enrollment's record (its marks) written per second, one at a time and 16 at once.
 *
 * On PostgreSQL the database holds the whole of it: the customers, the enrollments, the send ledger's
 * 5,000,000 rows, every enrollment's marks, and the counts the marks make (built by the same
 * statement that writes the marks, chunk by chunk). PGlite holds the same counts and a tenth of the
 * rest (filling it whole would take most of an hour in WebAssembly); the report reads only the
 * counts.
 */
import { sql } from 'kysely';
import { type Db, migrate, openDatabase } from '../activities/db/database';
import { publishVersion } from '../activities/store/journeys';
import { recordMarks, stepMarks } from '../activities/store/journey-stats';
import { journeyReport } from '../client/server/journeys/report';
import { startPostgres } from '../test/helpers/postgres';
import { benchPlan, type BenchContext, type Figure, percentile, pool, round } from './common';

const JOURNEY = `
journey: bench-report
name: Report benchmark
category: marketing
trigger: { event: bench.started }
holdout: 10%
goal: { event: order.placed, within: 30d }
steps:
  - id: welcome
    type: send
    channel: email
    subject: "Welcome"
    text: "Hi"
  - id: ab
    type: split
    paths:
      - name: a
        weight: 1
        steps:
          - id: offer
            type: send
            channel: email
            subject: "Offer"
            text: "Offer"
      - name: b
        weight: 1
        steps:
          - id: note
            type: send
            channel: email
            subject: "Note"
            text: "Note"
  - id: pause
    type: wait
    duration: 3d
  - id: reminder
    type: send
    channel: email
    subject: "Reminder"
    text: "Reminder"
  - id: last
    type: send
    channel: email
    subject: "Last"
    text: "Last"
`;

/**
 * Enrollments [lo, hi): their customers, enrollments, five sent messages each in the ledger, their
 * marks, and the counts the marks make. One enrollment in ten is held out (its sends skipped), one in
 * seven meets the goal, one in ten leaves early.
 */
async function fill(db: Db, lo: number, hi: number, withRows: boolean): Promise<void> {
  const range = sql`generate_series(${lo}::bigint, ${hi - 1}::bigint) g`;
  if (withRows) {
    await sql`insert into customers (id) select 'cus_b' || g from ${range}`.execute(db);
    await sql`
      insert into enrollments (id, customer_id, journey_id, version, workflow_id, status, goal_met, outcome, started_at, ended_at)
      select 'enr_b' || g, 'cus_b' || g, 'bench-report', 1 + g % 2, 'journey:bench-report:cus_b' || g,
        case when g % 7 = 0 then 'completed' when g % 10 = 3 then 'exited' else 'completed' end,
        g % 7 = 0, case when g % 7 = 0 then 'goal' when g % 10 = 3 then 'exit event account.closed' else 'completed' end,
        timestamptz '2026-01-01' + (g % 365) * interval '1 day', timestamptz '2026-01-01' + (g % 365 + 10) * interval '1 day'
      from ${range}`.execute(db);
    await sql`
      insert into send_ledger (send_key, customer_id, workflow_id, step_id, channel, state, attempt, sent_at, category)
      select 'send:enr_b' || g || ':' || s.step || ':0:email', 'cus_b' || g, 'journey:bench-report:cus_b' || g, s.step,
        'email', 'sent', 1, timestamptz '2026-01-01' + (g % 365) * interval '1 day', 'marketing'
      from ${range}, (values ('welcome'), ('ab'), ('pause'), ('reminder'), ('last')) s(step)`.execute(db);
  }
  // What each enrollment reports, as the interpreter's records would: (mark, metric, key).
  await sql`
    with facts as (
      select 'enr_b' || g as enrollment, 1 + g % 2 as version, (date '2026-01-01' + (g % 365)::int) as day,
        f.mark, f.metric, f.key
      from ${range},
      lateral (values
        ('entered', 'entered', ''),
        ('group', 'group', case when g % 10 = 1 then 'holdout' else 'treated' end),
        ('reached:welcome', 'step', 'welcome'),
        ('reached:ab', 'step', 'ab'),
        ('reached:' || case when g % 2 = 0 then 'offer' else 'note' end, 'step', case when g % 2 = 0 then 'offer' else 'note' end),
        ('reached:pause', 'step', 'pause'),
        ('reached:reminder', 'step', 'reminder'),
        ('reached:last', 'step', 'last'),
        ('out:ab', 'outcome', 'ab:path ' || case when g % 2 = 0 then 'a' else 'b' end),
        ('out:pause', 'outcome', 'pause:waited'),
        ('msg:welcome', 'message', case when g % 10 = 1 then 'none:skipped:holdout' else 'email:sent' end),
        ('msg:path', 'message', case when g % 10 = 1 then 'none:skipped:holdout' else 'email:sent' end),
        ('msg:reminder', 'message', case when g % 10 = 1 then 'none:skipped:holdout' else 'email:sent' end),
        ('msg:last', 'message', case when g % 10 = 1 then 'none:skipped:holdout' else 'email:sent' end),
        ('msg:last-sms', 'message', case when g % 10 = 1 then 'none:skipped:holdout' else 'email:sent' end),
        ('end', 'ended', case when g % 7 = 0 then 'goal' when g % 10 = 3 then 'exited' else 'completed' end)
      ) as f(mark, metric, key)
      union all
      select 'enr_b' || g, 1 + g % 2, (date '2026-01-01' + (g % 365)::int), f.mark, f.metric, f.key
      from ${range},
      lateral (values
        ('goal', 'goal', ''),
        ('goal_time', 'goal_time', (40 + g % 60)::text),
        ('goal:ab', 'goal_path', 'ab:' || case when g % 2 = 0 then 'a' else 'b' end),
        ('goal_group', 'goal_group', case when g % 10 = 1 then 'holdout' else 'treated' end)
      ) as f(mark, metric, key)
      where g % 7 = 0
      union all
      select 'enr_b' || g, 1 + g % 2, (date '2026-01-01' + (g % 365)::int), 'exit', 'exit', 'exit event account.closed'
      from ${range} where g % 10 = 3 and g % 7 <> 0
    ),
    marks as (
      insert into journey_marks (enrollment_id, mark) select enrollment, mark from facts where ${withRows}
    )
    insert into journey_stats (journey_id, version, day, metric, key, count)
    select 'bench-report', version, day, metric, key, count(*) from facts group by version, day, metric, key
    on conflict (journey_id, version, day, metric, key) do update set count = journey_stats.count + excluded.count
  `.execute(db);
}

async function timeReports(db: Db, def: Parameters<typeof journeyReport>[1], rounds: number) {
  const times: number[] = [];
  let entered = 0;
  let messages = 0;
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    const r = await journeyReport(db, def, {});
    times.push(performance.now() - t);
    entered = r.entered;
    messages = r.messages.reduce((n, m) => n + m.count, 0);
  }
  const t = performance.now();
  await journeyReport(db, def, { version: 2, since: '2026-03-01', until: '2026-06-01' });
  const ranged = performance.now() - t;
  return {
    first: times[0]!,
    median: percentile(
      [...times].sort((a, b) => a - b),
      50,
    ),
    ranged,
    entered,
    messages,
  };
}

/** An enrollment's record with six steps in it, as the interpreter sends one: written per second. */
async function marksPerSecond(db: Db, n: number, concurrency: number): Promise<number> {
  const at = '2026-05-01T10:00:00.000Z';
  const steps = stepMarks(
    ['welcome', 'ab', 'offer', 'pause', 'reminder', 'last'].map((stepId) => ({
      stepId,
      visit: 0,
      at,
      result: { kind: 'send', status: 'sent', channel: 'email', reason: null } as const,
    })),
  );
  const t = performance.now();
  await pool(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    (i) =>
      recordMarks(db, { id: `enr_w${concurrency}_${i}`, journeyId: 'bench-writes', version: 1 }, [
        { mark: 'entered', metric: 'entered', key: '', at },
        ...steps,
      ]),
  );
  return n / ((performance.now() - t) / 1000);
}

export async function reportBench(ctx: BenchContext): Promise<Figure[]> {
  const total = ctx.n(1_000_000, 4_000);
  const chunk = ctx.n(50_000, 2_000);
  const writes = ctx.n(2_000, 100);
  const plan = benchPlan(JOURNEY, 'bench-report.yaml');
  const figures: Figure[] = [];
  const postgres = await startPostgres();
  try {
    for (const [engine, url, rowsShare] of [
      ['PostgreSQL', postgres.url, 1],
      ['PGlite', undefined, 10],
    ] as const) {
      const database = await openDatabase({ url });
      try {
        await migrate(database.db);
        for (const version of [1, 2]) {
          // Two versions, so a report of one has the other's counts to leave out.
          const hash = `${plan.contentHash.slice(0, 63)}${version}`;
          await publishVersion(database.db, { ...plan, contentHash: hash }, JOURNEY, null);
        }
        const t = performance.now();
        for (let lo = 0; lo < total; lo += chunk) {
          // PGlite: every enrollment's counts, a tenth of the rows behind them.
          await fill(database.db, lo, Math.min(total, lo + chunk), Math.floor(lo / chunk) % rowsShare === 0);
          ctx.progress(
            `report: ${engine}, ${Math.min(total, lo + chunk).toLocaleString('en')} of ${total.toLocaleString('en')} enrollments written, ${round((performance.now() - t) / 1000)} s`,
          );
        }
        const stats = await sql<{ n: string }>`select count(*) as n from journey_stats`.execute(database.db);
        const r = await timeReports(database.db, plan.definition, 7);
        if (r.entered !== total) throw new Error(`${engine}: the report counted ${r.entered} entered, not ${total}`);
        const perSecond = await marksPerSecond(database.db, writes, 1);
        const perSecond16 = url ? await marksPerSecond(database.db, writes, 16) : undefined;
        figures.push(
          {
            benchmark: 'report',
            name: `${engine}: report of ${total.toLocaleString('en')} enrollments, first / median of 7`,
            value: round(r.median),
            unit: 'ms',
            note: `first ${round(r.first)} ms; ${r.messages.toLocaleString('en')} messages (a tenth held out); ${Number(stats.rows[0]?.n).toLocaleString('en')} rows of counts${rowsShare > 1 ? `; a tenth of the enrollments, ledger and marks behind them` : ''}`,
          },
          { benchmark: 'report', name: `${engine}: one version, three months`, value: round(r.ranged), unit: 'ms' },
          {
            benchmark: 'report',
            name: `${engine}: an enrollment's record counted (6 steps), one at a time`,
            value: round(perSecond),
            unit: 'per s',
          },
          ...(perSecond16 !== undefined
            ? [
                {
                  benchmark: 'report',
                  name: `${engine}: records counted 16 at once, all on the same count rows`,
                  value: round(perSecond16),
                  unit: 'per s',
                },
              ]
            : []),
        );
      } finally {
        await database.close();
      }
    }
  } finally {
    await postgres.stop();
  }
  return figures;
}
