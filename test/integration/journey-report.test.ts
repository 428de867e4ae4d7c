/**
 * The journey report on the time-skipping server: twelve customers through a send, a split with a
 * holdout, a branch and a wait; some meet the goal, one leaves on an exit event. Every count is
 * checked against what happened (the outbox, the enrollments), and a retried record counts once.
 */
import { createHarness, type Harness } from '../../client/tools/testing/harness';
import type { JourneyReport } from '../../client/server/journeys/report';
import { recordMarks, readStats } from '../../activities/store/journey-stats';

let h: Harness;
const customers: { customerId: string; workflowId: string; email: string; plan: string }[] = [];

beforeAll(async () => {
  h = await createHarness({
    journeys: {
      'nurture.yaml': `
journey: nurture
name: Nurture
category: service
trigger: { event: lead.created }
entry: { reentry: always }
exit: { events: [lead.lost] }
goal: { event: order.placed, within: 30d }
steps:
  - id: hello
    type: send
    channel: email
    subject: "Hello"
    text: "Hi."
  - id: ab
    type: split
    paths:
      - name: nudge
        weight: 1
        steps:
          - id: nudge
            type: send
            channel: email
            subject: "A nudge"
            text: "Nudge."
      - name: holdout
        weight: 1
  - id: plan
    type: branch
    cases:
      - when: "event.data.plan == 'pro'"
        steps:
          - id: pro-note
            type: send
            channel: email
            subject: "For pro"
            text: "Pro."
  - id: pause
    type: wait
    duration: 2d
  - id: bye
    type: send
    channel: email
    subject: "Bye"
    text: "Bye."
`,
    },
  });
  for (let i = 0; i < 12; i++) {
    const email = `lead${i}@example.com`;
    const plan = i % 3 === 0 ? 'pro' : 'basic';
    const e = await h.enroll('lead.created', { email }, undefined, { plan });
    customers.push({ ...e, email, plan });
  }
  await h.advance('1d');
  // Three buy a day in (their goal), one is lost; the rest go on to the end.
  for (const [i, c] of customers.slice(0, 3).entries()) {
    await h.send({ type: 'order.placed', customer: { id: c.customerId }, data: { orderId: `o-${i}`, total: 20 } });
  }
  await h.send({ type: 'lead.lost', customer: { id: customers[3]!.customerId } });
  for (const c of customers) await h.finish(c.workflowId);
});

afterAll(async () => {
  await h?.close();
});

async function report(query = ''): Promise<JourneyReport> {
  const res = await h.stack.api.inject({ method: 'GET', url: `/v1/journeys/nurture/report${query}` });
  expect(res.statusCode).toBe(200);
  return res.json<JourneyReport>();
}

