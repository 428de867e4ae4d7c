/**
 * Scheduled enrollment: a journey with `trigger: { schedule, segment }` runs on a Temporal Schedule;
 * each run pages through the customers, keeps those its segment (CEL over `customer`) matches, and
 * enrolls them through the event intake, with one event per run and customer, so a run that is
 * repeated or resumed after a restart enrolls nobody twice.
 */
import { heartbeat, log } from '@temporalio/activity';
import type { Db } from './db/database';
import { CelEvaluationError, evaluateCondition } from '../definitions/cel';
import { customerFacts } from './store/facts';
import { latestVersions } from './store/journeys';
import { scheduledEventType } from '../definitions/triggers';

/** Enrolls one customer through the intake, by a scheduled-run event; true when they were enrolled. */
export type ScheduledEnroll = (event: { id: string; type: string; customerId: string }) => Promise<boolean>;

export interface SegmentPage {
  /** The customers of this page the segment matched. */
  customerIds: string[];
  scanned: number;
  /** Where the next page starts; null after the last. */
  next: string | null;
  /** Why the run has nothing to do (the journey is gone, paused, or has no segment). */
  stopped?: string;
}

export function createSegmentActivities(db: Db, enroll?: ScheduledEnroll) {
  return {
    async segmentPage(req: { journeyId: string; after: string | null; limit: number }): Promise<SegmentPage> {
      const published = (await latestVersions(db)).find((p) => p.plan.definition.journey === req.journeyId);
      const segment = published?.plan.definition.trigger.segment;
      if (!published || !segment) return { customerIds: [], scanned: 0, next: null, stopped: 'no scheduled journey' };
      if (published.status === 'paused')
        return { customerIds: [], scanned: 0, next: null, stopped: 'journey is paused' };
      let q = db.selectFrom('customers').selectAll().where('merged_into', 'is', null);
      if (req.after) q = q.where('id', '>', req.after);
      const rows = await q.orderBy('id').limit(req.limit).execute();
      const now = new Date().toISOString();
      const customerIds: string[] = [];
      for (const row of rows) {
        try {
          if (evaluateCondition(segment, 'segment', { customer: await customerFacts(db, row), now })) {
            customerIds.push(row.id);
          }
        } catch (err) {
          // A customer the expression cannot read (an attribute they lack) is not in the segment.
          if (!(err instanceof CelEvaluationError)) throw err;
        }
      }
      return { customerIds, scanned: rows.length, next: rows.length === req.limit ? rows.at(-1)!.id : null };
    },

    async enrollSegment(req: { journeyId: string; runKey: string; customerIds: string[] }): Promise<number> {
      if (!enroll) throw new Error('scheduled enrollment needs the event intake');
      let enrolled = 0;
      for (const [i, customerId] of req.customerIds.entries()) {
        if (
          await enroll({
            id: `schedule:${req.journeyId}:${req.runKey}:${customerId}`,
            type: scheduledEventType(req.journeyId),
            customerId,
          })
        ) {
          enrolled++;
        }
        if (i % 20 === 0) heartbeat(i);
      }
      log.info('scheduled enrollment batch', { journey: req.journeyId, customers: req.customerIds.length, enrolled });
      return enrolled;
    },
  };
}
