/**
 * Whether an event enrolls a customer in a journey whose trigger it matches: the one decision routing
 * makes per journey, pure (no database, no Temporal), so every rule is tested on its own
 * (test/unit/decide.test.ts). Routing reads what it needs, asks, and acts on the answer.
 */
import { createHash } from 'node:crypto';
import { CelEvaluationError, evaluateCondition, evaluateKey } from '../../../definitions/cel';
import type { CustomerFacts } from '../../../definitions/facts';
import { durationMs } from '../../../definitions/duration';
import type { JourneyEvent } from '../../../definitions/events';
import type { JourneyDefinition } from '../../../definitions/schema/journey';

/** A customer's earlier enrollment in the journey, as routing reads it. */
export interface PriorEnrollment {
  /** The event that started it. */
  event_id: string | null;
  status: string;
  ended_at: Date | null;
}

export interface EnrollmentQuestion<E extends PriorEnrollment> {
  def: JourneyDefinition;
  /** A paused journey takes no new enrollments. */
  paused: boolean;
  event: JourneyEvent & { id: string };
  /** The customer's enrollments in this journey, newest first. */
  earlier: E[];
  /** The customer as now, for the trigger's `when` (needed only when it has one). */
  customer?: CustomerFacts | undefined;
  now: Date;
}

export type EnrollmentDecision<E> =
  /** This event enrolled the customer before (routing repeated after a crash): carry on with it. */
  { action: 'resume'; enrollment: E } | { action: 'enroll' } | { action: 'refuse'; reason: string };

export function decideEnrollment<E extends PriorEnrollment>(q: EnrollmentQuestion<E>): EnrollmentDecision<E> {
  const own = q.earlier.find((e) => e.event_id === q.event.id);
  if (own) return { action: 'resume', enrollment: own };
  if (q.paused) return { action: 'refuse', reason: 'journey is paused' };
  const when = q.def.trigger.when;
  if (when) {
    if (!q.customer) throw new Error(`the trigger of ${q.def.journey} reads the customer, who was not given`);
    try {
      const holds = evaluateCondition(when, 'trigger', {
        customer: q.customer,
        event: q.event,
        now: q.now.toISOString(),
      });
      if (!holds) return { action: 'refuse', reason: 'trigger condition does not hold' };
    } catch (err) {
      if (!(err instanceof CelEvaluationError)) throw err;
      return { action: 'refuse', reason: `trigger condition failed: ${err.message}` };
    }
  }
  // One active enrollment per customer and journey, unless the journey enrolls concurrently.
  if (!q.def.entry?.concurrent && q.earlier.some((e) => e.status === 'active')) {
    return { action: 'refuse', reason: 'already in this journey' };
  }
  const refusal = reentryRefusal(q.def.entry?.reentry ?? 'never', q.earlier, q.now.getTime());
  return refusal ? { action: 'refuse', reason: refusal } : { action: 'enroll' };
}

/** Why the reentry rule keeps the customer out, or undefined when it lets them in. */
function reentryRefusal(rule: string, earlier: PriorEnrollment[], now: number): string | undefined {
  if (earlier.length === 0 || rule === 'always') return undefined;
  if (rule === 'never') return 'enrolled before (reentry: never)';
  const wait = durationMs(rule.slice('after '.length));
  // Still running (a concurrent journey's): counted from now, so it waits the whole time.
  const lastEnd = earlier[0]?.ended_at?.getTime() ?? now;
  return now - lastEnd >= wait ? undefined : `enrolled before; reentry allowed ${rule} the last enrollment ended`;
}

/**
 * The key an event gives a keyed journey (`entry.key`): `{ key }`, or why it enrolls nobody. A journey
 * without a key gives `{}`.
 */
export function enrollmentKey(def: JourneyDefinition, event: JourneyEvent): { key?: string } | { refuse: string } {
  const expression = def.entry?.key;
  if (expression === undefined) return {};
  const key = evaluateKey(expression, event);
  return key === undefined ? { refuse: `the event gives no key (${expression})` } : { key };
}

/**
 * The part of a keyed enrollment's workflow id that names its key: a hash, because the key is the
 * caller's data (a cart id, an order number) and workflow ids are shown in clear by Temporal.
 */
export function keyPart(journeyId: string, key: string): string {
  return `k${createHash('sha256').update(`${journeyId}\0${key}`).digest('hex').slice(0, 20)}`;
}
