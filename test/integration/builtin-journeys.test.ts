/**
 * The four built-in journeys, every path, on the time-skipping server: which messages go out and
 * when, which tasks are created, and what changes on the customer's record.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { JourneyResult } from '../../workflows/types';
import { startTestStack, type TestStack } from '../helpers/stack';
import { timeSkippingEnv } from '../helpers/temporal';
import { eventually } from '../helpers/eventually';
import { historyName, recordHistories, recordingHistories } from '../helpers/histories';
import { readScoringFile } from '../../client/server/journeys/load';
import { builtinScoringFile } from '../../paths';

let env: TestWorkflowEnvironment;
let stack: TestStack;
let seq = 0;

beforeAll(async () => {
  env = await timeSkippingEnv();
  // The built-in scoring rules, as `rapport start` reads them: prospect-conversion reads the lead score.
  stack = await startTestStack(env, { scoring: readScoringFile(builtinScoringFile) });
});

afterAll(async () => {
  await stack?.close();
  await env?.teardown();
});

const DAY = 86_400_000;
const MARKETING_CONSENT = { email: { marketing: true }, sms: { marketing: true } };

/** A fixed-offset time zone where it is about noon at `ms`, whatever the hour the tests run. */
function middayZone(ms: number): string {
  let offset = 12 - new Date(ms).getUTCHours();
  if (offset > 14) offset -= 24;
  if (offset < -12) offset += 24;
  return offset === 0 ? 'UTC' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
}

async function send(type: string, customer: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return stack.sendEvent({ id: `e-${++seq}`, type, customer, ...extra });
}

/** Workflows this test drove, by journey: their histories become replay fixtures when recording. */
const driven: { journey: string; workflowId: string }[] = [];

function workflowOf(receipt: Awaited<ReturnType<typeof send>>, journey: string): string {
  const e = receipt.enrolled.find((x) => x.journey === journey);
  if (!e) throw new Error(`not enrolled in ${journey}: ${JSON.stringify(receipt)}`);
  driven.push({ journey, workflowId: e.workflowId });
  return e.workflowId;
}

// Histories of every path driven here are kept with RAPPORT_RECORD_HISTORIES=1 (../helpers/histories.ts).
afterEach(async () => {
  for (const { journey, workflowId } of driven.splice(0)) {
    if (!recordingHistories) continue;
    const test = expect.getState().currentTestName!.replace(/^[a-z-]+ /, '');
    await recordHistories(
      stack.temporal,
      workflowId,
      `${journey}--${historyName(test)}`,
      undefined,
      stack.protection.codec,
    );
  }
});

/** Messages, tasks and changes on the timeline, each with its time in days after `from`. */
/**
 * Messages, tasks and changes the journey wrote, each with its time in days after `from`. Task
 * completions come from the API, stamped with the wall clock, which the time-skipping server's clock
 * runs ahead of: they are left out here and checked on the task itself.
 */
async function journal(customerId: string, from: number, journey: string, kinds = ['message', 'task', 'change']) {
  const res = await stack.api.inject({ method: 'GET', url: `/v1/customers/${customerId}` });
  const timeline = res.json<{ timeline: { at: string; kind: string; summary: string; data: { journey?: string } }[] }>()
    .timeline;
  return timeline
    .filter((t) => kinds.includes(t.kind) && t.data.journey === journey && !t.summary.startsWith('task completed'))
    .map((t) => ({ day: Math.round(((Date.parse(t.at) - from) / DAY) * 100) / 100, summary: t.summary }));
}

async function openTask(
  customerId: string,
  team: string,
): Promise<{ id: string; title: string; dueAt: string | null }> {
  return eventually(`an open ${team} task`, async () => {
    const res = await stack.api.inject({ method: 'GET', url: `/v1/tasks?team=${team}&customer=${customerId}` });
    return res.json<{ tasks: { id: string; title: string; dueAt: string | null }[] }>().tasks[0];
  });
}

