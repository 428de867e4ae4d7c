/**
 * The contact policy on real journeys, on the time-skipping server: a marketing SMS due at 23:00
 * local goes out at 08:00 local; a customer at the frequency cap gets marketing skipped or deferred
 * as each journey says, while a transactional message still goes out; no consent, no marketing; the
 * contacts of one account share the account cap.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DateTime } from 'luxon';
import { suppress } from '../../activities/store/consent';
import type { JourneyResult, JourneyState } from '../../workflows/types';
import { startTestStack, type TestStack } from '../helpers/stack';
import { timeSkippingEnv } from '../helpers/temporal';
import { eventually } from '../helpers/eventually';
import { journeyStateQuery } from '../../workflows/messages';

let env: TestWorkflowEnvironment;
let stack: TestStack;

const journey = (id: string, category: string, steps: string, sending = '') => `
journey: ${id}
name: ${id}
category: ${category}
trigger: { event: ${id}.start }
entry: { reentry: always }
${sending}
steps:
${steps}
`;
const email = (id: string, subject: string) =>
  `  - id: ${id}\n    type: send\n    channel: email\n    subject: "${subject}"\n    text: "Hello"\n`;

beforeAll(async () => {
  env = await timeSkippingEnv();
  // Only customers who are contacts of an account are held to the account cap.
  stack = await startTestStack(env, { journeysDirs: [], settings: { RAPPORT_CAP_ACCOUNT: '2/7d' } });
  await stack.publish({
    'late.yaml': journey(
      'late-offer',
      'marketing',
      `  - id: evening\n    type: wait\n    until: { time: "23:00" }\n  - id: offer\n    type: send\n    channel: sms\n    text: "Tonight only: 20% off. Reply STOP to opt out."\n`,
    ),
    'burst.yaml': journey('burst', 'marketing', email('one', 'One') + email('two', 'Two') + email('three', 'Three')),
    'skip.yaml': journey(
      'capped-skip',
      'marketing',
      email('promo', 'Promo that skips'),
      'sending: { whenCapped: skip }',
    ),
    'defer.yaml': journey(
      'capped-defer',
      'marketing',
      email('promo', 'Promo that waits'),
      'sending: { whenCapped: defer }',
    ),
    'receipt.yaml': journey('receipt', 'transactional', email('receipt', 'Your receipt')),
  });
});

afterAll(async () => {
  await stack?.close();
  await env?.teardown();
});

/**
 * The test server's clock moves only by env.sleep here. Awaiting a result through the time-skipping
 * client lets an idle test server leap years ahead once the workflow is done, which would empty every
 * frequency-cap window; so journeys are polled to completion, and results read through a plain client.
 */
async function start(type: string, customer: Record<string, unknown>, profile: Record<string, unknown> = {}) {
  const r = await stack.sendEvent({ id: `${type}-${Math.random().toString(36).slice(2)}`, type, customer, profile });
  return { customerId: r.customerId, workflowId: r.enrolled[0]!.workflowId };
}

async function until(workflowId: string, done: (state: JourneyState, status: string) => boolean): Promise<void> {
  const handle = stack.plainTemporal.workflow.getHandle(workflowId);
  await eventually(
    `workflow ${workflowId} to get there`,
    async () => ({
      status: (await handle.describe()).status.name,
      state: await handle.query(journeyStateQuery),
    }),
    { until: ({ state, status }) => done(state, status) },
  );
}

async function finished(workflowId: string): Promise<JourneyResult> {
  await until(workflowId, (_state, status) => status !== 'RUNNING');
  return (await stack.plainTemporal.workflow.getHandle(workflowId).result()) as JourneyResult;
}

async function run(type: string, customer: Record<string, unknown>, profile: Record<string, unknown> = {}) {
  const { customerId, workflowId } = await start(type, customer, profile);
  return { customerId, result: await finished(workflowId) };
}

async function messages(customerId: string) {
  const res = await stack.api.inject({ method: 'GET', url: `/v1/customers/${customerId}` });
  return res
    .json<{ timeline: { at: string; kind: string; summary: string }[] }>()
    .timeline.filter((t) => t.kind === 'message');
}

