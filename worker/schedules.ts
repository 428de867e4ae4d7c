/**
 * Each journey with `trigger: { schedule, segment }` has a Temporal Schedule, `rapport-schedule:<journey>`,
 * which starts a segment run (workflows/segment-run.ts) at every time its cron expression names (UTC).
 * The schedule follows the journey: created at publish, updated when a new version changes the cron,
 * paused and resumed with the journey, deleted when the journey no longer has a schedule. A run that
 * is still going when the next is due makes the next one skip.
 */
import { type Client, ScheduleNotFoundError } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Db } from '../activities/db/database';
import { latestVersions } from '../activities/store/journeys';
import type { segmentRunWorkflow } from '../workflows/segment-run';
import { INSIGHTS_REFRESH_WORKFLOW, type InsightsRefreshWorkflow, SEGMENT_RUN_WORKFLOW } from '../workflows/messages';

export const scheduleId = (journeyId: string) => `rapport-schedule:${journeyId}`;

export async function syncSchedule(
  client: Client,
  db: Db,
  taskQueue: string,
  journeyId: string,
  logger?: Logger,
): Promise<'created' | 'updated' | 'deleted' | 'none'> {
  const published = (await latestVersions(db)).find((p) => p.plan.definition.journey === journeyId);
  const cron = published?.plan.definition.trigger.schedule;
  const handle = client.schedule.getHandle(scheduleId(journeyId));
  if (!published || !cron) {
    try {
      await handle.delete();
      logger?.info({ journey: journeyId }, 'schedule deleted');
      return 'deleted';
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return 'none';
      throw err;
    }
  }
  const paused = published.status === 'paused';
  const action = {
    type: 'startWorkflow' as const,
    workflowType: SEGMENT_RUN_WORKFLOW,
    args: [{ journeyId }] as Parameters<typeof segmentRunWorkflow>,
    taskQueue,
    workflowId: `segment-run:${journeyId}`,
  };
  try {
    await handle.update((previous) => ({
      ...previous,
      spec: { cronExpressions: [cron] },
      action,
      state: { ...previous.state, paused, note: paused ? 'journey paused' : `version ${published.version}` },
    }));
    logger?.info({ journey: journeyId, cron, paused }, 'schedule updated');
    return 'updated';
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  await client.schedule.create({
    scheduleId: scheduleId(journeyId),
    spec: { cronExpressions: [cron] },
    action,
    policies: { overlap: 'SKIP', catchupWindow: '1 hour' },
    state: { paused, note: paused ? 'journey paused' : `version ${published.version}` },
  });
  logger?.info({ journey: journeyId, cron, paused }, 'schedule created');
  return 'created';
}

/** Brings every journey's schedule in line with what is published (at start). */
export async function syncSchedules(client: Client, db: Db, taskQueue: string, logger?: Logger): Promise<void> {
  for (const p of await latestVersions(db))
    await syncSchedule(client, db, taskQueue, p.plan.definition.journey, logger);
}

/** The Schedule that refits the customer value models and follows everyone's segments and stages. */
export const INSIGHTS_SCHEDULE_ID = 'rapport-insights-refit';

/**
 * Creates, updates or (for `off`) deletes the nightly refresh of the value models
 * (RAPPORT_INSIGHTS_REFIT). A refresh still going when the next is due makes the next one skip.
 */
export async function syncInsightsSchedule(
  client: Client,
  taskQueue: string,
  cron: string,
  logger?: Logger,
): Promise<'created' | 'updated' | 'deleted' | 'none'> {
  const handle = client.schedule.getHandle(INSIGHTS_SCHEDULE_ID);
  if (cron === 'off') {
    try {
      await handle.delete();
      return 'deleted';
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return 'none';
      throw err;
    }
  }
  const action = {
    type: 'startWorkflow' as const,
    workflowType: INSIGHTS_REFRESH_WORKFLOW,
    args: [{ refit: true }] as Parameters<InsightsRefreshWorkflow>,
    taskQueue,
    workflowId: 'insights-refresh',
  };
  try {
    await handle.update((previous) => ({ ...previous, spec: { cronExpressions: [cron] }, action }));
    return 'updated';
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  await client.schedule.create({
    scheduleId: INSIGHTS_SCHEDULE_ID,
    spec: { cronExpressions: [cron] },
    action,
    policies: { overlap: 'SKIP', catchupWindow: '1 hour' },
    state: { note: 'refits the customer value models, then follows every customer' },
  });
  logger?.info({ cron }, 'value model refresh scheduled');
  return 'created';
}
