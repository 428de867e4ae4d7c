/**
 * Scheduled enrollment on the Temporal dev server (the time-skipping server has no Schedules): a
 * journey with `trigger: { schedule, segment }` gets a Temporal Schedule that follows it; each run
 * enrolls everyone the segment matches, and a run interrupted by a worker stop goes on from where it
 * was, enrolling nobody twice.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Activities } from '../../activities';
import { INSIGHTS_SCHEDULE_ID, scheduleId, syncInsightsSchedule, syncSchedule } from '../../worker/schedules';
import { eventually } from '../helpers/eventually';
import { startTestStack, type TestStack } from '../helpers/stack';
import { devServerEnv } from '../helpers/temporal';
import {
  INSIGHTS_REFRESH_WORKFLOW,
  type InsightsRefreshWorkflow,
  SEGMENT_RUN_WORKFLOW,
  segmentRunStateQuery,
  type SegmentRunWorkflow,
} from '../../workflows/messages';

let env: TestWorkflowEnvironment;
let stack: TestStack;

const scheduled = (id: string, segment: string, reentry = 'never') => `
journey: ${id}
name: ${id}
category: service
trigger: { schedule: "0 9 * * mon", segment: "${segment}" }
entry: { reentry: ${reentry} }
steps:
  - id: note
    type: send
    channel: email
    subject: "A note for our regulars"
    text: "Thank you."
`;

/**
 * Holds the worker in the middle of a scheduled run: the second page's enrollments are made, then
 * the activity waits for the test, which stops the worker, and fails as a worker dying there would.
 */
const hold = {
  armed: false,
  reached: undefined as (() => void) | undefined,
  release: undefined as (() => void) | undefined,
};
let pagesEnrolled = 0;
function holdSecondPage(activities: Activities): Activities {
  return {
    ...activities,
    async enrollSegment(req) {
      const enrolled = await activities.enrollSegment(req);
      if (hold.armed && ++pagesEnrolled === 2) {
        hold.armed = false;
        await new Promise<void>((resolve) => {
          hold.release = resolve;
          hold.reached?.();
        });
        throw new Error('the worker stopped before this page was reported');
      }
      return enrolled;
    },
  };
}

beforeAll(async () => {
  env = await devServerEnv();
  stack = await startTestStack(env, { journeysDirs: [], schedules: true, wrapActivities: holdSecondPage });
  // 12 customers: the first 7 have two orders or more, the last 5 one.
  for (let i = 1; i <= 12; i++) {
    const orders = i <= 7 ? 2 : 1;
    for (let o = 1; o <= orders; o++) {
      const res = await stack.api.inject({
        method: 'POST',
        url: '/v1/orders',
        payload: { customer: { email: `c${i}@example.com` }, orderId: `S-${i}-${o}`, total: 60 },
      });
      expect(res.statusCode).toBe(202);
    }
  }
});

afterAll(async () => {
  await stack?.close();
  await env?.teardown();
});

async function activeIn(journey: string): Promise<number> {
  const rows = await stack.db
    .selectFrom('enrollments')
    .select('id')
    .where('journey_id', '=', journey)
    .where('status', '=', 'active')
    .execute();
  return rows.length;
}

async function enrolledIn(journey: string): Promise<string[]> {
  const rows = await stack.db
    .selectFrom('enrollments')
    .select('customer_id')
    .where('journey_id', '=', journey)
    .execute();
  return rows.map((r) => r.customer_id);
}

test('a scheduled journey gets a Schedule; each run enrolls the segment, once per customer', async () => {
  await stack.publish({ 'regulars.yaml': scheduled('regulars', 'customer.metrics.orderCount >= 2') });
  expect(await syncSchedule(stack.temporal, stack.db, stack.taskQueue, 'regulars')).toBe('created');
  const handle = stack.temporal.schedule.getHandle(scheduleId('regulars'));
  const description = await handle.describe();
  expect(description.spec.calendars?.length ?? description.spec.intervals?.length ?? 0).toBeGreaterThan(0);
  expect(description.state.paused).toBe(false);

  const runOnce = async (n: number) => {
    await handle.trigger();
    const action = await eventually(
      `run ${n} to start`,
      async () => (await handle.describe()).info.recentActions[n - 1],
    );
    return stack.temporal.workflow.getHandle<SegmentRunWorkflow>(action.action.workflow.workflowId).result();
  };
  const first = await runOnce(1);
  expect(first).toEqual({ scanned: 12, matched: 7, enrolled: 7, done: true });
  expect((await enrolledIn('regulars')).length).toBe(7);

  // The next run finds them all already enrolled (reentry: never).
  const second = await runOnce(2);
  expect(second).toMatchObject({ matched: 7, enrolled: 0, done: true });
  expect((await enrolledIn('regulars')).length).toBe(7);

  // Pausing the journey through the API pauses its schedule; resuming resumes it.
  expect((await stack.api.inject({ method: 'POST', url: '/v1/journeys/regulars/pause' })).statusCode).toBe(200);
  expect((await handle.describe()).state.paused).toBe(true);
  expect((await stack.api.inject({ method: 'POST', url: '/v1/journeys/regulars/resume' })).statusCode).toBe(200);
  expect((await handle.describe()).state.paused).toBe(false);

  // A version without a schedule removes it.
  await stack.publish({
    'regulars.yaml': scheduled('regulars', 'true').replace(
      'trigger: { schedule: "0 9 * * mon", segment: "true" }',
      'trigger: { event: regulars.requested }',
    ),
  });
  expect(await syncSchedule(stack.temporal, stack.db, stack.taskQueue, 'regulars')).toBe('deleted');
});

