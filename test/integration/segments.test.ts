/**
 * Journeys that enroll as customers enter a segment, on the time-skipping server: the segment is
 * followed for the customer who changed (an event, an API update, a journey's update step, a model
 * refresh), each entry and exit is an event on their timeline, leaving ends the enrollment, and the
 * value models' refresh lapses customers who drifted away, which the built-in win-back journey acts on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHarness, type Harness } from '../../client/tools/testing/harness';
import { builtinJourneysDir } from '../../paths';
import { parseScoring } from '../../definitions/scoring';
import type { InsightsRefreshWorkflow } from '../../workflows/messages';
import type { JourneyResult } from '../../workflows/types';

let h: Harness;

const proTips = `
journey: pro-tips
name: Tips for pro customers
category: service
trigger: { segment: 'has(customer.attributes.plan) && customer.attributes.plan == "pro"', on: enter }
entry: { reentry: always }
exit: { segment: leave }
steps:
  - id: tips
    type: send
    channel: email
    subject: "Pro tips"
    text: "Tips."
  - id: later
    type: wait
    duration: 30d
  - id: more
    type: send
    channel: email
    subject: "More pro tips"
    text: "More."
`;

/** Upgrades a customer with an update step: a journey's own change moves them into the segment too. */
const upgrade = `
journey: upgrade
name: Upgrade on request
category: service
trigger: { event: upgrade.requested }
steps:
  - id: set-plan
    type: update
    set: { attributes: { plan: pro } }
`;

/** A sales task the moment a prospect's lead score crosses 50. */
const salesReady = `
journey: sales-ready
name: Sales-ready leads
category: service
trigger: { segment: 'customer.lifecycleStage == "prospect" && customer.score >= 50.0', on: enter }
steps:
  - id: call
    type: task
    team: sales
    title: "Call {{ customer.email }} (score {{ customer.score }})"
`;

const scoring = parseScoring(
  `
halfLife: 30d
cap: 100
rules:
  - event: pricing.viewed
    points: 10
  - event: demo.requested
    points: 30
`,
  'scoring.yaml',
);

beforeAll(async () => {
  h = await createHarness({
    scoring,
    journeys: {
      'sales-ready.yaml': salesReady,
      'pro-tips.yaml': proTips,
      'upgrade.yaml': upgrade,
      'win-back.yaml': fs.readFileSync(path.join(builtinJourneysDir, 'win-back.yaml'), 'utf8'),
    },
  });
});

afterAll(async () => {
  await h?.close();
});

async function api<T = unknown>(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object): Promise<T> {
  const r = await h.stack.api.inject({ method, url, ...(payload === undefined ? {} : { payload }) });
  if (r.statusCode >= 300) throw new Error(`${method} ${url}: ${r.statusCode} ${r.body.slice(0, 500)}`);
  return r.json<T>();
}

interface CustomerDetail {
  customer: { id: string; lifecycleStage: string; predicted: { pAlive: number } };
}

const enrollments = (customerId: string, journey: string) =>
  h.stack.db
    .selectFrom('enrollments')
    .select(['id', 'status', 'workflow_id', 'outcome', 'goal_met'])
    .where('customer_id', '=', customerId)
    .where('journey_id', '=', journey)
    .orderBy('started_at')
    .execute();

const timeline = async (customerId: string) => (await h.timeline(customerId)).map((t) => t.summary);

test('a customer enters the moment their facts match (an event, an API update, an update step), and leaving ends the enrollment', async () => {
  // An event whose profile does not match: no entry.
  const first = await h.send({
    type: 'page.viewed',
    customer: { email: 'ada@example.com' },
    profile: { attributes: { plan: 'free' } },
  });
  const ada = first.customerId;
  expect(await enrollments(ada, 'pro-tips')).toEqual([]);

  // An update through the API that makes it match: enrolled before the answer.
  await api('PATCH', '/v1/customers/ada@example.com', { attributes: { plan: 'pro' } });
  const [entered] = await enrollments(ada, 'pro-tips');
  expect(entered?.status).toBe('active');
  expect(await timeline(ada)).toEqual(expect.arrayContaining(['event segment.pro-tips.entered']));

  // An event that carries the change enrolls its customer too.
  const bob = (
    await h.send({
      type: 'page.viewed',
      customer: { email: 'bob@example.com' },
      profile: { attributes: { plan: 'pro' } },
    })
  ).customerId;
  expect((await enrollments(bob, 'pro-tips')).map((e) => e.status)).toEqual(['active']);

  // A journey's update step that makes it match.
  const cy = (await h.send({ type: 'upgrade.requested', customer: { email: 'cy@example.com' } })).customerId;
  await h.advance('1m');
  expect((await enrollments(cy, 'pro-tips')).map((e) => e.status)).toEqual(['active']);

  // Leaving the segment ends Ada's enrollment, said as such.
  await api('PATCH', '/v1/customers/ada@example.com', { attributes: { plan: 'free' } });
  const result: JourneyResult = await h.finish(entered!.workflow_id);
  expect(result.outcome).toBe('exited');
  expect(result.reason).toBe('left the segment');
  expect(await timeline(ada)).toEqual(expect.arrayContaining(['event segment.pro-tips.left']));

  // Following her again changes nothing: each change was made once.
  await h.stack.intake.segments.check(ada);
  const membership = await h.stack.db
    .selectFrom('segment_members')
    .selectAll()
    .where('customer_id', '=', ada)
    .executeTakeFirstOrThrow();
  expect(membership).toMatchObject({ inside: false, changes: 2 });
  const segmentEvents = await h.stack.db
    .selectFrom('events')
    .select('type')
    .where('customer_id', '=', ada)
    .where('type', 'like', 'segment.%')
    .execute();
  expect(segmentEvents.map((e) => e.type).sort()).toEqual(['segment.pro-tips.entered', 'segment.pro-tips.left']);

  // Back in: with reentry always, a second enrollment.
  await api('PATCH', '/v1/customers/ada@example.com', { attributes: { plan: 'pro' } });
  expect((await enrollments(ada, 'pro-tips')).map((e) => e.status)).toEqual(['exited', 'active']);
});

