/**
 * The console's pages with 100,000 customers in the database: the server's time per page, from the
 * request to the last byte of HTML, as `rapport start` serves them (the embedded PostgreSQL, the API
 * and the console in one process, pages calling the API for the signed-in session).
 *
 * The database holds what a shop of that size would: 100,000 customers with names, emails, phones
 * and an id in the shop's system; their consents; an order and a half each; five timeline entries
 * each; an event each (routed, a few parked); 20,000 waiting in the welcome journey; 500 open tasks.
 * Each page is asked for in rounds (after one round to warm up) and its p50 and p99 kept.
 */
import { sql } from 'kysely';
import pino from 'pino';
import { type Db, migrate, openDatabase } from '../activities/db/database';
import { createApiKey } from '../activities/store/api-keys';
import { createConsoleSession } from '../activities/store/console-sessions';
import { publishFolders } from '../client/server/journeys/publish';
import { builtinJourneysDir, builtinTemplatesDir } from '../paths';
import { parseConfig } from '../worker/config';
import { createRapport } from '../worker/rapport';
import { type BenchContext, devServer, embeddedDatabase, type Figure, percentile, round } from './common';

/** The shop's customers, [lo, hi), with everything the pages read about them. */
async function fill(db: Db, lo: number, hi: number): Promise<void> {
  const range = sql`generate_series(${lo}::bigint, ${hi - 1}::bigint) g`;
  const first = sql`(array['Ada','Bo','Cy','Di','Ed','Flo','Gus','Hal','Ida','Jo','Kit','Lou','Max','Ned','Olga','Pia'])[1 + g % 16]`;
  const last = sql`(array['Byron','Lovelace','Hopper','Turing','Noether','Curie','Meitner','Franklin','Dirac','Bohr','Pauli','Planck'])[1 + (g / 16) % 12]`;
  await sql`
    insert into customers (id, email, phone, first_name, last_name, timezone, locale, lifecycle_stage, tags, attributes, updated_at)
    select 'cus_c' || g, 'customer' || g || '@example.com', '+1415' || lpad(g::text, 7, '0'), ${first}, ${last} || g,
      'UTC', 'en', (array['prospect','new_customer','repeat_customer','lapsed'])[1 + g % 4]::text, '[]'::jsonb, '{}'::jsonb, now()
    from ${range}`.execute(db);
  await sql`
    insert into identities (kind, value, customer_id)
    select k.kind, case k.kind when 'email' then 'customer' || g || '@example.com' when 'phone' then '+1415' || lpad(g::text, 7, '0')
      else 'SHOP-' || g end, 'cus_c' || g
    from ${range}, (values ('email'), ('phone'), ('ext:shop')) k(kind)`.execute(db);
  await sql`
    insert into consents (customer_id, channel, purpose, granted, method, source, recorded_at, evidence)
    select 'cus_c' || g, 'email', 'marketing', g % 3 <> 0, 'checkbox', 'signup form', now() - (g % 400) * interval '1 day', '{"form":"newsletter"}'::jsonb
    from ${range}`.execute(db);
  await sql`
    insert into orders (id, customer_id, placed_at, total, currency)
    select 'ord_c' || g || '_' || n, 'cus_c' || g, now() - ((g + n * 37) % 700) * interval '1 day', 10 + (g * 7 + n * 13) % 240, 'USD'
    from ${range}, generate_series(1, 1 + (g % 2)::int) n`.execute(db);
  await sql`
    insert into events (id, customer_id, type, occurred_at, data, request_hash, routed_at, result, route_attempts, route_error, parked_at)
    select 'evt_c' || g, 'cus_c' || g, 'order.placed', now() - (g % 700) * interval '1 day', '{"orderId":"x"}'::jsonb, md5(g::text),
      case when g % 1000 = 7 then null else now() end,
      case when g % 1000 = 7 then null else '{"enrolled":[],"signalled":[],"notEnrolled":[]}'::jsonb end,
      case when g % 1000 = 7 then 8 else 1 end,
      case when g % 1000 = 7 then 'Temporal cannot be reached' else null end,
      case when g % 1000 = 7 then now() else null end
    from ${range}`.execute(db);
  await sql`
    insert into timeline (customer_id, at, kind, summary, data)
    select 'cus_c' || g, now() - (g % 700 + n) * interval '1 day', (array['event','message','enrollment','task','change'])[n]::text,
      'entry ' || n, '{}'::jsonb
    from ${range}, generate_series(1, 5) n`.execute(db);
  await sql`
    insert into enrollments (id, customer_id, journey_id, version, workflow_id, status, current_step)
    select 'enr_c' || g, 'cus_c' || g, 'welcome', 1, 'journey:welcome:cus_c' || g, 'active', 'wait'
    from ${range} where g % 5 = 0`.execute(db);
  await sql`
    insert into tasks (id, task_key, customer_id, team, title, description, due_at, status, created_at)
    select 'tsk_c' || g, 'bench:' || g, 'cus_c' || g, (array['support','support-managers'])[1 + (g / 200) % 2],
      'Resolve complaint ' || g, 'A complaint', now() + ((g % 96) - 24) * interval '1 hour', 'open', now() - interval '1 day'
    from ${range} where g % 200 = 0`.execute(db);
}

