/**
 * Requests that race, on a real PostgreSQL server (where they truly run at once, on separate
 * connections): the same event sent twenty times at the same instant is accepted once, and every
 * request gets the first answer; twenty different events naming one new customer create one customer.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startPostgres, type Postgres } from '../helpers/postgres';
import { startTestStack, type TestStack } from '../helpers/stack';
import { timeSkippingEnv } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
let postgres: Postgres;
let stack: TestStack;
/** The statements the stack's database ran, in order. */
const statements: string[] = [];

beforeAll(async () => {
  env = await timeSkippingEnv();
  postgres = await startPostgres();
  stack = await startTestStack(env, {
    databaseUrl: postgres.url,
    journeysDirs: [],
    onQuery: (sql) => statements.push(sql),
  });
  await stack.publish({
    'greeting.yaml': `
journey: greeting
name: Greeting
category: service
trigger: { event: greeting.requested }
steps:
  - id: hello
    type: send
    channel: email
    subject: "Hello"
    text: "Hello."
`,
  });
});

afterAll(async () => {
  await stack?.close();
  await postgres?.stop();
  await env?.teardown();
});

const post = (payload: Record<string, unknown>) =>
  stack.api.inject({ method: 'POST', url: '/v1/events?wait=routed', payload });

test('twenty identical events at once: one is accepted, every request gets its answer', async () => {
  const event = { id: 'race-1', type: 'greeting.requested', customer: { email: 'race@example.com' } };
  const answers = await Promise.all(Array.from({ length: 20 }, () => post(event)));
  expect(answers.map((a) => a.statusCode)).toEqual(Array.from({ length: 20 }, () => 202));
  const bodies = answers.map((a) => a.json<{ eventId: string; customerId: string; enrolled: unknown[] }>());
  expect(new Set(bodies.map((b) => b.customerId)).size).toBe(1);
  expect(bodies.every((b) => b.eventId === 'race-1')).toBe(true);
  // The winner's answer is the first; every other request replays it.
  expect(answers.filter((a) => a.headers['idempotent-replayed'] !== 'true')).toHaveLength(1);

  const events = await stack.db.selectFrom('events').select('id').where('id', '=', 'race-1').execute();
  expect(events).toHaveLength(1);
  const customers = await stack.db
    .selectFrom('customers')
    .select('id')
    .where('email', '=', 'race@example.com')
    .execute();
  expect(customers).toHaveLength(1);
  const enrollments = await stack.db
    .selectFrom('enrollments')
    .select('id')
    .where('customer_id', '=', customers[0]!.id)
    .execute();
  expect(enrollments).toHaveLength(1);
});

test('twenty different events naming one new customer at once: one customer, twenty events', async () => {
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      post({ id: `crowd-${i}`, type: 'visit.recorded', customer: { email: 'crowd@example.com' } }),
    ),
  );
  expect(answers.map((a) => a.statusCode)).toEqual(Array.from({ length: 20 }, () => 202));
  const customers = await stack.db
    .selectFrom('customers')
    .select('id')
    .where('email', '=', 'crowd@example.com')
    .execute();
  expect(customers).toHaveLength(1);
  expect(new Set(answers.map((a) => a.json<{ customerId: string }>().customerId))).toEqual(new Set([customers[0]!.id]));
  const events = await stack.db.selectFrom('events').select('id').where('customer_id', '=', customers[0]!.id).execute();
  expect(events).toHaveLength(20);
});

/** Sends a batch and waits for its events to be routed. */
const postBatch = (events: unknown[]) =>
  stack.api.inject({ method: 'POST', url: '/v1/events?wait=routed', payload: { events } });

/** How many savepoints the statements from `from` on made. */
const savepointsFrom = (from: number) => statements.slice(from).filter((q) => /^savepoint\b/i.test(q.trim())).length;

test('a batch whose events all write is written without a savepoint per event', async () => {
  const before = statements.length;
  const res = await postBatch(
    [1, 2, 3].map((n) => ({
      id: `clean-${n}`,
      type: 'greeting.requested',
      customer: { email: `clean-${n}@example.com` },
    })),
  );
  expect(res.statusCode).toBe(202);
  expect(savepointsFrom(before)).toBe(0);
  const kept = await stack.db.selectFrom('events').select('id').where('id', 'like', 'clean-%').execute();
  expect(kept).toHaveLength(3);
});

test('a batch commits once; an event refused inside it (an unknown customer) loses none of the others', async () => {
  const before = statements.length;
  const res = await postBatch([
    { id: 'batch-a', type: 'greeting.requested', customer: { email: 'batch-a@example.com' } },
    { id: 'batch-missing', type: 'greeting.requested', customer: { id: 'cus_does_not_exist' } },
    { id: 'batch-b', type: 'greeting.requested', customer: { email: 'batch-b@example.com' } },
    // The same id twice in one batch: the second answers as the first.
    { id: 'batch-a', type: 'greeting.requested', customer: { email: 'batch-a@example.com' } },
  ]);
  expect(res.statusCode).toBe(207);
  const results = res.json<{ results: { status: number; detail?: string }[] }>().results;
  expect(results.map((r) => r.status)).toEqual([202, 404, 202, 202]);
  const kept = await stack.db
    .selectFrom('events')
    .select(['id', 'routed_at'])
    .where('id', 'like', 'batch-%')
    .orderBy('id')
    .execute();
  expect(kept.map((k) => k.id)).toEqual(['batch-a', 'batch-b']);
  expect(kept.every((k) => k.routed_at !== null)).toBe(true);
  // Its refused write undid the batch's first try; written again, each event behind a savepoint.
  expect(savepointsFrom(before)).toBeGreaterThanOrEqual(4);
});
