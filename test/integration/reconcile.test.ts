/**
 * Reconciliation (client/server/events/reconcile.ts) on the time-skipping server: an enrollment whose
 * workflow was terminated, or never started, is recorded as failed and the customer may enter again;
 * claims of sends whose journey has gone are closed, or marked unknown when the request was out.
 */
import pino from 'pino';
import { reconcile } from '../../client/server/events/reconcile';
import { createHarness, type Harness } from '../../client/tools/testing/harness';

let h: Harness;

beforeAll(async () => {
  h = await createHarness({
    journeys: {
      'waiter.yaml': `
journey: waiter
name: Waiter
category: service
trigger: { event: waiter.started }
entry: { reentry: always }
steps:
  - { id: hello, type: send, channel: email, subject: Hello, text: Hello }
  - { id: pause, type: wait, duration: 30d }
  - { id: later, type: send, channel: email, subject: Later, text: Later }
`,
    },
  });
});

afterAll(async () => {
  await h?.close();
});

const deps = () => ({ db: h.stack.db, temporal: h.stack.plainTemporal, logger: pino({ level: 'silent' }) });

const enrollmentsOf = (customerId: string) =>
  h.stack.db
    .selectFrom('enrollments')
    .select(['id', 'status', 'outcome', 'workflow_id'])
    .where('customer_id', '=', customerId)
    .orderBy('started_at')
    .execute();

test('a journey terminated from outside is recorded failed, with the reason, and the customer may enter again', async () => {
  const { customerId, workflowId } = await h.enroll('waiter.started', { email: 'stopped@example.com' });
  // While it runs, a second trigger is refused: the customer is in the journey.
  const again = await h.send({ type: 'waiter.started', customer: { id: customerId } });
  expect(again.notEnrolled).toEqual([{ journey: 'waiter', reason: 'already in this journey' }]);
  const running = await reconcile(deps(), { minAgeMs: 0 });
  expect(running.failed).toEqual([]);

  await h.stack.plainTemporal.workflow.getHandle(workflowId).terminate('stopped by an operator in the UI');
  const report = await reconcile(deps(), { minAgeMs: 0 });
  expect(report.failed).toEqual([
    {
      enrollmentId: expect.stringMatching(/^enr_/),
      customerId,
      journey: 'waiter',
      reason: 'its workflow terminated: stopped by an operator in the UI',
    },
  ]);
  expect(await enrollmentsOf(customerId)).toMatchObject([
    { status: 'failed', outcome: 'its workflow terminated: stopped by an operator in the UI' },
  ]);
  expect((await h.timeline(customerId)).map((t) => t.summary)).toContain(
    'failed in journey waiter (its workflow terminated: stopped by an operator in the UI)',
  );
  // Once is enough: the next pass finds nothing to change.
  expect((await reconcile(deps(), { minAgeMs: 0 })).failed).toEqual([]);

  // The journey's reentry rule (always) lets the customer in again.
  const back = await h.send({ type: 'waiter.started', customer: { id: customerId } });
  expect(back.enrolled.map((e) => e.journey)).toEqual(['waiter']);
  expect((await enrollmentsOf(customerId)).map((e) => e.status)).toEqual(['failed', 'active']);
});