test('two runs that share a workflow id (the schedule names runs to the second) each enroll by their own events', async () => {
  await stack.publish({ 'weekly.yaml': scheduled('weekly', 'customer.metrics.orderCount >= 2', 'always') });
  const runWith = async () =>
    stack.temporal.workflow.execute<SegmentRunWorkflow>(SEGMENT_RUN_WORKFLOW, {
      args: [{ journeyId: 'weekly' }],
      taskQueue: stack.taskQueue,
      workflowId: 'segment-run:weekly-2026-12-07T09:00:00Z',
    });
  expect(await runWith()).toEqual({ scanned: 12, matched: 7, enrolled: 7, done: true });
  // Each journey is one send: the first run's enrollments end, and reentry: always lets them in again.
  await eventually('the first run’s enrollments to end', () => activeIn('weekly'), { until: (n) => n === 0 });
  expect(await runWith()).toEqual({ scanned: 12, matched: 7, enrolled: 7, done: true });
  expect((await enrolledIn('weekly')).length).toBe(14);
});

test('a run stopped in the middle by a worker stop goes on from where it was, enrolling nobody twice', async () => {
  await stack.publish({ 'big-spenders.yaml': scheduled('big-spenders', 'customer.metrics.lifetimeValue > 100') });
  const reached = new Promise<void>((resolve) => (hold.reached = resolve));
  hold.armed = true;
  pagesEnrolled = 0;
  const run = await stack.temporal.workflow.start<SegmentRunWorkflow>(SEGMENT_RUN_WORKFLOW, {
    args: [{ journeyId: 'big-spenders', pageSize: 2 }],
    taskQueue: stack.taskQueue,
    workflowId: 'segment-run:big-spenders:test',
  });
  // Two pages in, the worker stops.
  await reached;
  const stopping = stack.stopWorker();
  hold.release!();
  await stopping;
  const atStop = (await enrolledIn('big-spenders')).length;
  expect(atStop).toBe(4);
  expect((await run.describe()).status.name).toBe('RUNNING');

  await stack.startWorker();
  const result = await run.result();
  expect(result).toEqual({ scanned: 12, matched: 7, enrolled: 7, done: true });
  const enrolled = await enrolledIn('big-spenders');
  expect(enrolled.length).toBe(7);
  expect(new Set(enrolled).size).toBe(7);
  expect(await run.query(segmentRunStateQuery)).toMatchObject({ done: true, enrolled: 7 });
});

test('the nightly refresh of the value models has its Schedule; with too few customers to fit, a run says so and moves nobody', async () => {
  expect(await syncInsightsSchedule(stack.temporal, stack.taskQueue, '0 3 * * *')).toBe('created');
  expect(await syncInsightsSchedule(stack.temporal, stack.taskQueue, '30 2 * * *')).toBe('updated');
  const handle = stack.temporal.schedule.getHandle(INSIGHTS_SCHEDULE_ID);
  expect((await handle.describe()).action).toMatchObject({ workflowType: INSIGHTS_REFRESH_WORKFLOW });
  await handle.trigger();
  const action = await eventually('the refresh to start', async () => (await handle.describe()).info.recentActions[0]);
  const run = await stack.temporal.workflow
    .getHandle<InsightsRefreshWorkflow>(action.action.workflow.workflowId)
    .result();
  expect(run).toEqual({
    skipped: 'too few customers with orders to fit the models: 12, at least 50',
    customers: 0,
    entered: 0,
    left: 0,
    lapsed: 0,
    done: true,
  });
  expect(await syncInsightsSchedule(stack.temporal, stack.taskQueue, 'off')).toBe('deleted');
});
