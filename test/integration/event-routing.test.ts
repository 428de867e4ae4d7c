/**
 * An event is accepted whatever becomes of its routing: too large or too deep is refused at the door
 * (413, 422); with Temporal unreachable it is kept and routed once Temporal is back; one that keeps
 * failing is parked with its error, visible at GET /v1/events/<id>, and routed by a retry once
 * what stopped it is fixed. Calls that need Temporal at once answer 503 with Retry-After. GET /v1/routing
 * counts what the router has still to do.
 */
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { buildApi } from '../../client/server/api/server';
import { EventIntake } from '../../client/server/events/intake';
import { MAX_ROUTE_ATTEMPTS } from '../../client/server/events/router';
import type { RoutingBacklog } from '../../client/server/events/list';
import type { EventReceipt } from '../../client/server/events/schema';
import { eventually } from '../helpers/eventually';
import { startTestStack, type TestStack } from '../helpers/stack';
import { timeSkippingEnv } from '../helpers/temporal';
import { JOURNEY_WORKFLOW, type JourneyWorkflow } from '../../workflows/messages';

let env: TestWorkflowEnvironment;
let stack: TestStack;
let away: Connection;

const helloJourney = `
journey: hello
name: Hello
category: service
trigger: { event: hello.requested }
steps:
  - id: hi
    type: send
    channel: email
    subject: "Hello"
    text: "Hello."
`;

/** A journey whose one step waits: its customers stay inside. */
const waiterJourney = (stepId: string, duration: string) => `
journey: waiter
name: Waiter
category: service
trigger: { event: waiter.requested }
steps:
  - id: ${stepId}
    type: wait
    duration: ${duration}
`;

beforeAll(async () => {
  env = await timeSkippingEnv();
  // No router in the background: this file routes by hand, to see each state on the way.
  stack = await startTestStack(env, { journeysDirs: [], router: false });
  await stack.publish({
    'hello.yaml': helloJourney,
    'waiter.yaml': waiterJourney('later', '30d'),
  });
  // A Temporal that is not there: nothing listens on port 1.
  away = Connection.lazy({ address: '127.0.0.1:1', connectTimeout: '1s' });
});

afterAll(async () => {
  await away?.close();
  await stack?.close();
  await env?.teardown();
});

const post = (payload: Record<string, unknown>) => stack.api.inject({ method: 'POST', url: '/v1/events', payload });

test('an event over the size limit gets 413; data nested too deep gets 422; neither is kept', async () => {
  const big = await post({
    id: 'big-1',
    type: 'hello.requested',
    customer: { email: 'big@example.com' },
    data: { blob: 'x'.repeat(300 * 1024) },
  });
  expect(big.statusCode).toBe(413);
  expect(big.headers['content-type']).toMatch(/application\/problem\+json/);
  expect(big.json<{ detail: string }>().detail).toMatch(/limit is 262144 \(RAPPORT_EVENT_MAX_BYTES\)/);

  let deep: unknown = 'bottom';
  for (let i = 0; i < 40; i++) deep = { down: deep };
  const tooDeep = await post({
    id: 'deep-1',
    type: 'hello.requested',
    customer: { email: 'deep@example.com' },
    data: { deep },
  });
  expect(tooDeep.statusCode).toBe(422);
  expect(tooDeep.json<{ errors: { path: string; message: string }[] }>().errors).toEqual([
    { path: 'data', message: 'expected data nested at most 32 levels deep' },
  ]);

  // In a batch, the large one is refused on its own and the others go in.
  const batch = await post({
    events: [
      { id: 'batch-small', type: 'visit.recorded', customer: { email: 'small@example.com' } },
      {
        id: 'batch-big',
        type: 'visit.recorded',
        customer: { email: 'small@example.com' },
        data: { blob: 'y'.repeat(300 * 1024) },
      },
    ],
  });
  expect(batch.statusCode).toBe(207);
  expect(batch.json<{ results: { status: number }[] }>().results.map((r) => r.status)).toEqual([202, 413]);
  const kept = await stack.db
    .selectFrom('events')
    .select('id')
    .where('id', 'in', ['big-1', 'deep-1', 'batch-big', 'batch-small'])
    .execute();
  expect(kept.map((k) => k.id)).toEqual(['batch-small']);
});

