/**
 * The activities that keep the customer database in step with a journey: reading the customer,
 * where they wait, splits, goals, record updates, tasks, and the end of the enrollment.
 * Each write is idempotent (keyed by enrollment and step), so a retried activity changes nothing.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { CustomerFacts, Facts } from '../definitions/facts';
import type { UpdateStep } from '../definitions/steps/update';
import type { Db } from './db/database';
import type { Logger } from 'pino';
import type { SegmentWatch } from './segment-watch';
import { renderText } from './render';
import { currentCustomerId, getCustomer } from './store/customers';
import { finishing } from './store/enrollments';
import { customerFacts } from './store/facts';
import { newId } from './store/ids';
import { appendTimeline } from './store/timeline';
import {
  enteredMarks,
  type JourneyReportBatch,
  type Mark,
  recordMarks,
  recordSlaBreach,
  stepMarks,
  timeBucket,
} from './store/journey-stats';

export interface FinishRequest {
  enrollmentId: string;
  customerId: string;
  journeyId: string;
  /** `failed`: a step failed for good (`reason` says which, and why). */
  outcome: 'completed' | 'exited' | 'goal' | 'failed';
  reason?: string;
  at: string;
  /** For the journey's report: the steps run since the last report (absent from older journeys). */
  report?: JourneyReportBatch;
}

export interface UpdateRequest {
  customerId: string;
  journeyId: string;
  stepId: string;
  changeKey: string;
  set?: NonNullable<UpdateStep['set']>;
  tags?: NonNullable<UpdateStep['tags']>;
  facts: Facts & { journey: NonNullable<Facts['journey']> };
  at: string;
}

export interface TaskRequest {
  taskKey: string;
  customerId: string;
  enrollmentId: string;
  journeyId: string;
  stepId: string;
  team?: string;
  assignee?: string;
  title: string;
  description?: string;
  dueAt?: string;
  facts: Facts & { journey: NonNullable<Facts['journey']> };
  at: string;
}

async function variables(db: Db, customerId: string, facts: Facts): Promise<Record<string, unknown>> {
  const row = await getCustomer(db, customerId);
  return { ...facts, ...(row ? { customer: await customerFacts(db, row) } : {}) };
}

/**
 * Counts a batch of step records, the enrollment's entering and `more` marks for the journey's
 * report; `alongside`, the record's own write, runs in the same statement (and alone without a batch).
 */
async function report(
  db: Db,
  enrollmentId: string,
  batch: JourneyReportBatch | undefined,
  more: Mark[] = [],
  alongside?: Parameters<typeof recordMarks>[3],
) {
  if (!batch) {
    await alongside?.execute();
    return;
  }
  const marks = [...enteredMarks(batch), ...stepMarks(batch.steps), ...more];
  await recordMarks(db, { id: enrollmentId, journeyId: batch.journeyId, version: batch.version }, marks, alongside);
}

