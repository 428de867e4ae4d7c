/**
 * Why a customer got, or did not get, each message of each journey they were in; where they are and
 * what they wait for. Built from the enrollments, the published versions and the timeline.
 */
import type { Db } from '../db/database';
import type { JourneyPlan } from '../../definitions/schema/journey';
import { walk } from '../../definitions/steps';

interface MessageExplanation {
  step: string;
  channel: string;
  outcome: 'sent' | 'skipped' | 'deferred' | 'failed' | 'unknown' | 'not reached yet' | 'not on the path taken';
  at: string | null;
  why: string;
  /** The subscription topic of a marketing message that went out or was held back. */
  topic?: string;
}

export interface EnrollmentExplanation {
  journey: string;
  version: number;
  enrollmentId: string;
  workflowId: string;
  status: string;
  outcome: string | null;
  goalMet: boolean;
  startedAt: string;
  endedAt: string | null;
  currentStep: string | null;
  messages: MessageExplanation[];
}

export async function explainCustomer(
  db: Db,
  customerId: string,
  journeyId?: string,
): Promise<EnrollmentExplanation[]> {
  let q = db.selectFrom('enrollments').selectAll().where('customer_id', '=', customerId);
  if (journeyId) q = q.where('journey_id', '=', journeyId);
  const enrollments = await q.orderBy('started_at').execute();
  const timeline = await db
    .selectFrom('timeline')
    .select(['at', 'summary', 'data'])
    .where('customer_id', '=', customerId)
    .where('kind', '=', 'message')
    .orderBy('at')
    .orderBy('id')
    .execute();
  const out: EnrollmentExplanation[] = [];
  for (const e of enrollments) {
    const version = await db
      .selectFrom('journey_versions')
      .select('definition')
      .where('journey_id', '=', e.journey_id)
      .where('version', '=', e.version)
      .executeTakeFirst();
    const plan = version?.definition as JourneyPlan | undefined;
    const sends: { id: string; channel: string }[] = [];
    if (plan)
      walk(plan.definition.steps, ['steps'], (s) => s.type === 'send' && sends.push({ id: s.id, channel: s.channel }));
    const mine = timeline.filter((t) => {
      const d = t.data as { journey?: string };
      return d.journey === e.journey_id && t.at >= e.started_at && (!e.ended_at || t.at <= e.ended_at);
    });
    const messages = sends.map((s): MessageExplanation => {
      const entries = mine.filter((t) => (t.data as { step?: string }).step === s.id);
      const last = entries[entries.length - 1];
      if (!last) {
        return {
          step: s.id,
          channel: s.channel,
          outcome: e.status === 'active' ? 'not reached yet' : 'not on the path taken',
          at: null,
          why:
            e.status === 'active'
              ? 'the customer has not got there yet'
              : `the enrollment ended (${e.outcome ?? e.status}) without reaching this step`,
        };
      }
      const d = last.data as {
        status?: string;
        reason?: string;
        channel?: string;
        subject?: string;
        until?: string;
        channelRule?: string;
        topic?: string;
      };
      const status = (d.status ?? 'sent') as MessageExplanation['outcome'];
      // A `preferred` send says which rule chose its channel: stated, learned, or the default order.
      const why =
        status === 'sent'
          ? `sent by ${d.channel ?? s.channel}${d.channelRule ? ` (${d.channelRule})` : ''}${d.subject ? `: "${d.subject}"` : ''}`
          : status === 'deferred'
            ? `held until ${d.until ?? '?'}: ${d.reason ?? ''}`
            : (d.reason ?? last.summary);
      return {
        step: s.id,
        channel: d.channel ?? s.channel,
        outcome: status,
        at: last.at.toISOString(),
        why,
        ...(d.topic ? { topic: d.topic } : {}),
      };
    });
    out.push({
      journey: e.journey_id,
      version: e.version,
      enrollmentId: e.id,
      workflowId: e.workflow_id,
      status: e.status,
      outcome: e.outcome,
      goalMet: e.goal_met,
      startedAt: e.started_at.toISOString(),
      endedAt: e.ended_at?.toISOString() ?? null,
      currentStep: e.status === 'active' ? e.current_step : null,
      messages,
    });
  }
  return out;
}
