/**
 * Holdouts on the time-skipping server: a journey's own `holdout:` and the global one
 * (RAPPORT_GLOBAL_HOLDOUT, marketing journeys only). Those held out get none of the journey's sends;
 * their goal still counts; the report gives each group's goal rate and the lift.
 */
import { createHarness, type Harness } from '../../client/tools/testing/harness';
import type { JourneyReport } from '../../client/server/journeys/report';
import { holdoutOf } from '../../definitions/holdout';
import type { JourneyDefinition, JourneyPlan } from '../../definitions/schema/journey';

let h: Harness;

beforeAll(async () => {
  h = await createHarness({
    settings: { RAPPORT_GLOBAL_HOLDOUT: '20%' },
    journeys: {
      'trial-tips.yaml': `
journey: trial-tips
name: Trial tips
category: service
trigger: { event: trial.started }
holdout: 30%
goal: { event: plan.upgraded, within: 30d }
steps:
  - id: tips
    type: send
    channel: email
    subject: "Three tips"
    text: "Tips."
  - id: later
    type: wait
    duration: 2d
  - id: more
    type: send
    channel: email
    subject: "Two more"
    text: "More."
`,
      'spring.yaml': `
journey: spring
name: Spring offer
category: marketing
trigger: { event: spring.started }
goal: { event: plan.upgraded, within: 30d }
steps:
  - id: offer
    type: send
    channel: email
    subject: "Spring offer"
    text: "Offer."
`,
    },
  });
});

afterAll(async () => {
  await h?.close();
});

async function report(journey: string): Promise<JourneyReport> {
  const res = await h.stack.api.inject({ method: 'GET', url: `/v1/journeys/${journey}/report` });
  expect(res.statusCode).toBe(200);
  return res.json<JourneyReport>();
}

async function definition(journey: string): Promise<JourneyDefinition> {
  const row = await h.stack.db
    .selectFrom('journey_versions')
    .select('definition')
    .where('journey_id', '=', journey)
    .executeTakeFirstOrThrow();
  return (row.definition as JourneyPlan).definition;
}

test("a journey's holdout gets none of its sends, and the report gives each group's goal rate and the lift", async () => {
  const def = await definition('trial-tips');
  const people: { customerId: string; workflowId: string; email: string; held: boolean; upgraded: boolean }[] = [];
  for (let i = 0; i < 40; i++) {
    const email = `trial${i}@example.com`;
    const e = await h.enroll('trial.started', { email });
    people.push({ ...e, email, held: holdoutOf(def, e.customerId, 0.2) === 'holdout', upgraded: i % 2 === 0 });
  }
  await h.advance('1d');
  for (const p of people.filter((x) => x.upgraded)) {
    await h.send({ type: 'plan.upgraded', customer: { id: p.customerId } });
  }
  for (const p of people) await h.finish(p.workflowId);

  const held = people.filter((p) => p.held);
  const treated = people.filter((p) => !p.held);
  // A share of 30 % of 40, within what chance gives.
  expect(held.length).toBeGreaterThan(3);
  expect(held.length).toBeLessThan(22);
  const outbox = await h.outbox();
  for (const p of held) expect(outbox.filter((m) => m.to === p.email)).toEqual([]);
  // The treated who upgraded a day in left at their goal before the second message.
  for (const p of treated) expect(outbox.filter((m) => m.to === p.email)).toHaveLength(p.upgraded ? 1 : 2);

  const r = await report('trial-tips');
  expect(r.holdout).toMatchObject({
    share: '30%',
    treated: { entered: treated.length, goalMet: treated.filter((p) => p.upgraded).length },
    heldOut: {
      entered: held.length,
      goalMet: held.filter((p) => p.upgraded).length,
      byJourney: held.length,
      byGlobal: 0,
    },
  });
  expect(r.holdout!.lift.difference).toBeCloseTo(r.holdout!.treated.rate - r.holdout!.heldOut.rate, 10);
  expect(r.holdout!.lift.significant).toBe(false);
  expect(r.messages).toEqual(
    // Each send they would have had, recorded as held back: one for those who upgraded before the second.
    expect.arrayContaining([
      {
        channel: 'none',
        status: 'skipped',
        heldBy: 'holdout',
        count: held.reduce((n, p) => n + (p.upgraded ? 1 : 2), 0),
      },
    ]),
  );
});

test('the global holdout keeps its share of customers out of marketing journeys, and only those', async () => {
  const def = await definition('spring');
  const people: { customerId: string; email: string; held: boolean }[] = [];
  for (let i = 0; i < 30; i++) {
    const email = `spring${i}@example.com`;
    const e = await h.enroll('spring.started', { email }, { consent: { email: { marketing: true } } });
    people.push({ customerId: e.customerId, email, held: holdoutOf(def, e.customerId, 0.2) === 'global' });
    await h.finish(e.workflowId);
  }
  const held = people.filter((p) => p.held);
  expect(held.length).toBeGreaterThan(0);
  expect(held.length).toBeLessThan(15);
  const outbox = await h.outbox();
  for (const p of people) expect(outbox.filter((m) => m.to === p.email)).toHaveLength(p.held ? 0 : 1);
  const r = await report('spring');
  expect(r.holdout).toMatchObject({
    share: null,
    treated: { entered: 30 - held.length },
    heldOut: { entered: held.length, byGlobal: held.length, byJourney: 0 },
  });
  // The service journey above had no one held out globally: the global holdout is for marketing.
  expect((await report('trial-tips')).holdout!.heldOut.byGlobal).toBe(0);
});