export async function consoleBench(ctx: BenchContext): Promise<Figure[]> {
  const customers = ctx.n(100_000, 2_000);
  const rounds = ctx.n(30, 3);
  const pg = await embeddedDatabase();
  const env = await devServer();
  const database = await openDatabase({ url: pg.url });
  try {
    await migrate(database.db);
    await publishFolders(database.db, [builtinJourneysDir], builtinTemplatesDir);
    ctx.progress(`console: filling the database with ${customers.toLocaleString('en')} customers`);
    const chunk = 10_000;
    for (let lo = 0; lo < customers; lo += chunk) {
      await fill(database.db, lo, Math.min(customers, lo + chunk));
      ctx.progress(`console: ${Math.min(customers, lo + chunk).toLocaleString('en')} customers`);
    }
    await sql`analyze`.execute(database.db);

    const config = parseConfig({ RAPPORT_DATA_DIR: '/tmp', TEMPORAL_TASK_QUEUE: 'bench-console' });
    const rapport = createRapport(config, { database, connection: env.connection, logger: pino({ level: 'silent' }) });
    const api = rapport.createApi({});
    await api.ready();
    const { view } = await createApiKey(database.db, 'bench', ['admin']);
    const session = await createConsoleSession(database.db, view.id);
    const headers = { cookie: `rapport_session=${session}` };

    const middle = Math.floor(customers / 2);
    const pages: [string, string][] = [
      ['journeys', '/console/journeys'],
      ['a journey (graph, counts, report)', '/console/journeys/welcome'],
      ['customers, first page', '/console/customers'],
      ['customers, search by email', `/console/customers?q=customer${middle}@example.com`],
      ['customers, search by phone', `/console/customers?q=%2B1415${String(middle).padStart(7, '0')}`],
      ['customers, search by name', '/console/customers?q=Lovelace'],
      ['a customer', `/console/customers/cus_c${middle}`],
      [
        'a customer, older timeline entries',
        `/console/customers/cus_c${middle}?before=${encodeURIComponent(new Date(Date.now() - 400 * 86_400_000).toISOString())}`,
      ],
      ['erasure confirmation', `/console/customers/cus_c${middle}/erase`],
      ['inbox', '/console/inbox'],
      ['inbox, one team', '/console/inbox?team=support-managers'],
      ['a task', `/console/inbox/tsk_c${Math.floor(middle / 200) * 200}`],
      ['events', '/console/events'],
      ['parked events', '/console/events?status=parked'],
      ['an event', `/console/events/evt_c${middle}`],
      ['publish form (the YAML of the newest version)', '/console/journeys/welcome/publish'],
    ];
    const figures: Figure[] = [];
    let worst = 0;
    for (const [name, url] of pages) {
      const times: number[] = [];
      for (let i = 0; i <= rounds; i++) {
        const t = performance.now();
        const res = await api.inject({ method: 'GET', url, headers });
        const ms = performance.now() - t;
        if (res.statusCode !== 200) throw new Error(`GET ${url} answered ${res.statusCode}: ${res.body.slice(0, 300)}`);
        if (i > 0) times.push(ms);
      }
      times.sort((a, b) => a - b);
      const p50 = percentile(times, 50);
      const p99 = percentile(times, 99);
      worst = Math.max(worst, p99);
      ctx.progress(`console: ${name}: p50 ${round(p50, 1)} ms, p99 ${round(p99, 1)} ms`);
      figures.push({
        benchmark: 'console',
        name: `${name}: p50 / p99`,
        value: round(p99, 1),
        unit: 'ms',
        note: `p50 ${round(p50, 1)} ms, ${rounds} rounds, ${customers.toLocaleString('en')} customers`,
      });
    }
    figures.push({
      benchmark: 'console',
      name: 'slowest page p99 ÷ 300 ms',
      value: round(worst / 300, 2),
      unit: 'ratio',
      note: 'at most 1 is the target',
    });
    await api.close();
    return figures;
  } finally {
    await database.close();
    await env.teardown();
    await pg.stop();
  }
}
