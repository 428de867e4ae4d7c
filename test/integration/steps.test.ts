/**
 * Every step kind, the goal and exit events, tasks completed through the API, versions and
 * continue-as-new, run by the real interpreter on the time-skipping server.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { projectRoot } from '../../paths';
import { compileJourney } from '../../definitions/compile';
import { toPlan } from '../../client/server/journeys/load';
import type { CustomerFacts } from '../../definitions/facts';
import type { JourneyInput } from '../../workflows/types';
import { startTestStack, type TestStack } from '../helpers/stack';
import { timeSkippingEnv } from '../helpers/temporal';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';
import { eventually } from '../helpers/eventually';
import {
  JOURNEY_WORKFLOW,
  journeyEventSignal,
  journeyStateQuery,
  type JourneyWorkflow,
} from '../../workflows/messages';

let env: TestWorkflowEnvironment;
let stack: TestStack;
let hooks: WebhookSink;

const tour = (webhookUrl: string) => `
journey: steps-tour
name: A tour of every step kind
category: service
trigger:
  event: tour.started
  when: "event.data.plan != 'none'"
exit:
  events: [account.closed]
steps:
  - id: greet
    type: send
    channel: email
    subject: "Hello {{ customer.firstName }}"
    text: "Your {{ event.data.plan }} plan is ready."
  - id: activation
    type: wait_for
    event: app.activated
    when: "event.data.platform == 'ios'"
    timeout: 2d
    on_event:
      - id: thanks
        type: send
        channel: email
        subject: "Thanks for activating on {{ events.activation.data.platform }}"
        text: "Enjoy."
    on_timeout:
      - id: nudge
        type: send
        channel: sms
        text: "Hi {{ customer.firstName }}, need a hand getting started?"
  - id: value
    type: branch
    cases:
      - when: "'vip' in customer.tags"
        steps:
          - id: vip-call
            type: task
            team: account-managers
            title: "Welcome call for {{ customer.firstName }} {{ customer.lastName }}"
            due: 1d
            wait:
              timeout: 1d
              on_timeout:
                - id: call-missed
                  type: update
                  tags: { add: [call-missed] }
    otherwise:
      - id: ab
        type: split
        paths:
          - name: offer
            weight: 1
            steps:
              - id: offer-mail
                type: send
                channel: email
                subject: "An offer for you"
                text: "10% off."
          - name: holdout
            weight: 1
  - id: morning
    type: wait
    until: { time: "09:00", days: [mon, tue, wed, thu, fri] }
  - id: mark
    type: update
    set:
      lifecycleStage: new_customer
      attributes: { touredAt: "{{ now }}", callOutcome: "{{ tasks['vip-call'].outcome }}" }
    tags: { add: [toured] }
  - id: notify
    type: webhook
    url: ${webhookUrl}/toured
    body: '{"customer": "{{ customer.id }}", "stage": "{{ customer.lifecycleStage }}"}'
`;

beforeAll(async () => {
  env = await timeSkippingEnv();
  hooks = await startWebhookSink();
  stack = await startTestStack(env, {
    journeysDirs: [],
    webhooks: { allowHosts: [hooks.host], allowPrivate: true },
  });
  expect(await stack.publish({ 'steps-tour.yaml': tour(hooks.url) })).toEqual([
    expect.objectContaining({ journey: 'steps-tour', version: 1, created: true }),
  ]);
});

afterAll(async () => {
  await stack?.close();
  await hooks?.close();
  await env?.teardown();
});

async function waitForTask(customerId: string): Promise<{ id: string; title: string; team: string }> {
  return eventually('an account-managers task', async () => {
    const res = await stack.api.inject({
      method: 'GET',
      url: `/v1/tasks?team=account-managers&customer=${customerId}`,
    });
    return res.json<{ tasks: { id: string; title: string; team: string }[] }>().tasks[0];
  });
}

async function timeline(customerId: string): Promise<{ kind: string; summary: string; at: string }[]> {
  const res = await stack.api.inject({ method: 'GET', url: `/v1/customers/${customerId}` });
  return res.json<{ timeline: { kind: string; summary: string; at: string }[] }>().timeline;
}

test('a VIP who activates on iOS: event branch, task completed through the API, local-time wait, update, webhook', async () => {
  const started = await stack.sendEvent({
    id: 'tour-vip',
    type: 'tour.started',
    customer: { email: 'vip@example.com' },
    profile: { firstName: 'Vera', lastName: 'Ip', timezone: 'Europe/Paris' },
    data: { plan: 'pro' },
  });
  expect(started.enrolled.map((e) => e.journey)).toEqual(['steps-tour']);
  const { customerId } = started;
  await stack.db
    .updateTable('customers')
    .set({ tags: JSON.stringify(['vip']) })
    .where('id', '=', customerId)
    .execute();
  const handle = stack.temporal.workflow.getHandle<JourneyWorkflow>(started.enrolled[0]!.workflowId);

  // An event that does not match the condition is not the one the step waits for.
  const android = await stack.sendEvent({
    id: 'act-1',
    type: 'app.activated',
    customer: { id: customerId },
    data: { platform: 'android' },
  });
  expect(android.signalled.map((s) => s.journey)).toEqual(['steps-tour']);
  await stack.sendEvent({
    id: 'act-2',
    type: 'app.activated',
    customer: { id: customerId },
    data: { platform: 'ios' },
  });

  const task = await waitForTask(customerId).catch(async (err: Error) => {
    throw new Error(`${err.message}; journey state: ${JSON.stringify(await handle.query(journeyStateQuery))}`);
  });
  expect(task.title).toBe('Welcome call for Vera Ip');
  const state = await handle.query(journeyStateQuery);
  expect(state).toMatchObject({
    currentStep: 'vip-call',
    status: 'active',
    waitingFor: `task ${task.id} to be completed`,
  });

  const done = await stack.api.inject({
    method: 'POST',
    url: `/v1/tasks/${task.id}/complete`,
    payload: { outcome: 'reached', note: 'happy' },
  });
  expect(done.statusCode).toBe(200);
  const again = await stack.api.inject({
    method: 'POST',
    url: `/v1/tasks/${task.id}/complete`,
    payload: { outcome: 'other' },
  });
  expect(again.statusCode).toBe(409);

  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  expect(result.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual([
    'greet:sent',
    'activation:event',
    'thanks:sent',
    'value:branch',
    'vip-call:task',
    'morning:waited',
    'mark:updated',
    'notify:called',
  ]);
  // 09:00 on a weekday in Paris.
  const morning = result.history.find((h) => h.stepId === 'morning')!;
  const wokeAt = new Date(morning.at);
  const paris = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Paris',
    hour: '2-digit',
    minute: '2-digit',
    weekday: 'short',
  }).format(wokeAt);
  expect(paris).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 09:00$/);

  const customer = await stack.db
    .selectFrom('customers')
    .selectAll()
    .where('id', '=', customerId)
    .executeTakeFirstOrThrow();
  expect(customer.lifecycle_stage).toBe('new_customer');
  expect(customer.tags).toEqual(['toured', 'vip']);
  expect(customer.attributes).toEqual({ callOutcome: 'reached', touredAt: morning.at });

  expect(hooks.requests).toHaveLength(1);
  expect(hooks.requests[0]).toMatchObject({ method: 'POST', path: '/toured' });
  expect(JSON.parse(hooks.requests[0]!.body)).toEqual({ customer: customerId, stage: 'new_customer' });
  expect(hooks.requests[0]!.headers['idempotency-key']).toMatch(/^[0-9a-f]{32}$/);

  const summaries = (await timeline(customerId)).map((t) => t.summary);
  expect(summaries).toEqual(
    expect.arrayContaining([
      'email sent: Hello Vera',
      'email sent: Thanks for activating on ios',
      'task created for account-managers: Welcome call for Vera Ip',
      'task completed: Welcome call for Vera Ip (reached)',
      expect.stringMatching(
        /^updated lifecycle stage new_customer, attribute touredAt, attribute callOutcome, tags \+toured/,
      ),
      `webhook to ${hooks.host} called (200)`,
      'completed journey steps-tour',
    ]),
  );
});

test('no activation and no VIP: the timeout path, the split, and the SMS', async () => {
  const started = await stack.sendEvent({
    id: 'tour-plain',
    type: 'tour.started',
    customer: { email: 'plain@example.com', phone: '+14155550100' },
    profile: { firstName: 'Pat' },
    data: { plan: 'basic' },
  });
  const result = await stack.temporal.workflow.getHandle<JourneyWorkflow>(started.enrolled[0]!.workflowId).result();
  const steps = result.history.map((h) => `${h.stepId}:${h.outcome}`);
  expect(steps.slice(0, 4)).toEqual(['greet:sent', 'activation:timeout', 'nudge:sent', 'value:branch']);
  expect(steps[4]).toBe('ab:path');
  const path = result.history[4]!.detail;
  expect(['offer', 'holdout']).toContain(path);
  expect(steps.includes('offer-mail:sent')).toBe(path === 'offer');
  expect(steps.slice(-3)).toEqual(['morning:waited', 'mark:updated', 'notify:called']);
  const entries = await timeline(started.customerId);
  expect(entries.map((e) => e.summary)).toContain(
    `assigned to path ${path} of split ab in steps-tour${path === 'holdout' ? ' (holdout)' : ''}`,
  );
  expect(entries.map((e) => e.summary)).toContain('sms sent: Hi Pat, need a hand getting started?');
  const activation = result.history.find((h) => h.stepId === 'activation')!;
  const greet = result.history.find((h) => h.stepId === 'greet')!;
  expect(Math.abs(Date.parse(activation.at) - Date.parse(greet.at) - 2 * 86_400_000)).toBeLessThan(60_000);
});

test('a trigger condition that does not hold enrolls nobody', async () => {
  const r = await stack.sendEvent({
    id: 'tour-none',
    type: 'tour.started',
    customer: { email: 'none@example.com' },
    data: { plan: 'none' },
  });
  expect(r.enrolled).toEqual([]);
  expect(r.notEnrolled).toEqual([{ journey: 'steps-tour', reason: 'trigger condition does not hold' }]);
});

test('an exit event ends the enrollment wherever the customer is', async () => {
  const started = await stack.sendEvent({
    id: 'tour-exit',
    type: 'tour.started',
    customer: { email: 'exit@example.com' },
    data: { plan: 'pro' },
  });
  const handle = stack.temporal.workflow.getHandle<JourneyWorkflow>(started.enrolled[0]!.workflowId);
  await env.sleep('1h');
  expect((await handle.query(journeyStateQuery)).currentStep).toBe('activation');
  const closed = await stack.sendEvent({ id: 'close-1', type: 'account.closed', customer: { id: started.customerId } });
  expect(closed.signalled.map((s) => s.journey)).toEqual(['steps-tour']);
  const result = await handle.result();
  expect(result).toMatchObject({ outcome: 'exited', reason: 'exit event account.closed' });
  expect(result.history.map((h) => h.stepId)).toEqual(['greet']);
  const enrollment = await stack.db
    .selectFrom('enrollments')
    .selectAll()
    .where('customer_id', '=', started.customerId)
    .executeTakeFirstOrThrow();
  expect(enrollment).toMatchObject({ status: 'exited', outcome: 'exit event account.closed' });
});

test('the goal: an order within the window converts and ends the enrollment; reentry after a period', async () => {
  await stack.publish({
    'goal.yaml': `
journey: goal-check
name: Goal check
category: marketing
trigger: { event: lead.created }
entry: { reentry: after 30d }
goal:
  event: order.placed
  when: "customer.metrics.orderCount >= 1 && customer.metrics.lifetimeValue >= 20.0"
  within: 10d
steps:
  - id: pause
    type: wait
    duration: 20d
  - id: late
    type: send
    channel: email
    subject: "Still thinking?"
    text: "We kept your cart."
`,
  });
  const started = await stack.sendEvent({
    id: 'lead-g1',
    type: 'lead.created',
    customer: { email: 'goal@example.com' },
  });
  const handle = stack.temporal.workflow.getHandle<JourneyWorkflow>(started.enrolled[0]!.workflowId);
  await env.sleep('2d');
  // Too small an order does not meet the goal's condition.
  await stack.sendEvent({
    id: 'ord-g1',
    type: 'order.placed',
    customer: { id: started.customerId },
    data: { orderId: 'G-1', total: 5 },
  });
  await env.sleep('1d');
  expect((await handle.query(journeyStateQuery)).goalMet).toBe(false);
  await stack.sendEvent({
    id: 'ord-g2',
    type: 'order.placed',
    customer: { id: started.customerId },
    data: { orderId: 'G-2', total: 30, lines: [{ product: 'cd-1', category: 'jazz', price: 30 }] },
  });
  const result = await handle.result();
  expect(result).toMatchObject({ outcome: 'goal', goalMet: true, reason: 'goal met: order.placed' });
  expect(result.history.map((h) => h.stepId)).toEqual([]);
  const enrollment = await stack.db
    .selectFrom('enrollments')
    .selectAll()
    .where('customer_id', '=', started.customerId)
    .executeTakeFirstOrThrow();
  expect(enrollment).toMatchObject({ status: 'completed', goal_met: true });

  // Reentry "after 30d": not yet.
  const again = await stack.sendEvent({ id: 'lead-g2', type: 'lead.created', customer: { id: started.customerId } });
  expect(again.notEnrolled[0]?.reason).toMatch(/reentry allowed after 30d/);
});

test("a keyed journey: one enrollment per cart; the goal naming a cart ends that cart's alone", async () => {
  await stack.publish({
    'carts.yaml': `
journey: cart-reminder
name: One reminder per abandoned cart
category: service
trigger: { event: cart.abandoned }
entry: { key: "event.data.cartId", reentry: never }
goal: { event: order.placed }
steps:
  - id: pause
    type: wait
    duration: 1d
  - id: remind
    type: send
    channel: email
    subject: "Your cart {{ event.data.cartId }} is waiting"
    text: "It is still there."
`,
  });
  const first = await stack.sendEvent({
    id: 'cart-k1',
    type: 'cart.abandoned',
    customer: { email: 'carts@example.com' },
    data: { cartId: 'C-1' },
  });
  const customer = { id: first.customerId };
  const second = await stack.sendEvent({ id: 'cart-k2', type: 'cart.abandoned', customer, data: { cartId: 'C-2' } });
  const again = await stack.sendEvent({ id: 'cart-k3', type: 'cart.abandoned', customer, data: { cartId: 'C-1' } });
  const none = await stack.sendEvent({ id: 'cart-k4', type: 'cart.abandoned', customer, data: {} });
  expect(first.enrolled).toHaveLength(1);
  expect(second.enrolled).toHaveLength(1);
  // Two carts, two runs; the key is in neither workflow id in clear.
  const [one, two] = [first.enrolled[0]!.workflowId, second.enrolled[0]!.workflowId];
  expect(one).not.toBe(two);
  expect(`${one} ${two}`).not.toMatch(/C-1|C-2/);
  expect(again.notEnrolled).toEqual([{ journey: 'cart-reminder', reason: 'already in this journey' }]);
  expect(none.notEnrolled).toEqual([
    { journey: 'cart-reminder', reason: 'the event gives no key (event.data.cartId)' },
  ]);

  // An order naming cart 1 reaches cart 1's enrollment only, and ends it.
  const order = await stack.sendEvent({
    id: 'cart-ord-1',
    type: 'order.placed',
    customer,
    data: { orderId: 'O-1', cartId: 'C-1', total: 20 },
  });
  expect(order.signalled).toEqual([{ journey: 'cart-reminder', workflowId: one }]);
  expect(await stack.temporal.workflow.getHandle<JourneyWorkflow>(one).result()).toMatchObject({ outcome: 'goal' });
  const secondRun = await stack.temporal.workflow.getHandle<JourneyWorkflow>(two).result();
  expect(secondRun).toMatchObject({ outcome: 'completed', goalMet: false });
  expect(secondRun.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual(['pause:waited', 'remind:sent']);
  const rows = await stack.db
    .selectFrom('enrollments')
    .select(['key', 'status'])
    .where('customer_id', '=', first.customerId)
    .orderBy('key')
    .execute();
  expect(rows).toEqual([
    { key: 'C-1', status: 'completed' },
    { key: 'C-2', status: 'completed' },
  ]);
  // reentry: never holds per key: cart 1 again is refused, a new cart enrolls.
  const later = await stack.sendEvent({ id: 'cart-k5', type: 'cart.abandoned', customer, data: { cartId: 'C-1' } });
  expect(later.notEnrolled[0]?.reason).toBe('enrolled before (reentry: never)');
  const third = await stack.sendEvent({ id: 'cart-k6', type: 'cart.abandoned', customer, data: { cartId: 3 } });
  expect(third.enrolled).toHaveLength(1);
});

test('continue-as-new keeps the place, the memory and the history', async () => {
  await stack.publish({
    'long.yaml': `
journey: long-runner
name: Long runner
category: service
trigger: { event: long.started }
steps:
  - id: first
    type: send
    channel: email
    subject: "One"
    text: "1"
  - id: loop
    type: wait_for
    event: ping
    timeout: 1d
    on_event:
      - id: pong
        type: send
        channel: email
        subject: "Pong {{ events.loop.data.n }}"
        text: "2"
  - id: later
    type: wait
    duration: 1d
  - id: last
    type: send
    channel: email
    subject: "Three"
    text: "3"
`,
  });
  const { customerId } = await stack.sendEvent({
    id: 'long-0',
    type: 'long.started',
    customer: { email: 'long@example.com' },
    data: {},
  });
  // The same journey, started by hand to continue as new after every step.
  const plan = (
    await stack.db
      .selectFrom('journey_versions')
      .select('definition')
      .where('journey_id', '=', 'long-runner')
      .executeTakeFirstOrThrow()
  ).definition as JourneyInput['plan'];
  const handle = await stack.temporal.workflow.start<JourneyWorkflow>(JOURNEY_WORKFLOW, {
    taskQueue: stack.taskQueue,
    workflowId: `long-can-${customerId}`,
    args: [
      {
        plan,
        version: 1,
        customerId,
        enrollmentId: 'enr_can_test',
        event: { id: 'long-0', type: 'long.started', occurredAt: new Date().toISOString(), data: {} },
        maxStepsPerRun: 1,
      },
    ],
  });
  const customer = (await stack.api.inject({ method: 'GET', url: `/v1/customers/${customerId}` })).json<{
    customer: Omit<CustomerFacts, 'consent' | 'metrics'>;
  }>().customer;
  await handle.signal(journeyEventSignal, {
    event: { id: 'ping-1', type: 'ping', occurredAt: new Date().toISOString(), data: { n: 7 } },
    customer: {
      ...customer,
      consent: {},
      metrics: {
        orderCount: 0,
        lifetimeValue: 0,
        firstOrderAt: null,
        lastOrderAt: null,
        categories: [],
        recommendedCategory: null,
      },
    },
  });
  const result = await handle.result();
  expect(result.outcome).toBe('completed');
  expect(result.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual([
    'first:sent',
    'loop:event',
    'pong:sent',
    'later:waited',
    'last:sent',
  ]);
  expect(result.history.find((h) => h.stepId === 'pong')?.detail).toBe('email: Pong 7');
  const runs = await stack.temporal.workflow.getHandle(`long-can-${customerId}`).describe();
  expect(runs.runId).not.toBe(handle.firstExecutionRunId);
});

test('the complete example of the journey format runs', async () => {
  const source = fs.readFileSync(path.join(projectRoot, 'test/fixtures/format/example.yaml'), 'utf8');
  expect(await stack.publish({ 'example.yaml': source })).toEqual([
    expect.objectContaining({ journey: 'onboarding', version: 1 }),
  ]);
  const big = await stack.sendEvent({
    id: 'example-1',
    type: 'order.placed',
    customer: { email: 'ada.example@example.com', phone: '+14155550177' },
    profile: { firstName: 'Ada', lastName: 'King', consent: { email: { marketing: true } } },
    data: { orderId: 'EX-1', total: 650 },
  });
  const handle = stack.temporal.workflow.getHandle<JourneyWorkflow>(
    big.enrolled.find((e) => e.journey === 'onboarding')!.workflowId,
  );
  const result = await handle.result();
  expect(result.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual([
    'welcome:sent',
    'settle:waited',
    'activated:timeout',
    'nudge:sent',
    'value-check:branch',
    'vip-call:task',
    'mark-onboarded:updated',
  ]);
  const row = await stack.db
    .selectFrom('customers')
    .selectAll()
    .where('id', '=', big.customerId)
    .executeTakeFirstOrThrow();
  expect(row).toMatchObject({ lifecycle_stage: 'new_customer', tags: ['onboarded'] });
  const tasks = await stack.api.inject({
    method: 'GET',
    url: `/v1/tasks?team=account-managers&customer=${big.customerId}`,
  });
  expect(tasks.json<{ tasks: { title: string }[] }>().tasks.map((t) => t.title)).toEqual(['Welcome call for Ada King']);
});

test('a journey republished while customers are inside leaves them on their version; pause and resume', async () => {
  const v1 = `
journey: versioned
name: Versioned
category: transactional
trigger: { event: versioned.start }
steps:
  - id: hello
    type: send
    channel: email
    subject: "Hello (v1)"
    text: "v1"
  - id: pause
    type: wait
    duration: 2d
  - id: bye
    type: send
    channel: email
    subject: "Goodbye (v1)"
    text: "v1"
`;
  const v2 = v1.replace('Goodbye (v1)', 'See you soon (v2)').replace('id: bye', 'id: see-you');
  expect(await stack.publish({ 'versioned.yaml': v1 })).toEqual([
    expect.objectContaining({ version: 1, created: true }),
  ]);
  const a = await stack.sendEvent({ id: 'ver-a', type: 'versioned.start', customer: { email: 'va@example.com' } });
  expect(a.enrolled[0]!.version).toBe(1);
  await env.sleep('1h');

  // What publishing would change: one customer waits at "pause" of version 1, and "bye" goes away.
  const compiled = compileJourney(v2, 'versioned.yaml', { readTemplate: () => undefined });
  if (!compiled.ok) throw new Error('v2 should compile');
  const dry = await stack.api.inject({
    method: 'POST',
    url: '/v1/journeys/publish',
    payload: { plan: toPlan(compiled.journey), source: v2, dryRun: true },
  });
  expect(dry.json()).toMatchObject({
    dryRun: true,
    currentVersion: 1,
    unchanged: false,
    waiting: [{ version: 1, step: 'pause', customers: 1, stepInNewVersion: true }],
    stepsAdded: ['see-you'],
    stepsRemoved: ['bye'],
  });
  // The server compiles what it publishes: a broken source is refused with its problems.
  const broken = await stack.api.inject({
    method: 'POST',
    url: '/v1/journeys/publish',
    payload: { plan: toPlan(compiled.journey), source: v2.replace('duration: 2d', 'duration: soon') },
  });
  expect(broken.statusCode).toBe(422);
  expect(broken.json()).toMatchObject({
    errors: [{ path: 'steps[1].duration', message: expect.stringContaining('expected a duration') }],
  });
  const published = await stack.api.inject({
    method: 'POST',
    url: '/v1/journeys/publish',
    payload: { plan: toPlan(compiled.journey), source: v2 },
  });
  expect(published.statusCode).toBe(201);
  expect(published.json()).toMatchObject({ version: 2, created: true });
  // The same content again is not a new version.
  expect(await stack.publish({ 'versioned.yaml': v2 })).toEqual([
    expect.objectContaining({ version: 2, created: false }),
  ]);

  const b = await stack.sendEvent({ id: 'ver-b', type: 'versioned.start', customer: { email: 'vb@example.com' } });
  expect(b.enrolled[0]!.version).toBe(2);
  const ra = await stack.temporal.workflow.getHandle<JourneyWorkflow>(a.enrolled[0]!.workflowId).result();
  const rb = await stack.temporal.workflow.getHandle<JourneyWorkflow>(b.enrolled[0]!.workflowId).result();
  expect(ra.history.map((h) => h.detail)).toEqual([
    'email: Hello (v1)',
    expect.stringMatching(/^2d/),
    'email: Goodbye (v1)',
  ]);
  expect(rb.history.map((h) => h.detail)).toEqual([
    'email: Hello (v1)',
    expect.stringMatching(/^2d/),
    'email: See you soon (v2)',
  ]);

  expect((await stack.api.inject({ method: 'POST', url: '/v1/journeys/versioned/pause' })).json()).toEqual({
    journey: 'versioned',
    status: 'paused',
  });
  const paused = await stack.sendEvent({ id: 'ver-c', type: 'versioned.start', customer: { email: 'vc@example.com' } });
  expect(paused).toMatchObject({ enrolled: [], notEnrolled: [{ journey: 'versioned', reason: 'journey is paused' }] });
  await stack.api.inject({ method: 'POST', url: '/v1/journeys/versioned/resume' });
  const resumed = await stack.sendEvent({
    id: 'ver-d',
    type: 'versioned.start',
    customer: { email: 'vd@example.com' },
  });
  expect(resumed.enrolled).toEqual([expect.objectContaining({ journey: 'versioned', version: 2 })]);
  const show = await stack.api.inject({ method: 'GET', url: '/v1/journeys/versioned' });
  expect(show.json<{ versions: { version: number }[] }>().versions.map((v) => v.version)).toEqual([1, 2]);
});
