/**
 * How an enrollment ends, on the time-skipping server: a goal met after the last step still counts
 * (the enrollment listens until the goal's window closes, sending nothing), an exit event in that
 * window ends it as exited.
 */
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
entry: { reentry: always }
exit: { events: [account.closed] }
goal: { event: plan.upgraded, within: 30d }
steps:
  - id: hello
    type: send
    channel: email
    subject: "Your trial"
    text: "Thirty days, all features."
  - id: pause
    type: wait
    duration: 2d
  - id: tips
    type: send
    channel: email
    subject: "Three tips"
    text: "Tips."
`,
    },
  });
});

afterAll(async () => {
  await h?.close();
});

async function enrollment(workflowId: string) {
  return h.stack.db
    .selectFrom('enrollments')
    .select(['status', 'goal_met', 'outcome', 'current_step', 'ended_at'])
    .where('workflow_id', '=', workflowId)
    .orderBy('started_at', 'desc')
    .executeTakeFirstOrThrow();
}

const subjects = async (email: string) =>
  (await h.outbox()).filter((m) => m.to === email).map((m) => m.subject ?? m.text);

test('a goal met after the last step, inside its window, counts: completed, with the goal met', async () => {
  const { customerId, workflowId } = await h.enroll('trial.started', { email: 'late@example.com' });
  const start = await h.now();
  await h.advance('10d');
  // The steps ran out on day 2; the enrollment still listens for its goal, and says so.
  const state = await h.state(workflowId);
  expect(state).toMatchObject({ status: 'active', currentStep: null, goalMet: false });
  expect(state.waitingFor).toMatch(/^its goal \(plan\.upgraded\) until /);
  expect(await enrollment(workflowId)).toMatchObject({ status: 'active', current_step: null });

  const upgrade = await h.send({ type: 'plan.upgraded', customer: { id: customerId } });
  expect(upgrade.signalled.map((s) => s.journey)).toEqual(['trial']);
  const result = await h.finish(workflowId);
  expect(result).toMatchObject({ outcome: 'completed', goalMet: true });
  // It ended when the goal was met, on day 10, not when the window closed.
  const ended = await enrollment(workflowId);
  expect(ended).toMatchObject({ status: 'completed', goal_met: true, outcome: 'completed' });
  expect(ended.ended_at!.getTime() - start.getTime()).toBeLessThan(11 * 86_400_000);
  const timeline = (await h.timeline(customerId)).map((t) => t.summary);
  expect(timeline).toContain('goal of trial met (plan.upgraded)');
  expect(timeline.at(-1)).toBe('completed journey trial');
  expect(await subjects('late@example.com')).toEqual(['Your trial', 'Three tips']);
});

test('with no goal event the enrollment ends when the window closes, completed, goal not met', async () => {
  const { workflowId } = await h.enroll('trial.started', { email: 'never@example.com' });
  const start = new Date((await h.state(workflowId)).enrolledAt);
  const result = await h.finish(workflowId);
  expect(result).toMatchObject({ outcome: 'completed', goalMet: false });
  const ended = await enrollment(workflowId);
  expect(ended).toMatchObject({ status: 'completed', goal_met: false });
  expect(ended.ended_at!.getTime() - start.getTime()).toBeGreaterThanOrEqual(30 * 86_400_000);
  // Nothing was sent while it listened.
  expect(await subjects('never@example.com')).toEqual(['Your trial', 'Three tips']);
});

test('an exit event in the window ends the enrollment as exited; a goal after it does not count', async () => {
  const { customerId, workflowId } = await h.enroll('trial.started', { email: 'gone@example.com' });
  await h.advance('5d');
  await h.send({ type: 'account.closed', customer: { id: customerId } });
  const result = await h.finish(workflowId);
  expect(result).toMatchObject({ outcome: 'exited', goalMet: false, reason: 'exit event account.closed' });
  const after = await h.send({ type: 'plan.upgraded', customer: { id: customerId } });
  expect(after.signalled).toEqual([]);
  expect(await enrollment(workflowId)).toMatchObject({ status: 'exited', goal_met: false });
});