test('counts entered, each step and way out, messages, the goal, ends and exits as they happened', async () => {
  const r = await report();
  const outbox = await h.outbox();
  const sent = (subject: string) => outbox.filter((m) => m.subject === subject).length;
  const step = (id: string) => r.steps.find((s) => s.id === id)!;
  const outcome = (id: string, name: string) => step(id).outcomes.find((o) => o.outcome === name)?.count ?? 0;

  expect(r.entered).toBe(12);
  expect(r.steps.map((s) => [s.id, s.depth])).toEqual([
    ['hello', 0],
    ['ab', 0],
    ['nudge', 1],
    ['plan', 0],
    ['pro-note', 1],
    ['pause', 0],
    ['bye', 0],
  ]);
  expect(step('hello')).toMatchObject({ reached: 12, outcomes: [{ outcome: 'sent', count: 12 }] });
  // The split: every customer took one path; the nudge path's customers got the nudge.
  const nudged = outcome('ab', 'path nudge');
  expect(nudged + outcome('ab', 'path holdout')).toBe(12);
  expect(step('nudge').reached).toBe(nudged);
  expect(sent('A nudge')).toBe(nudged);
  // The branch: a third are on the pro plan.
  expect(outcome('plan', 'case 1')).toBe(4);
  expect(outcome('plan', 'otherwise')).toBe(8);
  expect(step('pro-note').reached).toBe(4);
  expect(step('pause').reached).toBe(12);
  // The goal and the exit event interrupted four in the pause; eight reached the last step.
  expect(step('bye').reached).toBe(8);
  expect(sent('Bye')).toBe(8);

  expect(r.messages).toEqual([{ channel: 'email', status: 'sent', heldBy: null, count: outbox.length }]);
  expect(outbox.length).toBe(12 + nudged + 4 + 8);

  expect(r.goal).toMatchObject({ event: 'order.placed', met: 3, rate: 3 / 12 });
  expect(r.goal!.interval[0]).toBeLessThan(0.25);
  expect(r.goal!.interval[1]).toBeGreaterThan(0.25);
  // Met a day after entering: the median is read from buckets within 5 %.
  expect(Math.abs(r.goal!.medianMs! - 86_400_000) / 86_400_000).toBeLessThan(0.05);

  const ended = await h.stack.db
    .selectFrom('enrollments')
    .select(['status', 'goal_met'])
    .where('journey_id', '=', 'nurture')
    .execute();
  expect(ended.filter((e) => e.goal_met)).toHaveLength(3);
  expect(r.ended).toEqual({ goal: 3, exited: 1, completed: 8 });
  expect(r.exits).toEqual([{ reason: 'exit event lead.lost', count: 1 }]);
});

test('compares the split paths: goal rates with intervals, against the holdout, and no winner named early', async () => {
  const r = await report();
  expect(r.experiments).toHaveLength(1);
  const [x] = r.experiments;
  expect(x!.split).toBe('ab');
  const byPath = Object.fromEntries(x!.paths.map((p) => [p.path, p]));
  expect(byPath.holdout!.holdout).toBe(true);
  expect(byPath.nudge!.holdout).toBe(false);
  expect(byPath.nudge!.entered + byPath.holdout!.entered).toBe(12);
  expect(byPath.nudge!.goalMet + byPath.holdout!.goalMet).toBe(3);
  // The goal by path, from the enrollments' own split assignments.
  const buyers = new Set(customers.slice(0, 3).map((c) => c.customerId));
  const assigned = await h.stack.db
    .selectFrom('timeline')
    .select(['customer_id', 'data'])
    .where('summary', 'like', 'assigned to path % of split ab in nurture%')
    .execute();
  const nudgedBuyers = assigned.filter(
    (t) => buyers.has(t.customer_id) && (t.data as { path: string }).path === 'nudge',
  ).length;
  expect(byPath.nudge!.goalMet).toBe(nudgedBuyers);
  expect(x!.comparisons).toHaveLength(1);
  const c = x!.comparisons[0]!;
  expect(c).toMatchObject({ path: 'nudge', against: 'holdout', significant: false, alpha: 0.05 });
  expect(c.verdict).toMatch(/^(not yet significant: .* needs about [\d,]+ customers on each path|no difference)/);
});

test('a range of days and a version select what is counted; a bad range is refused with what was wrong', async () => {
  const today = (await h.now()).toISOString().slice(0, 10);
  expect((await report('?since=2099-01-01')).entered).toBe(0);
  expect((await report(`?version=1&until=2099-01-01`)).entered).toBe(12);
  expect((await report(`?since=${today}`)).entered).toBe(0);
  const bad = await h.stack.api.inject({ method: 'GET', url: '/v1/journeys/nurture/report?since=2026-13-01' });
  expect(bad.statusCode).toBe(422);
  expect(bad.body).toMatch(/since/);
  const reversed = await h.stack.api.inject({
    method: 'GET',
    url: '/v1/journeys/nurture/report?since=2026-02-01&until=2026-01-01',
  });
  expect(reversed.statusCode).toBe(422);
  expect(reversed.body).toMatch(/since must be before until/);
  const missing = await h.stack.api.inject({ method: 'GET', url: '/v1/journeys/nowhere/report' });
  expect(missing.statusCode).toBe(404);
});