test('Temporal unreachable: the event is accepted, and routed once Temporal is back', async () => {
  const offline = new EventIntake({
    db: stack.db,
    temporal: new Client({ connection: away }),
    taskQueue: stack.taskQueue,
    logger: pino({ level: 'silent' }),
  });
  const { receipt } = await offline.accept({
    id: 'offline-1',
    type: 'hello.requested',
    customer: { email: 'offline@example.com' },
    data: {},
  });
  expect(receipt).toMatchObject({ eventId: 'offline-1', status: 'accepted', enrolled: [] });
  // The client gives up on the address after its own retries; the event shows why it waits.
  const waiting = await eventually(
    'the receipt to say Temporal is unreachable',
    async () => (await stack.api.inject({ method: 'GET', url: '/v1/events/offline-1' })).json<EventReceipt>(),
    { until: (r) => /^Temporal unreachable/.test(r.error ?? '') },
  );
  expect(waiting.status).toBe('accepted');
  // Temporal is back (the stack's own intake reaches it): the router takes the event.
  const shown = await eventually(
    'the router to route the event',
    async () => {
      await stack.intake.routeDue();
      return (await stack.api.inject({ method: 'GET', url: '/v1/events/offline-1' })).json<EventReceipt>();
    },
    { until: (r) => r.status === 'routed', everyMs: 250 },
  );
  expect(shown).toMatchObject({
    status: 'routed',
    enrolled: [expect.objectContaining({ journey: 'hello' })],
  });

  // Calls that need Temporal at once say so, with a time to come back.
  const waiter = await stack.sendEvent({
    id: 'waiter-1',
    type: 'waiter.requested',
    customer: { email: 'w@example.com' },
  });
  const enrollmentId = (waiter.enrolled[0] as { enrollmentId?: string }).enrollmentId!;
  const api = buildApi({
    db: stack.db,
    intake: offline,
    temporal: new Client({ connection: away }),
    protection: stack.protection,
    outboxDir: stack.outboxDir,
    logger: pino({ level: 'silent' }),
  });
  const cancel = await api.inject({ method: 'POST', url: `/v1/enrollments/${enrollmentId}/cancel`, payload: {} });
  await api.close();
  expect(cancel.statusCode).toBe(503);
  expect(cancel.headers['retry-after']).toBe('5');
  expect(cancel.json<{ title: string }>().title).toBe('Service unavailable');
});

test('routing that keeps failing parks the event with its error; a retry routes it once fixed', async () => {
  // The published version is damaged (as a bad migration might leave it): an intake that has not read
  // its plan yet cannot route the event.
  const saved = await stack.db
    .selectFrom('journey_versions')
    .select(['version', 'definition'])
    .where('journey_id', '=', 'hello')
    .executeTakeFirstOrThrow();
  await stack.db
    .updateTable('journey_versions')
    .set({ definition: JSON.stringify({ journey: 'hello' }) })
    .where('journey_id', '=', 'hello')
    .execute();
  const fresh = new EventIntake({
    db: stack.db,
    temporal: stack.temporal,
    taskQueue: stack.taskQueue,
    logger: pino({ level: 'silent' }),
  });
  const { receipt } = await fresh.accept({
    id: 'parked-1',
    type: 'hello.requested',
    customer: { email: 'parked@example.com' },
    data: {},
  });
  expect(receipt).toMatchObject({ status: 'accepted', error: expect.stringMatching(/trigger/) });
  for (let i = 1; i < MAX_ROUTE_ATTEMPTS; i++) await fresh.routeOrDefer('parked-1');
  const parked = (await stack.api.inject({ method: 'GET', url: '/v1/events/parked-1' })).json<
    EventReceipt & { attempts: number }
  >();
  expect(parked).toMatchObject({ status: 'parked', attempts: MAX_ROUTE_ATTEMPTS, error: receipt.error });
  // A parked event holds nobody up: the router passes it by.
  expect(await fresh.routeDue()).toBe(0);

  await stack.db
    .updateTable('journey_versions')
    .set({ definition: JSON.stringify(saved.definition) })
    .where('journey_id', '=', 'hello')
    .execute();
  const retried = await stack.api.inject({ method: 'POST', url: '/v1/events/parked-1/retry' });
  expect(retried.statusCode).toBe(200);
  expect(retried.json<EventReceipt>()).toMatchObject({
    status: 'routed',
    enrolled: [expect.objectContaining({ journey: 'hello' })],
  });
  expect((await stack.api.inject({ method: 'GET', url: '/v1/events/nothing-here' })).statusCode).toBe(404);
  // Every accepted event's answer says where its receipt is.
  const located = await post({ id: 'located-1', type: 'hello.requested', customer: { email: 'located@example.com' } });
  expect(located.statusCode).toBe(202);
  expect(located.headers.location).toBe('/v1/events/located-1');
});