test('a lead score crossing a threshold is a segment entry: the prospect is enrolled at the event that crosses it', async () => {
  const lead = { email: 'lead@example.com' };
  const dan = (await h.send({ type: 'pricing.viewed', customer: lead })).customerId;
  await h.send({ type: 'pricing.viewed', customer: lead });
  expect(await enrollments(dan, 'sales-ready')).toEqual([]);
  await h.send({ type: 'demo.requested', customer: lead });
  expect((await enrollments(dan, 'sales-ready')).map((e) => e.status)).toEqual(['active']);
  expect(await timeline(dan)).toEqual(
    expect.arrayContaining(['score 20 → 50 (demo.requested +30)', 'event segment.sales-ready.entered']),
  );
  // More points keep them in the segment: no second entry.
  await h.send({ type: 'pricing.viewed', customer: lead });
  const entries = await h.stack.db
    .selectFrom('events')
    .select('id')
    .where('customer_id', '=', dan)
    .where('type', '=', 'segment.sales-ready.entered')
    .execute();
  expect(entries).toHaveLength(1);
});

test('a refresh of the value models lapses the customers who drifted away; win-back takes them, and an order brings one back', async () => {
  const day = 86_400_000;
  const now = Date.now();
  const rows: Record<string, unknown>[] = [];
  // Regulars: an order every 10 days for a year, the last a few days ago.
  for (let c = 0; c < 45; c++) {
    for (let k = 0; k < 36; k++) {
      rows.push({
        email: `regular${c}@example.com`,
        orderId: `R-${c}-${k}`,
        occurredAt: new Date(now - (3 + (c % 5) + k * 10) * day).toISOString(),
        total: 20 + (c % 7),
      });
    }
  }
  // Gone: weekly orders two years ago, then nothing.
  for (let c = 0; c < 15; c++) {
    for (let k = 0; k < 8; k++) {
      rows.push({
        email: `gone${c}@example.com`,
        orderId: `G-${c}-${k}`,
        occurredAt: new Date(now - (730 + k * 7 + c) * day).toISOString(),
        total: 30 + c,
      });
    }
  }
  for (let i = 0; i < rows.length; i += 1000) {
    const batch = rows.slice(i, i + 1000).map((fields, k) => ({ line: i + k + 2, fields }));
    const r = await api<{ errors: unknown[] }>('POST', '/v1/imports/orders', { rows: batch });
    expect(r.errors).toEqual([]);
  }

  // Imports are history: nobody lapses or enters until the models refresh.
  const fit = await api<{ refresh: { workflowId: string } | null }>('POST', '/v1/insights/fit', {});
  expect(fit.refresh?.workflowId).toMatch(/^insights-refresh:/);
  const refreshed = await h.stack.temporal.workflow
    .getHandle<InsightsRefreshWorkflow>(fit.refresh!.workflowId)
    .result();
  expect(refreshed).toMatchObject({ done: true, lapsed: 15, entered: 15, left: 0 });

  const lapsed = await h.stack.db
    .selectFrom('customers')
    .select('email')
    .where('lifecycle_stage', '=', 'lapsed')
    .orderBy('email')
    .execute();
  expect(lapsed.map((c) => c.email)).toEqual(Array.from({ length: 15 }, (_, c) => `gone${c}@example.com`).sort());

  const gone = (await api<CustomerDetail>('GET', '/v1/customers/gone3@example.com')).customer;
  expect(gone.predicted.pAlive).toBeLessThan(0.3);
  expect(await timeline(gone.id)).toEqual(
    expect.arrayContaining([
      expect.stringMatching(
        /^lifecycle stage repeat_customer → lapsed \(chance of being active 0\.\d\d, below 0\.3\)$/,
      ),
      'event customer.lapsed',
      'event segment.win-back.entered',
    ]),
  );
  const [winBack] = await enrollments(gone.id, 'win-back');
  expect(winBack?.status).toBe('active');

  // The same refresh again, directly: nobody lapses or enters twice.
  const again = await h.stack.intake.segments.refreshPage({ after: null, limit: 1000 });
  expect(again).toMatchObject({ lapsed: 0, entered: 0, left: 0 });

  // An order brings the customer back: the goal is met, and they have left the segment.
  await h.send({
    type: 'order.placed',
    customer: { email: 'gone3@example.com' },
    data: { orderId: 'G-3-back', total: 45 },
  });
  const ended: JourneyResult = await h.finish(winBack!.workflow_id);
  expect(ended.goalMet).toBe(true);
  expect((await api<CustomerDetail>('GET', '/v1/customers/gone3@example.com')).customer.lifecycleStage).toBe(
    'repeat_customer',
  );
  expect(await timeline(gone.id)).toEqual(
    expect.arrayContaining([
      'lifecycle stage lapsed → repeat_customer (ordered again: G-3-back)',
      'event segment.win-back.left',
    ]),
  );
});
