/**
 * Segments and lifecycle stages that follow the customer as they change.
 *
 * A journey with `trigger: { segment, on: enter }` enrolls a customer the moment their facts come to
 * match its segment. The segment is evaluated for the customer who changed: after each of their
 * events is routed (an order is an event), after their profile is updated through the API or by a
 * journey's update step, and for everyone when the customer value models are refreshed (their
 * predictions change for all). Nobody is rescanned on an event. Each entry and each exit is accepted
 * as an event of the customer (`segment.<journey>.entered`, `segment.<journey>.left`), so it is on
 * their timeline, enrolls through the router like any trigger, and ends enrollments whose journey
 * says `exit: { segment: leave }`. The n-th change of a customer's membership is the event
 * `segment:<journey>:<customer>:<n>`: checks that run twice at once, or again after a crash, accept it
 * once.
 *
 * Lifecycle: a customer who ordered becomes `lapsed` when the models' chance that they are still
 * active falls below a threshold (RAPPORT_LAPSE_BELOW). That chance falls with time, not with events,
 * so it is looked at when the models are refreshed (nightly, and after a fit); an order brings the
 * customer back at once (activities/store/orders.ts). Lapsing is written on the timeline and accepted
 * as the event `customer.lapsed`, which journeys can trigger on.
 */
import type { Logger } from 'pino';
import type { Db } from './db/database';
import { CelEvaluationError, evaluateCondition } from '../definitions/cel';
import type { CustomerFacts } from '../definitions/facts';
import { entersOnSegment, LAPSED_EVENT, segmentEnteredType, segmentLeftType } from '../definitions/triggers';
import { customerFacts } from './store/facts';
import { latestVersionNumbers, type PublishedVersionNumber } from './store/journeys';
import { appendTimeline } from './store/timeline';
import type { JourneyPlan } from '../definitions/schema/journey';

/** Accepts an event the engine raises itself for a customer, and routes it. */
export type AcceptOwnEvent = (event: {
  id: string;
  type: string;
  customerId: string;
  data: Record<string, unknown>;
}) => Promise<void>;

export interface WatchCounts {
  customers: number;
  entered: number;
  left: number;
  lapsed: number;
}

export interface SegmentWatchDeps {
  db: Db;
  /** A published version's plan, from the router's store of them (versions never change). */
  planOf: (journeyId: string, version: number) => Promise<JourneyPlan>;
  accept: AcceptOwnEvent;
  /** A customer who ordered lapses when their chance of being active falls below this; 0: never. */
  lapseBelow: number;
  logger?: Logger | undefined;
}

interface WatchedSegment {
  journey: string;
  segment: string;
}

export type SegmentWatch = ReturnType<typeof createSegmentWatch>;

