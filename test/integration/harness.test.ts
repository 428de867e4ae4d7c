/** The test harness as the README shows it: enroll, advance time, read the outbox, timeline and state. */
import { createHarness, type Harness } from '../../client/tools/testing/harness';

let h: Harness;

beforeAll(async () => {
  h = await createHarness({
    journeys: {
      'trial.yaml': `
journey: trial
name: Trial
category: service
trigger: { event: trial.started }
goal: { event: plan.upgraded, within: 14d }
steps:
  - id: hello
    type: send
    channel: email
    subject: "Your trial, {{ customer.firstName }}"
    text: "Fourteen days, all features."
  - id: halfway
    type: wait
    duration: 7d
  - id: reminder
    type: send
    channel: email
    subject: "Halfway through your trial"
    text: "Seven days left."
`,
    },
  });
});

afterAll(async () => {
  await h?.close();
});

test('enroll, advance, read; the clock moves only when told', async () => {
  const { customerId, workflowId, journey } = await h.enroll(
    'trial.started',
    { email: 'ada@example.com' },
    { firstName: 'Ada' },
  );
  expect(journey).toBe('trial');
  const start = await h.now();

  await h.advance('1d');
  expect((await h.outbox()).map((m) => m.subject)).toEqual(['Your trial, Ada']);
  const state = await h.state(workflowId);
  expect(state.currentStep).toBe('halfway');
  expect(state.waitingFor).toMatch(/^until /);

  await h.advance('6d');
  expect((await h.outbox()).map((m) => m.subject)).toEqual(['Your trial, Ada', 'Halfway through your trial']);
  expect((await h.now()).getTime() - start.getTime()).toBeGreaterThanOrEqual(7 * 86_400_000);

  const result = await h.finish(workflowId);
  expect(result.outcome).toBe('completed');
  const timeline = await h.timeline(customerId);
  expect(timeline.filter((t) => t.kind === 'message').map((t) => t.summary)).toEqual([
    'email sent: Your trial, Ada',
    'email sent: Halfway through your trial',
  ]);
});

test('an event that enrolls nobody says why', async () => {
  await expect(h.enroll('nothing.listens', { email: 'bo@example.com' })).rejects.toThrow(
    'no journey enrolled the customer on nothing.listens: no journey has this trigger',
  );
});