test('an answer that waits for routing routes the customer’s earlier events first, in order', async () => {
  // No router runs in this file: the first event stays accepted until something routes it.
  const first = await post({ id: 'order-1', type: 'hello.requested', customer: { email: 'order@example.com' } });
  expect(first.json<EventReceipt>().status).toBe('accepted');
  const second = await stack.api.inject({
    method: 'POST',
    url: '/v1/events',
    headers: { prefer: 'wait=10' },
    payload: { id: 'order-2', type: 'visit.recorded', customer: { email: 'order@example.com' } },
  });
  expect(second.json<EventReceipt>()).toMatchObject({ status: 'routed' });
  const rows = await stack.db
    .selectFrom('events')
    .select(['id', 'routed_at'])
    .where('id', 'in', ['order-1', 'order-2'])
    .orderBy('seq')
    .execute();
  expect(rows.map((r) => r.id)).toEqual(['order-1', 'order-2']);
  expect(rows[0]!.routed_at!.getTime()).toBeLessThanOrEqual(rows[1]!.routed_at!.getTime());
  const firstNow = (await stack.api.inject({ method: 'GET', url: '/v1/events/order-1' })).json<EventReceipt>();
  expect(firstNow).toMatchObject({ status: 'routed', enrolled: [expect.objectContaining({ journey: 'hello' })] });
});

test('a new enrollment never joins a run that is still ending: it starts once that run has closed', async () => {
  const first = await stack.sendEvent({
    id: 'again-1',
    type: 'hello.requested',
    customer: { email: 'again@example.com' },
  });
  const workflowId = first.enrolled[0]!.workflowId;
  await stack.temporal.workflow.getHandle(workflowId).result();
  // The customer may enter hello again; a run under its workflow id is still going (as the last
  // enrollment's run would be, between recording its end and closing).
  await stack.publish({ 'hello.yaml': helloJourney.replace('steps:', 'entry: { reentry: always }\nsteps:') });
  await stack.temporal.workflow.start<JourneyWorkflow>(JOURNEY_WORKFLOW, {
    taskQueue: 'nobody-polls-this',
    workflowId,
    args: [{ plan: { definition: {}, templates: {}, contentHash: '' } } as never],
  });
  const blocked = await post({ id: 'again-2', type: 'hello.requested', customer: { email: 'again@example.com' } });
  expect(blocked.statusCode).toBe(202);
  const waiting = await stack.intake.routeOrDefer('again-2');
  expect(waiting).toMatchObject({ status: 'accepted', error: expect.stringMatching(/is still ending/) });

  await stack.temporal.workflow.getHandle(workflowId).terminate('the old run closes');
  await stack.intake.retry('again-2');
  const routed = (await stack.api.inject({ method: 'GET', url: '/v1/events/again-2' })).json<EventReceipt>();
  expect(routed).toMatchObject({ status: 'routed', enrolled: [expect.objectContaining({ workflowId })] });
  const run = await stack.temporal.workflow.getHandle(workflowId).describe();
  expect(run.memo?.enrollmentId).toBe(routed.enrolled[0]!.enrollmentId);
  expect(routed.enrolled[0]!.enrollmentId).not.toBe((first.enrolled[0] as { enrollmentId?: string }).enrollmentId);
});