export function createJourneyRecords(db: Db, workflowIdOf: () => string, segments?: SegmentWatch, logger?: Logger) {
  return {
    async loadCustomer(req: { customerId: string }): Promise<CustomerFacts | null> {
      const row = await getCustomer(db, req.customerId);
      return row ? customerFacts(db, row) : null;
    },

    /** Where the customer waits: a step, or null once the steps ran out and only the goal is awaited. */
    async markStep(req: {
      enrollmentId: string;
      stepId: string | null;
      waitingFor: string;
      report?: JourneyReportBatch;
    }): Promise<void> {
      // The step it waits at is reached now, whatever comes of the wait (a goal or an exit may end it).
      const at = req.report?.steps.at(-1)?.at ?? new Date().toISOString();
      const waitsAt: Mark[] = req.stepId
        ? [{ mark: `reached:${req.stepId}`, metric: 'step', key: req.stepId, at }]
        : [];
      const waits = db
        .updateTable('enrollments')
        .set({ current_step: req.stepId })
        .where('id', '=', req.enrollmentId)
        .where('status', '=', 'active');
      await report(db, req.enrollmentId, req.report, waitsAt, waits);
    },

    async recordSplit(req: {
      enrollmentId: string;
      customerId: string;
      journeyId: string;
      version: number;
      stepId: string;
      path: string;
      holdout: boolean;
      at: string;
    }): Promise<void> {
      await appendTimeline(db, {
        customerId: await currentCustomerId(db, req.customerId),
        at: req.at,
        kind: 'enrollment',
        summary: `assigned to path ${req.path} of split ${req.stepId} in ${req.journeyId}${req.holdout ? ' (holdout)' : ''}`,
        ref: `split:${req.enrollmentId}:${req.stepId}`,
        data: { journey: req.journeyId, version: req.version, step: req.stepId, path: req.path, holdout: req.holdout },
      });
    },

    async recordGoal(req: {
      enrollmentId: string;
      customerId: string;
      journeyId: string;
      eventId: string | null;
      eventType: string;
      at: string;
      /** For the journey's report (absent from older journeys): the split paths the enrollment took. */
      report?: JourneyReportBatch & { splits: Record<string, string> };
    }): Promise<void> {
      if (req.report) {
        const { enrolledAt, splits } = req.report;
        const waited = Date.parse(req.at) - Date.parse(enrolledAt);
        // Counted on the day the enrollment entered, as its entering is: a range of days then takes the
        // enrollments that entered in it, and their goals whenever they came.
        await report(db, req.enrollmentId, req.report, [
          { mark: 'goal', metric: 'goal', key: '', at: enrolledAt },
          ...(req.report.group
            ? [{ mark: 'goal_group', metric: 'goal_group', key: req.report.group, at: enrolledAt } satisfies Mark]
            : []),
          { mark: 'goal_time', metric: 'goal_time', key: String(timeBucket(Math.max(0, waited))), at: enrolledAt },
          ...Object.entries(splits).map(([step, path]): Mark => ({
            mark: `goal:${step}`,
            metric: 'goal_path',
            key: `${step}:${path}`,
            at: enrolledAt,
          })),
        ]);
      }
      await db.updateTable('enrollments').set({ goal_met: true }).where('id', '=', req.enrollmentId).execute();
      await appendTimeline(db, {
        customerId: await currentCustomerId(db, req.customerId),
        at: req.at,
        kind: 'enrollment',
        summary: `goal of ${req.journeyId} met (${req.eventType})`,
        ref: `goal:${req.enrollmentId}`,
        data: { journey: req.journeyId, enrollment: req.enrollmentId, eventId: req.eventId },
      });
    },

    async updateCustomer(req: UpdateRequest): Promise<string> {
      const row = await getCustomer(db, req.customerId);
      if (!row) throw ApplicationFailure.nonRetryable(`no customer ${req.customerId}`, 'CustomerNotFound');
      // Applied once: a retry after the change was written finds it on the timeline (by the index
      // on customer, kind and ref; written under the record that stays, as below).
      const done = await db
        .selectFrom('timeline')
        .select('summary')
        .where('customer_id', '=', row.id)
        .where('kind', '=', 'change')
        .where('ref', '=', req.changeKey)
        .executeTakeFirst();
      if (done) return done.summary.replace(/ \([^)]*\)$/, '');
      const vars = await variables(db, row.id, req.facts);
      const attributes: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(req.set?.attributes ?? {})) {
        attributes[key] = typeof value === 'string' ? await renderText(value, vars) : value;
      }
      const tags = new Set(row.tags);
      for (const t of req.tags?.add ?? []) tags.add(t);
      for (const t of req.tags?.remove ?? []) tags.delete(t);
      const set = req.set ?? {};
      await db
        .updateTable('customers')
        .set({
          ...(set.lifecycleStage ? { lifecycle_stage: set.lifecycleStage } : {}),
          ...(set.preferredChannel ? { preferred_channel: set.preferredChannel } : {}),
          ...(set.locale ? { locale: set.locale } : {}),
          ...(set.timezone ? { timezone: set.timezone } : {}),
          ...(Object.keys(attributes).length
            ? { attributes: JSON.stringify({ ...row.attributes, ...attributes }) }
            : {}),
          ...(req.tags ? { tags: JSON.stringify([...tags].sort()) } : {}),
          updated_at: new Date(),
        })
        .where('id', '=', row.id)
        .execute();
      const parts = [
        ...(set.lifecycleStage ? [`lifecycle stage ${set.lifecycleStage}`] : []),
        ...(set.preferredChannel ? [`preferred channel ${set.preferredChannel}`] : []),
        ...(set.locale ? [`locale ${set.locale}`] : []),
        ...(set.timezone ? [`time zone ${set.timezone}`] : []),
        ...Object.keys(attributes).map((k) => `attribute ${k}`),
        ...(req.tags?.add?.length ? [`tags +${req.tags.add.join(' +')}`] : []),
        ...(req.tags?.remove?.length ? [`tags -${req.tags.remove.join(' -')}`] : []),
      ];
      const summary = `updated ${parts.join(', ')}`;
      await appendTimeline(db, {
        customerId: row.id,
        at: req.at,
        kind: 'change',
        summary: `${summary} (${req.journeyId})`,
        ref: req.changeKey,
        data: { journey: req.journeyId, step: req.stepId, set: { ...set, attributes }, tags: req.tags ?? {} },
      });
      // The change may move the customer into or out of a segment. The update stands either way: a
      // failure here is logged, and their next change (or the nightly refresh) follows them.
      await segments?.check(row.id).catch((err: unknown) => {
        logger?.warn({ err: { message: (err as Error).message }, customerId: row.id }, 'following segments failed');
      });
      return summary;
    },

    async createTask(req: TaskRequest): Promise<string> {
      const existing = await db.selectFrom('tasks').select('id').where('task_key', '=', req.taskKey).executeTakeFirst();
      if (existing) return existing.id;
      const customerId = await currentCustomerId(db, req.customerId);
      const vars = await variables(db, customerId, req.facts);
      const title = await renderText(req.title, vars);
      const description = req.description ? await renderText(req.description, vars) : null;
      const id = `task_${newId('evt').slice(4)}`;
      const inserted = await db
        .insertInto('tasks')
        .values({
          id,
          task_key: req.taskKey,
          customer_id: customerId,
          enrollment_id: req.enrollmentId,
          workflow_id: workflowIdOf(),
          journey_id: req.journeyId,
          step_id: req.stepId,
          team: req.team ?? null,
          assignee: req.assignee ?? null,
          title,
          description,
          due_at: req.dueAt ?? null,
          status: 'open',
          created_at: req.at,
        })
        .onConflict((oc) => oc.column('task_key').doNothing())
        .returning('id')
        .executeTakeFirst();
      const taskId =
        inserted?.id ??
        (await db.selectFrom('tasks').select('id').where('task_key', '=', req.taskKey).executeTakeFirstOrThrow()).id;
      await appendTimeline(db, {
        customerId,
        at: req.at,
        kind: 'task',
        summary: `task created for ${req.team ?? req.assignee ?? 'someone'}: ${title}`,
        ref: `created:${taskId}`,
        data: {
          taskId,
          journey: req.journeyId,
          step: req.stepId,
          team: req.team,
          assignee: req.assignee,
          dueAt: req.dueAt,
        },
      });
      return taskId;
    },

    async markTaskTimedOut(req: { taskId: string; customerId: string; at: string }): Promise<void> {
      const r = await db
        .updateTable('tasks')
        .set({ status: 'timed_out' })
        .where('id', '=', req.taskId)
        .where('status', '=', 'open')
        .returning(['journey_id', 'step_id', 'enrollment_id', 'due_at'])
        .executeTakeFirst();
      if (r) {
        await recordSlaBreach(db, r, new Date(req.at));
        await appendTimeline(db, {
          customerId: await currentCustomerId(db, req.customerId),
          at: req.at,
          kind: 'task',
          summary: `task ${req.taskId} was not completed in time`,
          ref: `timeout:${req.taskId}`,
          data: { taskId: req.taskId, journey: r.journey_id, step: r.step_id },
        });
      }
    },

    async finishEnrollment(req: FinishRequest): Promise<void> {
      const status = req.outcome === 'exited' || req.outcome === 'failed' ? req.outcome : 'completed';
      await report(
        db,
        req.enrollmentId,
        req.report,
        [
          { mark: 'end', metric: 'ended', key: req.outcome, at: req.at },
          ...(req.outcome === 'exited'
            ? [{ mark: 'exit', metric: 'exit', key: req.reason ?? 'exited', at: req.at } satisfies Mark]
            : []),
        ],
        finishing(db, req.enrollmentId, status, req.reason ?? req.outcome, req.at),
      );
      const verb = { completed: 'completed', goal: 'converted in', exited: 'left', failed: 'failed in' }[req.outcome];
      await appendTimeline(db, {
        customerId: await currentCustomerId(db, req.customerId),
        at: req.at,
        kind: 'enrollment',
        summary: `${verb} journey ${req.journeyId}${req.reason ? ` (${req.reason})` : ''}`,
        ref: `end:${req.enrollmentId}`,
        data: { journey: req.journeyId, enrollment: req.enrollmentId, outcome: req.outcome },
      });
    },
  };
}
