/**
 * Several Rapport processes on one PostgreSQL server and one Temporal dev server, as a scaled-out
 * installation runs: `rapport start --role all`, `--role api` and `--role worker`. 2,000 events for
 * 200 customers go alternately to the two APIs. Each customer's events are routed in the order they
 * were sent, nobody is enrolled twice, and two sends for one customer at the same instant (two
 * journeys, run by two workers) do not both pass a frequency cap of one.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { sql } from 'kysely';
import { openDatabase, type OpenDatabase } from '../../activities/db/database';
import { pool } from '../../client/server/events/pool';
import { eventually } from '../helpers/eventually';
import { freePort } from '../helpers/ports';
import { startPostgres, type Postgres } from '../helpers/postgres';
import { runRapport, type RapportProcess } from '../helpers/process';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';
import { devServerEnv } from '../helpers/temporal';

const CUSTOMERS = 200;
/** Events each customer gets one after another: a signup, then steps. */
const IN_ORDER = 8;

let postgres: Postgres;
let temporal: TestWorkflowEnvironment;
let smtp: SmtpSink;
let database: OpenDatabase;
const dirs: string[] = [];
const processes: RapportProcess[] = [];

const tmp = (prefix: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

/** A marketing journey that sends once the event's sendAt has come. */
const poke = (name: string) => `
journey: scale-poke-${name.toLowerCase()}
name: Scale-out poke ${name}
category: marketing
trigger: { event: t.poke }
steps:
  - id: together
    type: wait
    until_expr: timestamp(event.data.sendAt)
  - id: hello
    type: send
    channel: email
    subject: "Poke ${name}"
    text: "${name}"
  - id: hold
    type: wait
    duration: 30d
`;

const journeys = {
  // Enrolled by the signup; every later step event is signalled to it while it waits.
  'scale-order.yaml': `
journey: scale-order
name: Scale-out order
category: service
trigger: { event: t.signup }
steps:
  - id: first-step
    type: wait_for
    event: t.step
    timeout: 30d
  - id: hold
    type: wait
    duration: 30d
`,
  // Every step event would enroll; reentry never: once per customer, whichever process routes.
  'scale-once.yaml': `
journey: scale-once
name: Scale-out once
category: service
trigger: { event: t.step }
steps:
  - id: hold
    type: wait
    duration: 30d
`,
  // Two marketing journeys that send at the same instant (the event's sendAt) on two workers: under
  // a cap of one, one message passes.
  'scale-poke-a.yaml': poke('A'),
  'scale-poke-b.yaml': poke('B'),
};

beforeAll(async () => {
  // Sized as the README says a shared PostgreSQL must be: three processes at the default pool size
  // (20, and as many again for the routers' locks of the `all` and `api` ones) open up to 100
  // connections, PostgreSQL's default max_connections, and the test reads the database too.
  [postgres, temporal, smtp] = await Promise.all([
    startPostgres({ maxConnections: 150 }),
    devServerEnv(),
    startSmtpSink(),
  ]);
  database = await openDatabase({ url: postgres.url });
  const journeysDir = tmp('rapport-scale-journeys-');
  for (const [name, text] of Object.entries(journeys)) fs.writeFileSync(path.join(journeysDir, name), text);
  const shared = {
    DATABASE_URL: postgres.url,
    TEMPORAL_ADDRESS: temporal.address,
    SMTP_URL: smtp.url,
    RAPPORT_PUBLIC_URL: 'https://rapport.test',
    RAPPORT_JOURNEYS_DIRS: journeysDir,
    RAPPORT_PUBLISH_BUILTINS: 'false',
    RAPPORT_MARKETING_CONSENT: 'opt-out',
    RAPPORT_CAP_MARKETING: '1/1d',
    RAPPORT_UNSUBSCRIBE_SECRET: 'scale-out-test-secret-of-at-least-32-characters',
    // Every process sharing the database wraps customers' data keys with the same master key.
    RAPPORT_MASTER_KEY: randomBytes(32).toString('base64'),
  };
  const start = async (role: string) => {
    const p = runRapport(
      { ...shared, RAPPORT_DATA_DIR: tmp(`rapport-scale-${role}-`), RAPPORT_PORT: String(await freePort()) },
      ['--role', role],
    );
    processes.push(p);
    return p;
  };
  // Started together, as an orchestrator would: migrations and publishing are safe to run at once.
  const started = await Promise.all(['all', 'api', 'worker'].map(start));
  await Promise.all(started.map((p) => p.waitForLog(/Rapport is running/)));
}, 240_000);

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop('SIGINT')));
  await database?.close();
  await smtp?.close();
  await temporal?.teardown();
  await postgres?.stop();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
}, 120_000);

