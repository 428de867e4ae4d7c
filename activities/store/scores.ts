/**
 * Lead scores as events are accepted: the scoring file's rules (definitions/scoring.ts) applied to
 * the customer in the transaction that accepts the event, so each event scores exactly once (an
 * event id is accepted once; a replay writes nothing). The score is decayed to now, the points
 * added, the cap applied, and the result stored with its time in one update; the change goes on the
 * timeline.
 *
 * Event points decay from when the event occurred: an event sent late (an import of past activity)
 * adds what its points are worth now. Attribute rules are looked at after each event of the
 * customer until they have counted: each adds its points once, the first time its condition holds,
 * and never again (the customer's record keeps which have counted).
 */
import { CelEvaluationError, evaluateCondition } from '../../definitions/cel';
import type { CustomerFacts, CustomerMetrics, Facts } from '../../definitions/facts';
import { decayed, type Scoring, scoreNow } from '../../definitions/scoring';
import type { Db } from '../db/database';
import type { CustomerRow } from '../db/schema';
import { toCustomerView } from './customers';
import { customerFacts } from './facts';
import { appendTimeline } from './timeline';

/** The event whose acceptance moves a customer's lifecycle stage (activities/store/orders.ts). */
const ORDER_PLACED = 'order.placed';

interface ScoredEvent {
  id: string;
  type: string;
  occurredAt: Date;
  data: Record<string, unknown>;
}

/** What an event did to a customer's score. */
export interface ScoreChange {
  from: number;
  to: number;
  rules: { rule: string; points: number }[];
}

function holds(expression: string, place: 'trigger' | 'segment', facts: Facts): boolean {
  try {
    return evaluateCondition(expression, place, facts);
  } catch (err) {
    // A condition the customer cannot answer (an attribute they lack) does not hold.
    if (err instanceof CelEvaluationError) return false;
    throw err;
  }
}

/**
 * Whether a condition reads more than the customer's record (their consent, order metrics,
 * predictions, account, RFM scores or learned channel, each a query). Most scoring conditions read attributes and tags only; those are
 * answered from the record the event already has, with no query.
 */
function readsRecords(expression: string): boolean {
  return /\b(consent|metrics|predicted|account|rfm|learnedChannel)\b/.test(expression);
}

const NO_METRICS: CustomerMetrics = {
  orderCount: 0,
  lifetimeValue: 0,
  firstOrderAt: null,
  lastOrderAt: null,
  categories: [],
  recommendedCategory: null,
};

/** The customer's facts from their record alone, for conditions that read nothing else. */
function profileFacts(row: CustomerRow, now: Date): CustomerFacts {
  const { createdAt: _created, updatedAt: _updated, ...view } = toCustomerView(row);
  return { ...view, consent: {}, metrics: NO_METRICS, score: scoreNow(row, now) };
}

function formatPoints(points: number): string {
  const shown = String(Math.round(points * 100) / 100);
  return points >= 0 ? `+${shown}` : shown;
}

/**
 * Scores an accepted event for its customer (`customer` as the event left their record), within the
 * event's transaction. No query when no rule concerns the event; the customer's facts are read only
 * when a condition needs them. Returns the change, or undefined when nothing changed (no rule
 * matched, or this event was scored before).
 */
export async function scoreEvent(
  db: Db,
  scoring: Scoring,
  customer: CustomerRow,
  event: ScoredEvent,
  now = new Date(),
): Promise<ScoreChange | undefined> {
  const eventRules = scoring.byEvent.get(event.type) ?? [];
  const counted = new Set(customer.scored_rules);
  const attributeRules = scoring.attributeRules.filter((r) => !counted.has(r.key));
  if (eventRules.length === 0 && attributeRules.length === 0) return undefined;

  let facts: Facts | undefined;
  const conditions = [...eventRules.map((r) => r.when), ...attributeRules.map((r) => r.when)].filter(
    (w) => w !== undefined,
  );
  if (conditions.length > 0) {
    // An order moves the customer's stage after `customer` was read: read again for its conditions.
    const row =
      event.type === ORDER_PLACED
        ? await db.selectFrom('customers').selectAll().where('id', '=', customer.id).executeTakeFirstOrThrow()
        : customer;
    facts = {
      customer: conditions.some(readsRecords) ? await customerFacts(db, row, now) : profileFacts(row, now),
      event: { id: event.id, type: event.type, occurredAt: event.occurredAt.toISOString(), data: event.data },
      now: now.toISOString(),
    };
  }
  const applied: ScoreChange['rules'] = [];
  for (const rule of eventRules) {
    if (rule.when !== undefined && !holds(rule.when, 'trigger', facts!)) continue;
    applied.push({ rule: rule.label, points: decayed(rule.points, event.occurredAt, now, scoring.halfLifeMs) });
  }
  const holding = attributeRules.filter((rule) => holds(rule.when, 'segment', facts!));
  if (applied.length === 0 && holding.length === 0) return undefined;

  // The score is read again, locked, to add to: another event of the customer accepted at the same
  // moment adds its points after these, and an attribute rule it counted first is not counted again.
  const stored = await db
    .selectFrom('customers')
    .select(['score', 'score_at', 'score_half_life_s', 'scored_rules'])
    .where('id', '=', customer.id)
    .forUpdate()
    .executeTakeFirstOrThrow();
  const countedBefore = new Set(stored.scored_rules);
  const nowCounted = holding.filter((rule) => !countedBefore.has(rule.key));
  for (const rule of nowCounted) applied.push({ rule: rule.label, points: rule.points });
  if (applied.length === 0) return undefined;

  const exact = scoreNow(stored, now, { round: false });
  const added = applied.reduce((sum, a) => sum + a.points, 0);
  const to = Math.min(scoring.cap, Math.max(0, exact + added));
  const change: ScoreChange = { from: scoreNow(stored, now), to: Math.round(to * 100) / 100, rules: applied };
  const written = await appendTimeline(db, {
    customerId: customer.id,
    at: event.occurredAt,
    kind: 'change',
    summary: `score ${Math.round(change.from)} → ${Math.round(change.to)} (${applied
      .map((a) => `${a.rule} ${formatPoints(a.points)}`)
      .join(', ')})`,
    ref: `score:${event.id}`,
    data: {
      eventId: event.id,
      score: { from: change.from, to: change.to },
      rules: applied.map((a) => ({ rule: a.rule, points: Math.round(a.points * 100) / 100 })),
    },
  });
  // Written before: this event has been scored.
  if (!written) return undefined;
  await db
    .updateTable('customers')
    .set({
      score: to,
      score_at: now,
      score_half_life_s: scoring.halfLifeMs === undefined ? null : scoring.halfLifeMs / 1000,
      ...(nowCounted.length > 0
        ? { scored_rules: JSON.stringify([...countedBefore, ...nowCounted.map((r) => r.key)]) }
        : {}),
    })
    .where('id', '=', customer.id)
    .execute();
  return change;
}