export function createSegmentWatch(deps: SegmentWatchDeps) {
  const { db } = deps;

  /** The segments of the active journeys that enroll on entry (of `versions` when routing read them). */
  async function watchedSegments(versions?: PublishedVersionNumber[]): Promise<WatchedSegment[]> {
    const watched: WatchedSegment[] = [];
    for (const v of versions ?? (await latestVersionNumbers(db))) {
      // A paused journey enrolls nobody: its segment is not followed until it resumes, and those who
      // came to match meanwhile enter at their next change (or the next refresh).
      if (v.status !== 'active') continue;
      const def = (await deps.planOf(v.journeyId, v.version)).definition;
      if (entersOnSegment(def)) watched.push({ journey: v.journeyId, segment: def.trigger.segment! });
    }
    return watched;
  }

  function matches(segment: string, customer: CustomerFacts, now: Date): boolean {
    try {
      return evaluateCondition(segment, 'segment', { customer, now: now.toISOString() });
    } catch (err) {
      // A customer the expression cannot read (an attribute they lack) is not in the segment.
      if (err instanceof CelEvaluationError) return false;
      throw err;
    }
  }

  /** A customer's facts now; undefined for a record merged into another (its survivor is followed). */
  async function currentFacts(customerId: string): Promise<CustomerFacts | undefined> {
    const row = await db
      .selectFrom('customers')
      .selectAll()
      .where('id', '=', customerId)
      .where('merged_into', 'is', null)
      .executeTakeFirst();
    return row ? customerFacts(db, row) : undefined;
  }

  /** Enters or leaves the segment as the facts say; what changed. */
  async function follow(w: WatchedSegment, customer: CustomerFacts, now: Date): Promise<'entered' | 'left' | null> {
    const inside = matches(w.segment, customer, now);
    const member = await db
      .selectFrom('segment_members')
      .select(['inside', 'changes'])
      .where('journey_id', '=', w.journey)
      .where('customer_id', '=', customer.id)
      .executeTakeFirst();
    if ((member?.inside ?? false) === inside) return null;
    const change = (member?.changes ?? 0) + 1;
    // The event first, under the change's own id: if this stops before the membership is written,
    // the next check makes the same change and its event is found already accepted.
    await deps.accept({
      id: `segment:${w.journey}:${customer.id}:${change}`,
      type: inside ? segmentEnteredType(w.journey) : segmentLeftType(w.journey),
      customerId: customer.id,
      data: { journey: w.journey, segment: w.segment },
    });
    if (member) {
      await db
        .updateTable('segment_members')
        .set({ inside, changes: change, changed_at: now })
        .where('journey_id', '=', w.journey)
        .where('customer_id', '=', customer.id)
        .where('changes', '=', change - 1)
        .execute();
    } else {
      await db
        .insertInto('segment_members')
        .values({ journey_id: w.journey, customer_id: customer.id, inside, changes: change, changed_at: now })
        .onConflict((oc) => oc.columns(['journey_id', 'customer_id']).doNothing())
        .execute();
    }
    return inside ? 'entered' : 'left';
  }

  /**
   * Lapses a customer who ordered and whose chance of being active fell below the threshold. The
   * stage and its timeline entry are written first, so the journeys the event starts read it; a
   * check that stopped before the event finds the stage set and accepts the event then.
   */
  async function lapseIfDrifted(customer: CustomerFacts, now: Date): Promise<boolean> {
    const predicted = customer.predicted;
    const lastOrderAt = customer.metrics.lastOrderAt;
    if (deps.lapseBelow <= 0 || !predicted || predicted.churnRisk === 'unknown' || !lastOrderAt) return false;
    const ordered = customer.lifecycleStage === 'new_customer' || customer.lifecycleStage === 'repeat_customer';
    if (!(ordered && predicted.pAlive < deps.lapseBelow) && customer.lifecycleStage !== 'lapsed') return false;
    // One lapse per last order: a customer who orders again and drifts away again lapses again.
    const id = `lapsed:${customer.id}:${lastOrderAt}`;
    if (ordered) {
      const changed = await db
        .updateTable('customers')
        .set({ lifecycle_stage: 'lapsed', updated_at: now })
        .where('id', '=', customer.id)
        .where('lifecycle_stage', '=', customer.lifecycleStage as 'new_customer' | 'repeat_customer')
        .executeTakeFirst();
      if (changed.numUpdatedRows === 0n) return false;
      await appendTimeline(db, {
        customerId: customer.id,
        at: now,
        kind: 'change',
        summary: `lifecycle stage ${customer.lifecycleStage} → lapsed (chance of being active ${predicted.pAlive.toFixed(2)}, below ${deps.lapseBelow})`,
        ref: id,
        data: { from: customer.lifecycleStage, to: 'lapsed', pAlive: predicted.pAlive, below: deps.lapseBelow },
      });
    } else if (await db.selectFrom('events').select('id').where('id', '=', id).executeTakeFirst()) {
      return false;
    }
    await deps.accept({
      id,
      type: LAPSED_EVENT,
      customerId: customer.id,
      data: { pAlive: predicted.pAlive, below: deps.lapseBelow, lastOrderAt },
    });
    return true;
  }

  /**
   * Follows one customer's segments (and, with `lapse`, their lifecycle stage) after they changed.
   * Without segment-entry journeys and without `lapse`, it reads nothing of the customer.
   */
  async function check(
    customerId: string,
    options: {
      lapse?: boolean;
      segments?: WatchedSegment[];
      now?: Date;
      /** The customer's facts as just read (by routing, after the change), which spares reading them again. */
      facts?: Promise<CustomerFacts>;
      /** The published versions as routing just read them. */
      versions?: PublishedVersionNumber[];
    } = {},
  ): Promise<WatchCounts> {
    const counts: WatchCounts = { customers: 1, entered: 0, left: 0, lapsed: 0 };
    const segments = options.segments ?? (await watchedSegments(options.versions));
    if (segments.length === 0 && !options.lapse) return counts;
    const now = options.now ?? new Date();
    let facts = options.facts ? await options.facts : await currentFacts(customerId);
    if (!facts) return counts;
    if (options.lapse && (await lapseIfDrifted(facts, now))) {
      counts.lapsed++;
      facts = { ...facts, lifecycleStage: 'lapsed' };
    }
    for (const w of segments) {
      const change = await follow(w, facts, now);
      if (change) counts[change]++;
    }
    return counts;
  }

  return {
    check,

    /**
     * Follows a page of customers after the models were refreshed: their segments and lifecycle
     * stages. Pages go by customer id; `next` is where the next one starts, null after the last.
     */
    async refreshPage(req: {
      after: string | null;
      limit: number;
      onProgress?: (done: number) => void;
    }): Promise<WatchCounts & { next: string | null }> {
      let q = db.selectFrom('customers').select('id').where('merged_into', 'is', null);
      if (req.after) q = q.where('id', '>', req.after);
      const rows = await q.orderBy('id').limit(req.limit).execute();
      const segments = await watchedSegments();
      const total: WatchCounts = { customers: 0, entered: 0, left: 0, lapsed: 0 };
      const now = new Date();
      for (const [i, { id }] of rows.entries()) {
        const c = await check(id, { lapse: true, segments, now });
        total.customers++;
        total.entered += c.entered;
        total.left += c.left;
        total.lapsed += c.lapsed;
        req.onProgress?.(i + 1);
      }
      return { ...total, next: rows.length === req.limit ? rows.at(-1)!.id : null };
    },
  };
}