test('2,000 events for 200 customers through two APIs: in order, enrolled once, capped once', async () => {
  const [all, api] = processes;
  const urlOf = (p: RapportProcess) => {
    const line = p.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('API:'));
    return String(line?.msg).split(/\s+/)[1]!;
  };
  const apis = [urlOf(all!), urlOf(api!)];
  // A worker-only process has no API.
  expect(processes[2]!.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('API:'))).toBe(false);

  const send = async (apiUrl: string, event: Record<string, unknown>) => {
    const res = await fetch(`${apiUrl}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(event),
    });
    if (res.status !== 202) throw new Error(`event ${String(event.id)}: ${res.status} ${await res.text()}`);
  };
  const customers = Array.from({ length: CUSTOMERS }, (_, c) => c);
  const customer = (c: number) => ({ email: `scale-${c}@example.com` });
  // Round by round: a customer's next event is sent once the API accepted the one before, to the
  // other API than the last.
  for (let round = 0; round < IN_ORDER; round++) {
    await pool(customers, 16, (c) =>
      send(apis[(c + round) % 2]!, {
        id: `so-${c}-${round}`,
        type: round === 0 ? 't.signup' : 't.step',
        customer: customer(c),
        data: { round },
      }),
    );
  }
  const { db } = database;
  const routed = () =>
    db
      .selectFrom('events')
      .select([
        sql<number>`count(*) filter (where routed_at is not null)`.as('routed'),
        sql<number>`count(*) filter (where parked_at is not null)`.as('parked'),
      ])
      .executeTakeFirstOrThrow();
  const sequential = CUSTOMERS * IN_ORDER;
  await eventually('the events sent in order to be routed', routed, {
    until: (n) => Number(n.routed) === sequential || Number(n.parked) > 0,
    timeoutMs: 300_000,
  });
  // Then two events at the same instant, one to each API: both enroll in both marketing journeys,
  // whose sends all wait for the same moment, a little later.
  const sendAt = new Date(Date.now() + 15_000).toISOString();
  await pool(customers, 16, async (c) => {
    await Promise.all(
      apis.map((apiUrl, i) =>
        send(apiUrl, { id: `so-${c}-poke-${i}`, type: 't.poke', customer: customer(c), data: { sendAt } }),
      ),
    );
  });
  const total = CUSTOMERS * (IN_ORDER + 2);
  expect(total).toBe(2000);

  await eventually('every event to be routed', routed, {
    until: (n) => Number(n.routed) === total || Number(n.parked) > 0,
    timeoutMs: 300_000,
  });
  const events = await db
    .selectFrom('events')
    .select(['id', 'customer_id', 'routed_seq', 'route_error'])
    .orderBy('routed_seq')
    .execute();
  expect(events.filter((e) => e.route_error !== null)).toEqual([]);
  expect(events).toHaveLength(total);

  // Each customer's events, in the order they were routed, are the order they were sent in.
  const routedOrder = new Map<string, string[]>();
  for (const e of events) {
    if (e.id.includes('-poke-')) continue;
    routedOrder.set(e.customer_id, [...(routedOrder.get(e.customer_id) ?? []), e.id]);
  }
  expect(routedOrder.size).toBe(CUSTOMERS);
  const outOfOrder = [...routedOrder.values()].filter((ids) => {
    const c = ids[0]!.split('-')[1];
    return ids.join() !== Array.from({ length: IN_ORDER }, (_, r) => `so-${c}-${r}`).join();
  });
  expect(outOfOrder).toEqual([]);

  // Nobody is enrolled twice in a journey: seven step events and two pokes, on two processes.
  const enrollments = await db
    .selectFrom('enrollments')
    .select(['journey_id', sql<number>`count(*)`.as('n'), sql<number>`count(distinct customer_id)`.as('customers')])
    .groupBy('journey_id')
    .orderBy('journey_id')
    .execute();
  expect(enrollments.map((e) => [e.journey_id, Number(e.n), Number(e.customers)])).toEqual([
    ['scale-once', CUSTOMERS, CUSTOMERS],
    ['scale-order', CUSTOMERS, CUSTOMERS],
    ['scale-poke-a', CUSTOMERS, CUSTOMERS],
    ['scale-poke-b', CUSTOMERS, CUSTOMERS],
  ]);

  // Both marketing journeys tried to send to each customer at once: one message passed the cap.
  const outcomes = await eventually(
    'both sends of every customer to have an outcome',
    () => db.selectFrom('send_ledger').select(['customer_id', 'state', 'last_error']).execute(),
    {
      until: (rows) => rows.length === 2 * CUSTOMERS && rows.every((r) => r.state === 'sent' || r.state === 'skipped'),
      timeoutMs: 300_000,
    },
  );
  const sentTo = new Map<string, number>();
  for (const r of outcomes) if (r.state === 'sent') sentTo.set(r.customer_id, (sentTo.get(r.customer_id) ?? 0) + 1);
  expect(sentTo.size).toBe(CUSTOMERS);
  expect([...sentTo.values()].filter((n) => n !== 1)).toEqual([]);
  const skipped = outcomes.filter((r) => r.state === 'skipped');
  expect(skipped).toHaveLength(CUSTOMERS);
  expect(skipped.every((r) => r.last_error?.startsWith('frequency cap: 1 message(s)'))).toBe(true);
  const mail = await smtp.waitFor(CUSTOMERS, 120_000);
  expect(mail).toHaveLength(CUSTOMERS);

  // The sends ran on both workers (the `all` and the `worker` process): the cap held across
  // processes, not only within one.
  const pokes = await db
    .selectFrom('enrollments')
    .select('workflow_id')
    .where('journey_id', 'in', ['scale-poke-a', 'scale-poke-b'])
    .execute();
  const workers = new Set<string>();
  await pool(pokes, 16, async ({ workflow_id }) => {
    const history = await temporal.client.workflow.getHandle(workflow_id).fetchHistory();
    for (const e of history.events ?? []) {
      const identity = e.activityTaskStartedEventAttributes?.identity;
      if (identity) workers.add(identity);
    }
  });
  expect(workers.size).toBe(2);
}, 600_000);