test('the router reads the published journeys once a round, after its events: a pause, a resume and a new version apply to every event accepted after them', async () => {
  const receiptOf = async (id: string) =>
    (await stack.api.inject({ method: 'GET', url: `/v1/events/${id}` })).json<EventReceipt>();
  const postWaiter = async (id: string) => {
    const res = await post({ id, type: 'waiter.requested', customer: { email: `${id}@example.com` } });
    expect(res.statusCode).toBe(202);
  };

  expect((await stack.api.inject({ method: 'POST', url: '/v1/journeys/waiter/pause' })).statusCode).toBe(200);
  await postWaiter('round-paused');
  // Earlier tests' events may be routed in the same round.
  await stack.intake.routeDue();
  expect(await receiptOf('round-paused')).toMatchObject({
    status: 'routed',
    enrolled: [],
    notEnrolled: [{ journey: 'waiter', reason: 'journey is paused' }],
  });

  expect((await stack.api.inject({ method: 'POST', url: '/v1/journeys/waiter/resume' })).statusCode).toBe(200);
  await stack.publish({ 'waiter.yaml': waiterJourney('longer', '60d') });
  // Two customers' events in one round: both see the resume and the new version.
  await postWaiter('round-resumed-1');
  await postWaiter('round-resumed-2');
  await stack.intake.routeDue();
  for (const id of ['round-resumed-1', 'round-resumed-2']) {
    const receipt = await receiptOf(id);
    expect(receipt).toMatchObject({ status: 'routed', notEnrolled: [] });
    expect(receipt.enrolled).toEqual([expect.objectContaining({ journey: 'waiter', version: 2 })]);
  }
});

test('GET /v1/routing counts what the router has still to do: events waiting, waiting for a retry and parked, and the oldest’s age', async () => {
  const backlog = async () => {
    const res = await stack.api.inject({ method: 'GET', url: '/v1/routing' });
    expect(res.statusCode).toBe(200);
    return res.json<RoutingBacklog>();
  };
  const receivedAt = async (id: string) =>
    (
      await stack.db.selectFrom('events').select('received_at').where('id', '=', id).executeTakeFirstOrThrow()
    ).received_at.toISOString();
  // What earlier tests left is routed first.
  await stack.intake.routeDue();
  expect(await backlog()).toEqual({
    waiting: 0,
    retrying: 0,
    parked: 0,
    oldestReceivedAt: null,
    oldestAgeSeconds: null,
  });

  for (const id of ['backlog-1', 'backlog-2', 'backlog-3']) {
    const res = await post({ id, type: 'hello.requested', customer: { email: `${id}@example.com` } });
    expect(res.statusCode).toBe(202);
  }
  // One of them failed a try and waits for its next one, as the router leaves such an event.
  await stack.db
    .updateTable('events')
    .set({ route_attempts: 1, route_error: 'Temporal unreachable', next_route_at: new Date(Date.now() + 3_600_000) })
    .where('id', '=', 'backlog-3')
    .execute();
  const three = await backlog();
  expect(three).toMatchObject({ waiting: 2, retrying: 1, parked: 0, oldestReceivedAt: await receivedAt('backlog-1') });
  expect(three.oldestAgeSeconds).toBeGreaterThanOrEqual(0);

  // The router takes the two that are due; the one waiting for its try stays, the oldest now.
  expect(await stack.intake.routeDue()).toBe(2);
  expect(await backlog()).toMatchObject({
    waiting: 0,
    retrying: 1,
    parked: 0,
    oldestReceivedAt: await receivedAt('backlog-3'),
  });

  // Parked (its tries given up): counted apart, and no longer the oldest waiting.
  await stack.db.updateTable('events').set({ parked_at: new Date() }).where('id', '=', 'backlog-3').execute();
  expect(await backlog()).toEqual({
    waiting: 0,
    retrying: 0,
    parked: 1,
    oldestReceivedAt: null,
    oldestAgeSeconds: null,
  });
  expect(await stack.intake.retry('backlog-3')).toMatchObject({ status: 'routed' });
  expect(await backlog()).toMatchObject({ waiting: 0, retrying: 0, parked: 0 });
});
