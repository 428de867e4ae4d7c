/**
 * End to end on real parts: an event POSTed to the API enrolls a customer in the built-in welcome
 * journey (send, wait 3d, send) on the time-skipping server; both emails go through nodemailer to a
 * real SMTP server on loopback; the timeline shows the event and both messages.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { EventReceipt } from '../../client/server/events/schema';
import type { JourneyResult } from '../../workflows/types';
import { startPostgres, type Postgres } from '../helpers/postgres';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';
import { startTestStack, type TestStack } from '../helpers/stack';
import { timeSkippingEnv } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
let postgres: Postgres;

beforeAll(async () => {
  env = await timeSkippingEnv();
  postgres = await startPostgres();
});

afterAll(async () => {
  await env?.teardown();
  await postgres?.stop();
});

describe.each([
  ['on PGlite', () => undefined],
  ['on PostgreSQL', () => postgres.url],
])('%s', (_engine, databaseUrl) => {
  let smtp: SmtpSink;
  let stack: TestStack;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    stack = await startTestStack(env, { smtpUrl: smtp.url, databaseUrl: databaseUrl() });
  });

  afterAll(async () => {
    await stack?.close();
    await smtp?.close();
  });

  test('an event enrolls a customer, and both emails of send, wait 3d, send arrive at the SMTP server', async () => {
    const res = await stack.api.inject({
      method: 'POST',
      url: '/v1/events?wait=routed',
      payload: {
        id: 'signup-ada-1',
        type: 'signup.completed',
        customer: { email: 'ada@example.com' },
        profile: { firstName: 'Ada', lastName: 'Lovelace' },
      },
    });
    expect(res.statusCode).toBe(202);
    const receipt = res.json<EventReceipt>();
    expect(receipt.enrolled).toHaveLength(1);
    expect(receipt.enrolled[0]).toMatchObject({ journey: 'welcome', version: 1 });

    const handle = stack.temporal.workflow.getHandle(receipt.enrolled[0]!.workflowId);
    const result = (await handle.result()) as JourneyResult;

    expect(result.outcome).toBe('completed');
    expect(result.history.map((h) => [h.stepId, h.outcome])).toEqual([
      ['hello', 'sent'],
      ['settle-in', 'waited'],
      ['check-in', 'sent'],
    ]);

    const mails = await smtp.waitFor(2);
    expect(mails).toHaveLength(2);
    expect(mails.map((m) => (Array.isArray(m.to) ? m.to : [m.to]).map((a) => a?.text))).toEqual([
      ['ada@example.com'],
      ['ada@example.com'],
    ]);
    expect(mails[0]!.subject).toBe('Welcome, Ada!');
    expect(mails[0]!.text).toContain('Hi Ada,');
    expect(mails[0]!.text).toContain('Thanks for signing up.');
    expect(mails[1]!.subject).toBe('How are your first days going, Ada?');
    expect(mails[1]!.text).toContain('You signed up a few days ago');
    expect(mails[0]!.from?.value).toEqual([{ name: 'Rapport Test', address: 'journeys@rapport.test' }]);
    expect(mails[0]!.messageId).not.toBe(mails[1]!.messageId);

    // The timeline holds the event, the enrollment, both messages three days apart, and the end.
    const view = await stack.api.inject({ method: 'GET', url: `/v1/customers/${receipt.customerId}` });
    expect(view.statusCode).toBe(200);
    const { timeline, enrollments, customer } = view.json<{
      timeline: { at: string; kind: string; summary: string }[];
      enrollments: { status: string; outcome: string }[];
      customer: { email: string; firstName: string };
    }>();
    expect(customer).toMatchObject({ email: 'ada@example.com', firstName: 'Ada' });
    expect(timeline.map((t) => [t.kind, t.summary])).toEqual([
      ['event', 'event signup.completed'],
      ['enrollment', 'entered journey welcome (version 1)'],
      ['message', 'email sent: Welcome, Ada!'],
      ['message', 'email sent: How are your first days going, Ada?'],
      ['enrollment', 'completed journey welcome'],
    ]);
    const [first, second] = timeline.filter((t) => t.kind === 'message').map((t) => Date.parse(t.at));
    expect(second! - first!).toBeGreaterThanOrEqual(3 * 86_400_000);
    expect(enrollments).toEqual([expect.objectContaining({ status: 'completed', outcome: 'completed' })]);
  });

  test('the same event id again has no second effect and answers as the first time', async () => {
    const payload = { id: 'signup-bob-1', type: 'signup.completed', customer: { email: 'bob@example.com' } };
    const first = await stack.api.inject({ method: 'POST', url: '/v1/events?wait=routed', payload });
    const second = await stack.api.inject({ method: 'POST', url: '/v1/events?wait=routed', payload });
    expect(first.statusCode).toBe(202);
    expect(second.statusCode).toBe(202);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json()).toEqual(first.json());
    const enrollments = await stack.db
      .selectFrom('enrollments')
      .selectAll()
      .where('customer_id', '=', first.json<EventReceipt>().customerId)
      .execute();
    expect(enrollments).toHaveLength(1);

    const changed = await stack.api.inject({
      method: 'POST',
      url: '/v1/events?wait=routed',
      payload: { ...payload, data: { plan: 'pro' } },
    });
    expect(changed.statusCode).toBe(409);
    expect(changed.headers['content-type']).toContain('application/problem+json');
    expect(changed.json()).toMatchObject({ status: 409, detail: expect.stringContaining('signup-bob-1') });

    await stack.temporal.workflow.getHandle(first.json<EventReceipt>().enrolled[0]!.workflowId).result();
  });

  test('a customer already in the journey is not enrolled twice', async () => {
    const a = await stack.api.inject({
      method: 'POST',
      url: '/v1/events?wait=routed',
      payload: { id: 'signup-cy-1', type: 'signup.completed', customer: { email: 'cy@example.com' } },
    });
    const b = await stack.api.inject({
      method: 'POST',
      url: '/v1/events?wait=routed',
      payload: { id: 'signup-cy-2', type: 'signup.completed', customer: { email: 'cy@example.com' } },
    });
    expect(a.json<EventReceipt>().enrolled).toHaveLength(1);
    expect(b.json<EventReceipt>()).toMatchObject({
      enrolled: [],
      notEnrolled: [{ journey: 'welcome', reason: 'already in this journey' }],
    });
    await stack.temporal.workflow.getHandle(a.json<EventReceipt>().enrolled[0]!.workflowId).result();
  });

  test('a malformed event is refused with every problem and where it is', async () => {
    const res = await stack.api.inject({
      method: 'POST',
      url: '/v1/events?wait=routed',
      payload: {
        type: 'Signup Completed',
        customer: { email: 'not-an-email' },
        occurredAt: 'yesterday',
        colour: 'red',
      },
    });
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toContain('application/problem+json');
    const body = res.json<{ errors: { path: string; message: string }[] }>();
    expect(body.errors).toEqual(
      expect.arrayContaining([
        { path: 'type', message: expect.stringContaining('expected an event type') },
        { path: 'customer.email', message: 'expected an email address' },
        { path: 'occurredAt', message: expect.stringContaining('ISO 8601') },
        { path: '', message: 'unknown field(s) "colour"' },
      ]),
    );
    const missingId = await stack.api.inject({
      method: 'POST',
      url: '/v1/events?wait=routed',
      payload: { type: 'signup.completed', customer: { email: 'dee@example.com' } },
    });
    expect(missingId.statusCode).toBe(400);
    expect(missingId.json()).toMatchObject({ errors: [{ path: 'id' }] });
  });
});
