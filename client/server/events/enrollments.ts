/**
 * Ending enrollments from outside the journey: cancelling one (through the API, on erasure), and
 * settling the enrollments two merged records brought together, so a customer is in a journey once.
 */
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Db } from '../../../activities/db/database';
import { finishEnrollment } from '../../../activities/store/enrollments';
import { recordEnded } from '../../../activities/store/journey-stats';
import { appendTimeline } from '../../../activities/store/timeline';
import type { JourneyPlan } from '../../../definitions/schema/journey';
import { journeyStateQuery } from '../../../workflows/messages';

/** Stops a customer's journey now: the workflow is terminated and the enrollment recorded as cancelled. */
export async function cancelEnrollment(
  deps: { db: Db; temporal: Client },
  enrollmentId: string,
  workflowId: string,
  customerId: string,
  journeyId: string,
  reason: string,
): Promise<void> {
  try {
    await deps.temporal.workflow.getHandle(workflowId).terminate(reason);
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  const at = new Date();
  await finishEnrollment(deps.db, enrollmentId, 'cancelled', reason, at);
  await recordEnded(deps.db, enrollmentId, 'cancelled', at);
  await appendTimeline(deps.db, {
    customerId,
    at,
    kind: 'enrollment',
    summary: `left ${journeyId}: cancelled (${reason})`,
    ref: `cancelled:${enrollmentId}`,
    data: { journey: journeyId, enrollment: enrollmentId, reason },
  });
}

export interface MergeDeps {
  db: Db;
  temporal: Client;
  logger: Logger;
  /** A published version's plan (whether its journey enrolls concurrently). */
  planOf(journeyId: string, version: number): Promise<JourneyPlan>;
}

/**
 * After records merged, the survivor may be active twice in one journey (each record was). One
 * enrollment stays: the one further along (more steps taken; on a tie, the one enrolled first); the
 * others are cancelled, with the reason on the timeline. Journeys that enroll concurrently keep all;
 * keyed journeys, one per key.
 * Works through the merges recorded in `merge_followups` (all of them, or these customers'), and
 * clears each once settled, so a merge whose settling failed (Temporal away) is settled later.
 * Returns the enrollments it cancelled.
 */
export async function settleMerges(deps: MergeDeps, customerIds?: string[]): Promise<string[]> {
  const { db } = deps;
  let q = db.selectFrom('merge_followups').select('customer_id');
  if (customerIds) {
    if (customerIds.length === 0) return [];
    q = q.where('customer_id', 'in', customerIds);
  }
  const cancelled: string[] = [];
  for (const { customer_id: customerId } of await q.execute()) {
    const active = await db
      .selectFrom('enrollments')
      .select(['id', 'journey_id', 'version', 'workflow_id', 'started_at', 'key'])
      .where('customer_id', '=', customerId)
      .where('status', '=', 'active')
      .orderBy('started_at')
      .execute();
    // A keyed journey's enrollments of different keys are meant to run side by side.
    const byJourney = new Map<string, typeof active>();
    for (const e of active) {
      const group = `${e.journey_id}\u0000${e.key ?? ''}`;
      byJourney.set(group, [...(byJourney.get(group) ?? []), e]);
    }
    for (const enrollments of byJourney.values()) {
      const journeyId = enrollments[0]!.journey_id;
      if (enrollments.length < 2) continue;
      const plan = await deps.planOf(journeyId, enrollments[0]!.version);
      if (plan.definition.entry?.concurrent) continue;
      // Steps taken so far, as the workflow itself counts them.
      const progress = await Promise.all(
        enrollments.map(async (e) => {
          try {
            return (await deps.temporal.workflow.getHandle(e.workflow_id).query(journeyStateQuery)).history.length;
          } catch (err) {
            if (err instanceof WorkflowNotFoundError) return -1;
            throw err;
          }
        }),
      );
      // Enrolled first wins a tie: `enrollments` is in the order they started.
      const keep = progress.reduce((best, p, i) => (p > progress[best]! ? i : best), 0);
      const kept = enrollments[keep]!;
      for (const [i, e] of enrollments.entries()) {
        if (i === keep) continue;
        const reason = `records merged: enrollment ${kept.id} kept, ${progress[keep]} step(s) along against ${Math.max(progress[i]!, 0)}`;
        await cancelEnrollment(deps, e.id, e.workflow_id, customerId, journeyId, reason);
        deps.logger.info(
          { customerId, journey: journeyId, cancelled: e.id, kept: kept.id },
          'merged enrollments settled',
        );
        cancelled.push(e.id);
      }
    }
    await db.deleteFrom('merge_followups').where('customer_id', '=', customerId).execute();
  }
  return cancelled;
}