test('an enrollment whose workflow never started is failed once its event is parked, not while it is being routed', async () => {
  const { customerId } = await h.enroll('waiter.started', { email: 'ghost@example.com' });
  const db = h.stack.db;
  const event = (id: string, parked: boolean) => ({
    id,
    customer_id: customerId,
    type: 'waiter.started',
    occurred_at: new Date(),
    data: '{}',
    request_hash: id,
    route_attempts: parked ? 5 : 1,
    route_error: 'Temporal refused the start',
    // The one still being routed waits for its next try, later than this test.
    next_route_at: parked ? null : new Date(Date.now() + 3_600_000),
    parked_at: parked ? new Date() : null,
  });
  await db
    .insertInto('events')
    .values([event('evt_ghost_parked', true), event('evt_ghost_routing', false)])
    .execute();
  const enrollment = (id: string, eventId: string) => ({
    id,
    customer_id: customerId,
    journey_id: 'waiter',
    version: 1,
    workflow_id: `journey:waiter:${customerId}:${id}`,
    event_id: eventId,
    status: 'active' as const,
    current_step: 'hello',
    goal_met: false,
    // Made a minute ago, so that the pass's age cut-off holds whichever clock stamps the row.
    started_at: new Date(Date.now() - 60_000),
  });
  await db
    .insertInto('enrollments')
    .values([enrollment('enr_ghost_parked', 'evt_ghost_parked'), enrollment('enr_ghost_routing', 'evt_ghost_routing')])
    .execute();

  const report = await reconcile(deps(), { minAgeMs: 0 });
  expect(report.failed.map((f) => [f.enrollmentId, f.reason])).toEqual([
    ['enr_ghost_parked', 'its workflow does not exist (it never started, or was removed after it closed)'],
  ]);
  expect(report.parkedEvents).toBeGreaterThanOrEqual(1);
  const statuses = await db
    .selectFrom('enrollments')
    .select(['id', 'status'])
    .where('id', 'in', ['enr_ghost_parked', 'enr_ghost_routing'])
    .orderBy('id')
    .execute();
  expect(statuses).toEqual([
    { id: 'enr_ghost_parked', status: 'failed' },
    { id: 'enr_ghost_routing', status: 'active' },
  ]);
});

test('claims of sends whose journey has gone are closed, or marked unknown when the request was out; a running one keeps its claim', async () => {
  const { customerId, workflowId } = await h.enroll('waiter.started', { email: 'claims@example.com' });
  const claim = (key: string, workflow: string, phase: 'before_request' | 'request_in_flight') => ({
    send_key: key,
    customer_id: customerId,
    workflow_id: workflow,
    step_id: 'hello',
    channel: 'email' as const,
    state: 'claimed' as const,
    phase,
    attempt: 1,
    claimed_at: new Date(Date.now() - 3_600_000),
    updated_at: new Date(Date.now() - 3_600_000),
  });
  await h.stack.db
    .insertInto('send_ledger')
    .values([
      claim('claim-gone-before', 'journey:waiter:gone-1', 'before_request'),
      claim('claim-gone-in-flight', 'journey:waiter:gone-2', 'request_in_flight'),
      claim('claim-running', workflowId, 'request_in_flight'),
    ])
    .execute();

  const report = await reconcile(deps(), { minAgeMs: 0 });
  expect(report.claimsClosed).toBe(1);
  expect(report.claimsAmbiguous).toEqual([{ sendKey: 'claim-gone-in-flight', customerId, stepId: 'hello' }]);
  const rows = await h.stack.db
    .selectFrom('send_ledger')
    .select(['send_key', 'state', 'last_error'])
    .where('send_key', 'like', 'claim-%')
    .orderBy('send_key')
    .execute();
  expect(rows).toEqual([
    {
      send_key: 'claim-gone-before',
      state: 'failed_permanent',
      last_error: 'its journey ended before the request was made: nothing was sent',
    },
    {
      send_key: 'claim-gone-in-flight',
      state: 'unknown',
      last_error: 'its journey ended while the request was with the provider: whether it was sent is unknown',
    },
    { send_key: 'claim-running', state: 'claimed', last_error: null },
  ]);
});

test('POST /v1/reconcile runs a pass and says what it found; a bad body is refused at its field', async () => {
  const ok = await h.stack.api.inject({ method: 'POST', url: '/v1/reconcile', payload: { minAgeSeconds: 0 } });
  expect(ok.statusCode).toBe(200);
  expect(ok.json()).toMatchObject({ checked: expect.any(Number), failed: [], claimsClosed: 0, claimsAmbiguous: [] });
  const bad = await h.stack.api.inject({ method: 'POST', url: '/v1/reconcile', payload: { minAgeSeconds: -1 } });
  expect(bad.statusCode).toBe(422);
  expect(bad.body).toMatch(/minAgeSeconds/);
});