async function customerRow(id: string) {
  return stack.db.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function now(): Promise<number> {
  return env.currentTimeMs();
}

describe('prospect-conversion', () => {
  test('a high-intent business lead with an interest: every nurture, a sales task, the reminders', async () => {
    const t0 = await now();
    const r = await send(
      'lead.created',
      { email: 'bo@acme.example', phone: '+14155550101' },
      {
        profile: {
          firstName: 'Bo',
          lastName: 'Lind',
          preferredChannel: 'sms',
          attributes: { segment: 'business', interest: 'jazz' },
          // Marketing needs consent; a midday time zone keeps the SMS clear of quiet hours.
          consent: MARKETING_CONSENT,
          timezone: middayZone(t0),
        },
      },
    );
    // On day 4 the lead asks for a demo and looks at the prices twice: a lead score of 50.
    await env.sleep('4d');
    for (const type of ['demo.requested', 'pricing.viewed', 'pricing.viewed']) await send(type, { id: r.customerId });
    const result = (await stack.temporal.workflow
      .getHandle(workflowOf(r, 'prospect-conversion'))
      .result()) as JourneyResult;
    expect(result.outcome).toBe('completed');
    expect(await journal(r.customerId, t0, 'prospect-conversion')).toEqual([
      { day: 0, summary: 'email sent: Welcome, Bo: here is what happens next' },
      { day: 2, summary: 'email sent: How teams like yours get started' },
      { day: 5, summary: 'email sent: Picked for you: jazz' },
      { day: 5, summary: 'task created for sales: Call Bo Lind (lead score 50)' },
      { day: 10, summary: 'sms sent: Hi Bo, your first order ships free this week. Reply STOP to opt out.' },
      { day: 24, summary: 'email sent: Should we keep writing to you?' },
    ]);
    const task = await openTask(r.customerId, 'sales');
    expect(Date.parse(task.dueAt!) - t0).toBeGreaterThanOrEqual(6 * DAY - 60_000);
  });

  test('a consumer lead who orders on day 3 converts, and hears nothing more', async () => {
    const t0 = await now();
    const r = await send(
      'lead.created',
      { email: 'cy@home.example' },
      { profile: { firstName: 'Cy', consent: MARKETING_CONSENT } },
    );
    const handle = stack.temporal.workflow.getHandle(workflowOf(r, 'prospect-conversion'));
    await env.sleep('3d');
    await send(
      'order.placed',
      { id: r.customerId },
      { data: { orderId: 'P-1', total: 25, lines: [{ product: 'cd', category: 'pop', price: 25 }] } },
    );
    const result = (await handle.result()) as JourneyResult;
    expect(result).toMatchObject({ outcome: 'goal', goalMet: true });
    expect(
      (await journal(r.customerId, t0, 'prospect-conversion', ['message'])).map((m) => [m.day, m.summary]),
    ).toEqual([
      [0, 'email sent: Welcome, Cy: here is what happens next'],
      [2, 'email sent: Three things to try first'],
    ]);
    const enrollment = await stack.db
      .selectFrom('enrollments')
      .selectAll()
      .where('customer_id', '=', r.customerId)
      .where('journey_id', '=', 'prospect-conversion')
      .executeTakeFirstOrThrow();
    expect(enrollment).toMatchObject({ status: 'completed', goal_met: true });
  });
});

describe('onboarding', () => {
  test('a first order: welcome, tips, an SMS check-in, a review request on a weekday morning, the record updated', async () => {
    const t0 = await now();
    const r = await send(
      'order.placed',
      { email: 'di@example.com', phone: '+14155550102' },
      {
        profile: { firstName: 'Di', timezone: 'America/New_York' },
        data: { orderId: 'O-1', total: 40, lines: [{ product: 'cd-a', category: 'rock', price: 40 }] },
      },
    );
    const result = (await stack.temporal.workflow.getHandle(workflowOf(r, 'onboarding')).result()) as JourneyResult;
    expect(result.outcome).toBe('completed');
    const messages = await journal(r.customerId, t0, 'onboarding', ['message']);
    expect(messages.slice(0, 3)).toEqual([
      { day: 0, summary: 'email sent: Thank you for your first order, Di!' },
      { day: 3, summary: 'email sent: Getting the most out of your purchase' },
      {
        day: 7,
        summary:
          "sms sent: Hi Di, it's the team you ordered from. All good with your order? Reply here if anything is wrong. Reply STOP to opt out.",
      },
    ]);
    expect(messages[3]!.summary).toBe('email sent: How did we do?');
    expect(messages[3]!.day).toBeGreaterThanOrEqual(14);
    expect(messages[3]!.day).toBeLessThan(21);
    const review = result.history.find((h) => h.stepId === 'review-request')!;
    const local = new Intl.DateTimeFormat('en-US', {
      timeZone: 'America/New_York',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hour12: false,
    }).format(new Date(review.at));
    expect(local).toMatch(/^(Tue|Wed|Thu),? 10:00$/);
    const row = await customerRow(r.customerId);
    expect(row.lifecycle_stage).toBe('new_customer');
    expect(row.tags).toContain('onboarded');
    expect(Object.keys(row.attributes)).toEqual(expect.arrayContaining(['onboardingStartedAt', 'onboardedAt']));
  });

  test('a second order within 60 days is the goal: the journey ends and the customer is a repeat customer', async () => {
    const t0 = await now();
    const r = await send('order.placed', { email: 'ed@example.com' }, { data: { orderId: 'O-2', total: 15 } });
    const handle = stack.temporal.workflow.getHandle(workflowOf(r, 'onboarding'));
    await env.sleep('5d');
    const second = await send('order.placed', { id: r.customerId }, { data: { orderId: 'O-3', total: 22 } });
    expect(second.signalled.map((s) => s.journey)).toContain('onboarding');
    expect(second.enrolled.map((e) => e.journey)).not.toContain('onboarding');
    const result = (await handle.result()) as JourneyResult;
    expect(result).toMatchObject({ outcome: 'goal', goalMet: true });
    expect((await journal(r.customerId, t0, 'onboarding', ['message'])).map((m) => m.day)).toEqual([0, 3]);
    expect((await customerRow(r.customerId)).lifecycle_stage).toBe('repeat_customer');
  });

  test('a customer without a phone number: the SMS check-in is skipped, and says why', async () => {
    const r = await send('order.placed', { email: 'fay@example.com' }, { data: { orderId: 'O-4', total: 12 } });
    const result = (await stack.temporal.workflow.getHandle(workflowOf(r, 'onboarding')).result()) as JourneyResult;
    expect(result.history.find((h) => h.stepId === 'check-in')).toMatchObject({
      outcome: 'skipped',
      detail: expect.stringContaining('no phone number'),
    });
  });
});

describe('cross-sell', () => {
  beforeAll(async () => {
    // Customers with similar orders: jazz buyers also bought blues.
    for (const [i, cats] of [
      ['jazz', 'blues'],
      ['jazz', 'blues'],
      ['jazz', 'classical'],
    ].entries()) {
      await send(
        'order.placed',
        { email: `peer${i}@example.com` },
        {
          data: {
            orderId: `PEER-${i}`,
            total: 30,
            lines: cats.map((c) => ({ product: `${c}-cd`, category: c, price: 15 })),
          },
        },
      );
    }
  });

  test('recommends what similar customers bought, with two reminders', async () => {
    const t0 = await now();
    const r = await send(
      'order.placed',
      { email: 'gil@example.com' },
      {
        profile: { firstName: 'Gil', consent: MARKETING_CONSENT },
        data: { orderId: 'X-1', total: 18, lines: [{ product: 'kind-of-blue', category: 'jazz', price: 18 }] },
      },
    );
    const result = (await stack.temporal.workflow.getHandle(workflowOf(r, 'cross-sell')).result()) as JourneyResult;
    expect(result.outcome).toBe('completed');
    const messages = await journal(r.customerId, t0, 'cross-sell', ['message']);
    expect(messages).toEqual([
      { day: 5, summary: 'email sent: Gil, people who like what you like love blues' },
      { day: 12, summary: 'email sent: Your blues picks are still waiting' },
      { day: 26, summary: 'email sent: Last chance: 10% off blues' },
    ]);
    expect((await customerRow(r.customerId)).attributes).toMatchObject({ crossSellCategory: 'blues' });
  });

  test('an order in the recommended category converts', async () => {
    const r = await send(
      'order.placed',
      { email: 'hal@example.com' },
      {
        data: { orderId: 'X-2', total: 18, lines: [{ product: 'a-love-supreme', category: 'jazz', price: 18 }] },
      },
    );
    const handle = stack.temporal.workflow.getHandle(workflowOf(r, 'cross-sell'));
    await env.sleep('8d');
    // An order in another category is not the goal.
    await send(
      'order.placed',
      { id: r.customerId },
      { data: { orderId: 'X-3', total: 9, lines: [{ product: 'x', category: 'jazz', price: 9 }] } },
    );
    await env.sleep('1d');
    await send(
      'order.placed',
      { id: r.customerId },
      { data: { orderId: 'X-4', total: 11, lines: [{ product: 'y', category: 'blues', price: 11 }] } },
    );
    const result = (await handle.result()) as JourneyResult;
    expect(result).toMatchObject({ outcome: 'goal', goalMet: true });
    expect(result.history.map((h) => h.stepId)).toEqual([
      'let-it-arrive',
      'anything-to-recommend',
      'remember-category',
      'recommend',
    ]);
  });

  test('a customer who has bought every category gets no recommendation and leaves', async () => {
    const r = await send(
      'order.placed',
      { email: 'ivy@example.com' },
      {
        data: {
          orderId: 'X-5',
          total: 60,
          lines: ['jazz', 'blues', 'classical', 'rock', 'pop'].map((c) => ({ product: c, category: c, price: 12 })),
        },
      },
    );
    const result = (await stack.temporal.workflow.getHandle(workflowOf(r, 'cross-sell')).result()) as JourneyResult;
    expect(result).toMatchObject({ outcome: 'exited', reason: 'no category to recommend' });
  });
});

describe('complaint-recovery', () => {
  async function complaint(email: string, firstName: string, extra: Record<string, unknown> = {}) {
    const t0 = await now();
    const r = await send(
      'complaint.opened',
      { email, phone: `+1415555${String(++seq).padStart(4, '0')}` },
      {
        profile: { firstName, lastName: 'Quinn', ...extra },
        data: { subject: 'Broken case', message: 'The CD case arrived cracked.' },
      },
    );
    return { t0, r, handle: stack.temporal.workflow.getHandle(workflowOf(r, 'complaint-recovery')) };
  }

  test('resolved in time, still unhappy: acknowledgement, task, survey, retention offer, outcome recorded', async () => {
    const { t0, r, handle } = await complaint('jo@example.com', 'Jo');
    const task = await openTask(r.customerId, 'support');
    expect(task.title).toBe('Resolve complaint from Jo Quinn: Broken case');
    await env.sleep('3h');
    await stack.api.inject({ method: 'POST', url: `/v1/tasks/${task.id}/complete`, payload: { outcome: 'replaced' } });
    await env.sleep('3d');
    await send('survey.answered', { id: r.customerId }, { data: { score: 2 } });
    const result = (await handle.result()) as JourneyResult;
    expect(result.outcome).toBe('completed');
    const entries = await journal(r.customerId, t0, 'complaint-recovery');
    expect(entries.map((e) => e.summary)).toEqual([
      'email sent: We received your message: Broken case',
      'task created for support: Resolve complaint from Jo Quinn: Broken case',
      'updated attribute lastComplaintOutcome (complaint-recovery)',
      'email sent: Did we put it right?',
      'email sent: We would like to make it up to you',
      'updated attribute lastComplaintOutcome, tags +retention-offer (complaint-recovery)',
    ]);
    expect(entries[0]!.day).toBe(0);
    expect(entries[3]!.day).toBeCloseTo(2.13, 1);
    const completed = await stack.db
      .selectFrom('tasks')
      .selectAll()
      .where('id', '=', task.id)
      .executeTakeFirstOrThrow();
    expect(completed).toMatchObject({ status: 'completed', outcome: 'replaced' });
    expect((await customerRow(r.customerId)).attributes).toMatchObject({
      lastComplaintOutcome: 'retention offer after a score of 2',
    });
  });

  test('the SLA runs out: escalated to a manager, who resolves it; a happy customer', async () => {
    const { t0, r, handle } = await complaint('kim@example.com', 'Kim', { preferredChannel: 'sms' });
    const task = await openTask(r.customerId, 'support');
    await env.sleep('25h');
    const escalation = await openTask(r.customerId, 'support-managers');
    expect(escalation.title).toBe('Escalated: complaint from Kim Quinn unresolved after 24 hours');
    await stack.api.inject({
      method: 'POST',
      url: `/v1/tasks/${escalation.id}/complete`,
      payload: { outcome: 'refunded' },
    });
    await env.sleep('2d');
    await send('survey.answered', { id: r.customerId }, { data: { score: 5 } });
    await handle.result();
    const entries = await journal(r.customerId, t0, 'complaint-recovery');
    expect(await customerRow(r.customerId)).toMatchObject({ preferred_channel: 'sms', first_name: 'Kim' });
    expect(entries[0]!.summary).toBe(
      'sms sent: Hi Kim, we got your message about Broken case and are on it. A person will get back to you within one working day.',
    );
    expect(entries.map((e) => e.summary)).toContain(`task ${task.id} was not completed in time`);
    const escalated = entries.find((e) => e.summary.startsWith('task created for support-managers'))!;
    expect(escalated.day).toBeCloseTo(1, 1);
    expect((await customerRow(r.customerId)).attributes).toMatchObject({ lastComplaintOutcome: 'satisfied (5/5)' });
  });

  test('nobody resolves it: the customer is marked unresolved and leaves the journey', async () => {
    const { r, handle } = await complaint('lu@example.com', 'Lu');
    const result = (await handle.result()) as JourneyResult;
    expect(result).toMatchObject({ outcome: 'exited', reason: 'complaint not resolved within the escalation window' });
    const row = await customerRow(r.customerId);
    expect(row.tags).toContain('complaint-unresolved');
    expect(row.attributes).toMatchObject({ lastComplaintOutcome: 'unresolved' });
  });

  test('a second complaint while the first is open is acknowledged too, with its own task', async () => {
    const first = await complaint('ro@example.com', 'Ro');
    await openTask(first.r.customerId, 'support');
    await env.sleep('2h');
    const second = await send(
      'complaint.opened',
      { id: first.r.customerId },
      { data: { subject: 'Late delivery', message: 'The parcel came a week late.' } },
    );
    const secondHandle = stack.temporal.workflow.getHandle(workflowOf(second, 'complaint-recovery'));
    expect(secondHandle.workflowId).not.toBe(first.handle.workflowId);
    expect(second.notEnrolled).toEqual([]);
    const tasks = await eventually(
      'a support task for each complaint',
      async () =>
        (await stack.api.inject({ method: 'GET', url: `/v1/tasks?team=support&customer=${first.r.customerId}` })).json<{
          tasks: { id: string; title: string }[];
        }>().tasks,
      { until: (t) => t.length === 2 },
    );
    expect(tasks.map((t) => t.title).sort()).toEqual([
      'Resolve complaint from Ro Quinn: Broken case',
      'Resolve complaint from Ro Quinn: Late delivery',
    ]);
    for (const t of tasks) {
      await stack.api.inject({ method: 'POST', url: `/v1/tasks/${t.id}/complete`, payload: { outcome: 'resolved' } });
    }
    expect(((await first.handle.result()) as JourneyResult).outcome).toBe('completed');
    expect(((await secondHandle.result()) as JourneyResult).outcome).toBe('completed');
    const entries = await journal(first.r.customerId, first.t0, 'complaint-recovery');
    expect(entries.map((e) => e.summary).filter((s) => s.startsWith('email sent: We received'))).toEqual([
      'email sent: We received your message: Broken case',
      'email sent: We received your message: Late delivery',
    ]);
  });

  test('resolved but the survey is never answered: recorded as no answer', async () => {
    const { r, handle } = await complaint('mo@example.com', 'Mo');
    const task = await openTask(r.customerId, 'support');
    await stack.api.inject({ method: 'POST', url: `/v1/tasks/${task.id}/complete`, payload: { outcome: 'explained' } });
    const result = (await handle.result()) as JourneyResult;
    expect(result.history.find((h) => h.stepId === 'feedback')).toMatchObject({ outcome: 'timeout' });
    expect((await customerRow(r.customerId)).attributes).toMatchObject({
      lastComplaintOutcome: 'explained',
      lastComplaintSurvey: 'no answer',
    });
  });
});