test('a record retried (a worker that died after writing it) counts once', async () => {
  const enrollment = { id: 'enrollment-retried', journeyId: 'nurture-retry', version: 1 };
  const marks = [
    { mark: 'entered', metric: 'entered', key: '', at: '2026-03-01T10:00:00.000Z' },
    { mark: 'reached:hello', metric: 'step', key: 'hello', at: '2026-03-01T10:00:00.000Z' },
  ] as const;
  await recordMarks(h.stack.db, enrollment, marks);
  await recordMarks(h.stack.db, enrollment, marks);
  await recordMarks(h.stack.db, { ...enrollment, id: 'enrollment-other' }, marks);
  const rows = await readStats(h.stack.db, 'nurture-retry');
  expect(rows.sort((a, b) => a.metric.localeCompare(b.metric))).toEqual([
    { version: 1, metric: 'entered', key: '', count: 2 },
    { version: 1, metric: 'step', key: 'hello', count: 2 },
  ]);
});

test('a task finished after it was due counts as the step breaching its SLA; one completed in time does not', async () => {
  await h.publish({
    'callback.yaml': `
journey: callback
name: Call back
category: service
trigger: { event: callback.requested }
entry: { reentry: always }
steps:
  - id: call
    type: task
    team: support
    title: "Call the customer back"
    due: 1d
    wait:
      timeout: 3d
`,
  });
  const quick = await h.enroll('callback.requested', { email: 'quick@example.com' });
  const slow = await h.enroll('callback.requested', { email: 'slow@example.com' });
  const task = await h.stack.db
    .selectFrom('tasks')
    .select('id')
    .where('customer_id', '=', quick.customerId)
    .executeTakeFirstOrThrow();
  const done = await h.stack.api.inject({
    method: 'POST',
    url: `/v1/tasks/${task.id}/complete`,
    payload: { outcome: 'reached' },
  });
  expect(done.statusCode).toBe(200);
  await h.finish(quick.workflowId);
  await h.finish(slow.workflowId);
  const r = (await h.stack.api.inject({ method: 'GET', url: '/v1/journeys/callback/report' })).json<JourneyReport>();
  expect(r.steps[0]).toMatchObject({
    id: 'call',
    reached: 2,
    outcomes: expect.arrayContaining([
      { outcome: 'completed: reached', count: 1 },
      { outcome: 'timeout', count: 1 },
      { outcome: 'sla breached', count: 1 },
    ]),
  });
});

test('an enrollment cancelled from outside its journey counts as ended, cancelled', async () => {
  await h.publish({
    'patience.yaml': `
journey: patience
name: Patience
category: service
trigger: { event: patience.started }
steps:
  - id: hello
    type: send
    channel: email
    subject: "Hello"
    text: "Hello."
  - id: long-wait
    type: wait
    duration: 30d
`,
  });
  const e = await h.enroll('patience.started', { email: 'patient@example.com' });
  const enrollment = await h.stack.db
    .selectFrom('enrollments')
    .select('id')
    .where('workflow_id', '=', e.workflowId)
    .executeTakeFirstOrThrow();
  const cancel = await h.stack.api.inject({
    method: 'POST',
    url: `/v1/enrollments/${enrollment.id}/cancel`,
    payload: { reason: 'asked by the customer' },
  });
  expect(cancel.statusCode).toBe(200);
  const r = (await h.stack.api.inject({ method: 'GET', url: '/v1/journeys/patience/report' })).json<JourneyReport>();
  expect(r).toMatchObject({ entered: 1, ended: { cancelled: 1 } });
  expect(r.steps.map((s) => [s.id, s.reached])).toEqual([
    ['hello', 1],
    ['long-wait', 1],
  ]);
});