test('a marketing SMS due at 23:00 local time goes out at 08:00 local time', async () => {
  const zone = 'America/Chicago';
  const { customerId, workflowId } = await start(
    'late-offer.start',
    { phone: '+13125550100' },
    { timezone: zone, consent: { sms: { marketing: true } } },
  );
  const now = await env.currentTimeMs();
  const at23 = DateTime.fromMillis(now, { zone }).set({ hour: 23, minute: 0, second: 0, millisecond: 0 });
  const evening = at23.toMillis() > now ? at23 : at23.plus({ days: 1 });
  await env.sleep(evening.toMillis() - now + 60_000);
  await until(workflowId, (state) => state.waitingFor?.startsWith('quiet hours') ?? false);
  await env.sleep('9h');
  const result = await finished(workflowId);
  expect(result.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual([
    'evening:waited',
    'offer:deferred',
    'offer:sent',
  ]);
  const [deferred, sent] = await messages(customerId);
  const dueLocal = DateTime.fromISO(deferred!.at, { zone });
  const sentLocal = DateTime.fromISO(sent!.at, { zone });
  expect(dueLocal.toFormat('HH:mm')).toBe('23:00');
  expect(deferred!.summary).toMatch(/^sms deferred until .*: quiet hours 21:00-08:00 in America\/Chicago$/);
  expect(sentLocal.toFormat('HH:mm')).toBe('08:00');
  expect(sentLocal.diff(dueLocal, 'hours').hours).toBeCloseTo(9, 2);
  expect(sent!.summary).toBe('sms sent: Tonight only: 20% off. Reply STOP to opt out.');
});

test('at the frequency cap: marketing is skipped or deferred as each journey says, transactional still goes out', async () => {
  const customer = { email: 'capped@example.com' };
  const consent = { consent: { email: { marketing: true } } };
  const burst = await run('burst.start', customer, consent);
  expect(burst.result.history.map((h) => h.outcome)).toEqual(['sent', 'sent', 'sent']);
  const t0 = Date.parse(burst.result.history[0]!.at);

  const skipped = await run('capped-skip.start', customer);
  expect(skipped.result.history).toEqual([
    expect.objectContaining({
      stepId: 'promo',
      outcome: 'skipped',
      detail: 'email: frequency cap: 3 message(s) in the last 7 day(s), at most 3',
    }),
  ]);

  const receipt = await run('receipt.start', customer);
  expect(receipt.result.history).toEqual([expect.objectContaining({ stepId: 'receipt', outcome: 'sent' })]);

  const waiting = await start('capped-defer.start', customer);
  await until(waiting.workflowId, (state) => state.waitingFor?.startsWith('frequency cap') ?? false);
  await env.sleep('7d');
  const deferred = { result: await finished(waiting.workflowId) };
  expect(deferred.result.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual(['promo:deferred', 'promo:sent']);
  const sentAt = Date.parse(deferred.result.history[1]!.at);
  // Out once the first of the three left the seven-day window.
  expect(sentAt - t0).toBeGreaterThanOrEqual(7 * 86_400_000);
  expect(sentAt - t0).toBeLessThan(7 * 86_400_000 + 60_000);

  const summaries = (await messages(burst.customerId)).map((m) => m.summary);
  expect(summaries).toEqual(
    expect.arrayContaining([
      'email skipped: frequency cap: 3 message(s) in the last 7 day(s), at most 3',
      'email sent: Your receipt',
      'email sent: Promo that waits',
    ]),
  );
});

test('the account cap: marketing to any of an account’s contacts counts for all of them', async () => {
  const contact = (name: string) => ({
    consent: { email: { marketing: true } },
    account: { id: 'policy-acme', name: 'Acme' },
    firstName: name,
  });
  const ann = await run('capped-skip.start', { email: 'ann@policy-acme.example' }, contact('Ann'));
  const bob = await run('capped-skip.start', { email: 'bob@policy-acme.example' }, contact('Bob'));
  expect([ann, bob].map((r) => r.result.history[0]!.outcome)).toEqual(['sent', 'sent']);
  // Cid has had nothing, but two of his colleagues had marketing this week.
  const cid = await run('capped-skip.start', { email: 'cid@policy-acme.example' }, contact('Cid'));
  const reason = "account cap: 2 marketing message(s) to the account's contacts in the last 7 day(s), at most 2";
  expect(cid.result.history).toEqual([
    expect.objectContaining({ stepId: 'promo', outcome: 'skipped', detail: `email: ${reason}` }),
  ]);
  expect((await messages(cid.customerId)).map((m) => m.summary)).toEqual([`email skipped: ${reason}`]);
  // A receipt still goes out.
  const receipt = await run('receipt.start', { id: cid.customerId });
  expect(receipt.result.history[0]!.outcome).toBe('sent');
});

test('no consent, no marketing; a suppressed channel gets nothing, whatever the category', async () => {
  const noConsent = await run('capped-skip.start', { email: 'noconsent@example.com' });
  expect(noConsent.result.history[0]).toMatchObject({
    outcome: 'skipped',
    detail: 'email: no marketing consent for email',
  });
  expect((await messages(noConsent.customerId)).map((m) => m.summary)).toEqual([
    'email skipped: no marketing consent for email',
  ]);

  const first = await run('receipt.start', { email: 'bounced@example.com' });
  expect(first.result.history[0]!.outcome).toBe('sent');
  await suppress(stack.db, first.customerId, 'email', 'hard_bounce', '550 mailbox unavailable');
  const second = await run('receipt.start', { id: first.customerId });
  expect(second.result.history[0]).toMatchObject({
    outcome: 'skipped',
    detail: 'email: email suppressed (hard_bounce)',
  });
});

test('explain: why each message went out or not, where the customer is and what they wait for', async () => {
  const customer = { email: 'explain@example.com' };
  const burst = await run('burst.start', customer, { consent: { email: { marketing: true } } });
  await run('capped-skip.start', customer);
  const waiting = await start('capped-defer.start', customer);
  await until(waiting.workflowId, (state) => state.waitingFor?.startsWith('frequency cap') ?? false);

  const res = await stack.api.inject({ method: 'GET', url: `/v1/customers/explain@example.com/explain` });
  expect(res.statusCode).toBe(200);
  const { customerId, enrollments } = res.json<{
    customerId: string;
    enrollments: {
      journey: string;
      status: string;
      currentStep: string | null;
      waitingFor: string | null;
      messages: { step: string; outcome: string; why: string }[];
    }[];
  }>();
  expect(customerId).toBe(burst.customerId);
  expect(enrollments.map((e) => [e.journey, e.status])).toEqual([
    ['burst', 'completed'],
    ['capped-skip', 'completed'],
    ['capped-defer', 'active'],
  ]);
  expect(enrollments[0]!.messages.map((m) => [m.step, m.outcome, m.why])).toEqual([
    ['one', 'sent', 'sent by email: "One"'],
    ['two', 'sent', 'sent by email: "Two"'],
    ['three', 'sent', 'sent by email: "Three"'],
  ]);
  expect(enrollments[1]!.messages).toEqual([
    expect.objectContaining({
      step: 'promo',
      outcome: 'skipped',
      why: 'frequency cap: 3 message(s) in the last 7 day(s), at most 3',
    }),
  ]);
  expect(enrollments[2]).toMatchObject({
    currentStep: 'promo',
    waitingFor: expect.stringMatching(/^frequency cap: 3 message\(s\) in the last 7 day\(s\), at most 3 \(until /),
    messages: [
      expect.objectContaining({
        step: 'promo',
        outcome: 'deferred',
        why: expect.stringMatching(/^held until .*: frequency cap/),
      }),
    ],
  });

  const view = await stack.api.inject({ method: 'GET', url: `/v1/customers/explain@example.com` });
  expect(view.json()).toMatchObject({
    customer: { id: customerId, consent: { email: { marketing: true } }, metrics: { orderCount: 0 } },
    identities: [{ kind: 'email', value: 'explain@example.com' }],
  });
  await env.sleep('7d');
  await finished(waiting.workflowId);
});
