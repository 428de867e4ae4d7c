/**
 * Event intake: an event is accepted durably (customer found or created, event and timeline entry
 * written in one transaction) before it is routed; an event id seen before has no second effect.
 * Routing enrolls the customer in every active journey whose trigger matches.
 */
import { createHash } from 'node:crypto';
import {
  type Client,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
} from '@temporalio/client';
import type { Logger } from 'pino';
import type { Selectable } from 'kysely';
import type { Db } from '../../activities/db/database';
import type { EventsTable } from '../../activities/db/schema';
import type { CustomerFacts } from '../../definitions/facts';
import { newId } from '../../activities/store/ids';
import { pool } from '../pool';
import { latestVersionNumbers } from '../../activities/store/journeys';
import { versionPlan } from '../../activities/store/versions';
import { upsertCustomer } from '../../activities/store/customers';
import { appendTimeline } from '../../activities/store/timeline';
import { customerFacts } from '../../activities/store/facts';
import { orderData, recordOrder } from '../../activities/store/orders';
import { recordConsent } from '../../activities/store/consent';
import { CelEvaluationError, evaluateCondition } from '../../definitions/cel';
import { durationMs } from '../../definitions/duration';
import type { JourneyPlan } from '../../definitions/schema/journey';
import { SA_CUSTOMER, SA_JOURNEY, SA_STEP, SA_VERSION, journeyWorkflowId } from '../../definitions/search-attributes';
import type { EventSignal, JourneyInput } from '../../workflows/types';
import { settleMerges } from './enrollments';
import type { EventReceipt, ParsedEvent } from './schema';
import { scheduledEventType, type ScheduledEnroll } from '../../activities/segments';

export class IntakeError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 422,
    message: string,
    readonly path?: string,
  ) {
    super(message);
    this.name = 'IntakeError';
  }
}

class LostRace extends Error {}

/** Rounds an acceptance may take when it keeps meeting concurrent writes of the same customer. */
const MAX_ACCEPT_ATTEMPTS = 5;

/**
 * A write that lost to a concurrent one and may simply be tried again: a unique key taken a moment
 * ago (two events creating one new customer), a serialization failure or a deadlock (PostgreSQL).
 */
function isRace(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === '40001' || code === '40P01';
}

/** An accepted event's receipt, and whether it answers a replay of an earlier request. */
export interface Accepted {
  receipt: EventReceipt;
  replayed: boolean;
}

/** What became of one event of a batch. */
export type BatchResult = ({ ok: true } & Accepted) | { ok: false; error: unknown };

/** Events of a batch routed at once (each a few queries and a Temporal call). */
const ROUTING_CONCURRENCY = 8;

/** What routing reads of an accepted event. */
type RoutedEvent = Pick<Selectable<EventsTable>, 'id' | 'customer_id' | 'type' | 'occurred_at' | 'data'>;

export interface IntakeDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  logger: Logger;
}

function requestHash(event: ParsedEvent): string {
  const { id: _id, ...rest } = event;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

/** Runs tasks for one key one after another, in the order they were queued. */
class KeyedQueue {
  private tails = new Map<string, Promise<unknown>>();
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(task, task);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

export class EventIntake {
  private readonly perCustomer = new KeyedQueue();

  constructor(private readonly deps: IntakeDeps) {}

  /**
   * Accepts one event. Returns the receipt, and whether it replays an earlier answer.
   * Throws IntakeError for events that cannot be accepted.
   */
  async accept(event: ParsedEvent, idempotencyKey?: string): Promise<Accepted> {
    return (await this.admit(event, idempotencyKey))();
  }

  /**
   * Accepts a batch: each event durably, in order, then routes them several at a time; one
   * customer's events are still routed in their order. Each event's result or error, by index.
   */
  async acceptMany(events: ParsedEvent[]): Promise<BatchResult[]> {
    const results: BatchResult[] = [];
    const routes: ((() => Promise<Accepted>) | undefined)[] = events.map(() => undefined);
    for (const [i, event] of events.entries()) {
      try {
        routes[i] = await this.admit(event);
      } catch (error) {
        results[i] = { ok: false, error };
      }
    }
    await pool(routes, ROUTING_CONCURRENCY, async (route, i) => {
      if (!route) return;
      results[i] = await route().then(
        (r): BatchResult => ({ ok: true, ...r }),
        (error: unknown): BatchResult => ({ ok: false, error }),
      );
    });
    return results;
  }

  /** Accepts an event durably; what it returns routes it (or answers a replay). */
  private async admit(event: ParsedEvent, idempotencyKey?: string): Promise<() => Promise<Accepted>> {
    const id = event.id ?? idempotencyKey;
    if (!id) throw new IntakeError(400, 'an event needs an "id" field or an Idempotency-Key header', 'id');
    if (event.id && idempotencyKey && event.id !== idempotencyKey) {
      throw new IntakeError(
        400,
        `the Idempotency-Key header (${idempotencyKey}) differs from the event id (${event.id})`,
        'id',
      );
    }
    if (event.type === 'order.placed') {
      const order = orderData.safeParse(event.data);
      if (!order.success) {
        const issue = order.error.issues[0]!;
        throw new IntakeError(422, `order.placed: ${issue.message}`, `data.${issue.path.map(String).join('.')}`);
      }
    }
    const hash = requestHash(event);
    const { db } = this.deps;

    for (let attempt = 1; ; attempt++) {
      const prior = await db
        .selectFrom('events')
        .select(['request_hash', 'result', 'routed_at'])
        .where('id', '=', id)
        .executeTakeFirst();
      if (prior) return () => this.replay(id, hash, prior);
      try {
        const { accepted, merged } = await this.write(id, hash, event);
        return async () => {
          // Records this event merged may have brought two enrollments in one journey together: one
          // stays before the event is routed to it.
          if (merged) await this.settleMerges([accepted.customer_id]);
          return { receipt: await this.route(id, accepted), replayed: false };
        };
      } catch (err) {
        // Another request with the same id committed first: the next round reads it and answers as it did.
        if (err instanceof LostRace) continue;
        if (err instanceof Error && err.name === 'CustomerNotFoundError')
          throw new IntakeError(404, err.message, 'customer.id');
        // Another event created the same new customer at the same instant: the next round finds them.
        if (attempt < MAX_ACCEPT_ATTEMPTS && isRace(err)) continue;
        throw err;
      }
    }
  }

  /** Writes an accepted event in one transaction: its customer, the event, order, consent and timeline. */
  private async write(
    id: string,
    hash: string,
    event: ParsedEvent,
  ): Promise<{ accepted: RoutedEvent; merged: boolean }> {
    return this.deps.db.transaction().execute(async (tx) => {
      const { customer, merged } = await upsertCustomer(tx, event.customer, event.profile ?? {});
      const inserted = await tx
        .insertInto('events')
        .values({
          id,
          customer_id: customer.id,
          type: event.type,
          occurred_at: event.occurredAt ?? new Date(),
          data: JSON.stringify(event.data),
          request_hash: hash,
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .returning(['id', 'occurred_at'])
        .executeTakeFirst();
      // Another request with the same id won the race: roll back, and answer as it did.
      if (!inserted) throw new LostRace();
      if (event.type === 'order.placed') await recordOrder(tx, customer.id, id, event.data, event.occurredAt);
      if (event.profile?.consent) {
        await recordConsent(tx, customer.id, event.profile.consent, {
          method: 'api',
          source: `event:${id}`,
          at: event.occurredAt ?? new Date(),
          details: { eventId: id, type: event.type },
        });
      }
      await appendTimeline(tx, {
        customerId: customer.id,
        at: event.occurredAt ?? new Date(),
        kind: 'event',
        summary: `event ${event.type}`,
        ref: id,
        data: { eventId: id, type: event.type, data: event.data },
      });
      const accepted = {
        id,
        customer_id: customer.id,
        type: event.type,
        occurred_at: inserted.occurred_at,
        data: event.data,
      };
      return { accepted, merged: merged.length > 0 };
    });
  }

  private async replay(
    id: string,
    hash: string,
    prior: { request_hash: string; result: unknown; routed_at: Date | null },
  ): Promise<Accepted> {
    if (prior.request_hash !== hash) {
      throw new IntakeError(
        409,
        `event ${id} was already accepted with different content; use a new id for a new event`,
        'id',
      );
    }
    if (prior.routed_at && prior.result) return { receipt: prior.result as EventReceipt, replayed: true };
    // Accepted earlier but not routed (a crash in between): route it now.
    return { receipt: await this.route(id), replayed: true };
  }

  /**
   * Routes an accepted event: enrollments and signals. Safe to repeat for the same event. `known` is
   * the event as just accepted, which spares reading it back.
   */
  async route(eventId: string, known?: RoutedEvent): Promise<EventReceipt> {
    const { db } = this.deps;
    const event =
      known ??
      (await db
        .selectFrom('events')
        .select(['id', 'customer_id', 'type', 'occurred_at', 'data'])
        .where('id', '=', eventId)
        .executeTakeFirstOrThrow());
    return this.perCustomer.run(event.customer_id, async () => {
      const current = await db
        .selectFrom('events')
        .select(['result', 'routed_at'])
        .where('id', '=', eventId)
        .executeTakeFirstOrThrow();
      if (current.routed_at && current.result) return current.result as EventReceipt;
      const receipt: EventReceipt = {
        eventId,
        customerId: event.customer_id,
        enrolled: [],
        signalled: [],
        notEnrolled: [],
      };
      const journeyEvent = {
        id: event.id,
        type: event.type,
        occurredAt: event.occurred_at.toISOString(),
        data: event.data,
      };
      // The customer's facts (record, consent, metrics) are read once, and only when a condition or
      // a running journey needs them.
      let facts: Promise<CustomerFacts> | undefined;
      const customerNow = () =>
        (facts ??= db
          .selectFrom('customers')
          .selectAll()
          .where('id', '=', event.customer_id)
          .executeTakeFirstOrThrow()
          .then((row) => customerFacts(db, row)));

      // Running journeys of this customer that listen for this event type receive it first, so an
      // event that ends one journey (a goal, an exit) is seen before it starts another.
      const running = await db
        .selectFrom('enrollments')
        .select(['id', 'journey_id', 'version', 'workflow_id', 'event_id'])
        .where('customer_id', '=', event.customer_id)
        .where('status', '=', 'active')
        .execute();
      for (const enrollment of running) {
        // An enrollment this very event started (routing repeated after a crash) does not get it again.
        if (enrollment.event_id === event.id) continue;
        const plan = await this.planOf(enrollment.journey_id, enrollment.version);
        if (!listensTo(plan, event.type)) continue;
        const signal: EventSignal = { event: journeyEvent, customer: await customerNow() };
        try {
          await this.deps.temporal.workflow.getHandle(enrollment.workflow_id).signal('journeyEvent', signal);
          receipt.signalled.push({ journey: enrollment.journey_id, workflowId: enrollment.workflow_id });
        } catch (err) {
          // The workflow ended between the read and the signal: nothing is listening any more.
          // Anything else (Temporal unreachable) leaves the event unrouted, to be routed again.
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          this.deps.logger.debug({ workflowId: enrollment.workflow_id }, 'signal not delivered: the journey has ended');
        }
      }

      for (const latest of await latestVersionNumbers(db)) {
        const published = { ...latest, plan: await this.planOf(latest.journeyId, latest.version) };
        const def = published.plan.definition;
        // A scheduled journey enrolls by the events of its runs (see activities/segments.ts).
        if ((def.trigger.event ?? scheduledEventType(def.journey)) !== event.type) continue;
        const journey = def.journey;
        if (published.status === 'paused') {
          receipt.notEnrolled.push({ journey, reason: 'journey is paused' });
          continue;
        }

        // This customer's enrollments in the journey, newest first: the one this event started, if
        // routing is repeated, and the earlier ones the reentry rule reads.
        const earlier = await db
          .selectFrom('enrollments')
          .select(['id', 'version', 'event_id', 'status', 'ended_at', 'workflow_id'])
          .where('customer_id', '=', event.customer_id)
          .where('journey_id', '=', journey)
          .orderBy('started_at', 'desc')
          .execute();
        let enrollment: { id: string; version: number; workflow_id: string } | undefined = earlier.find(
          (e) => e.event_id === event.id,
        );
        if (!enrollment) {
          if (def.trigger.when) {
            let holds = false;
            try {
              holds = evaluateCondition(def.trigger.when, 'trigger', {
                customer: await customerNow(),
                event: journeyEvent,
                now: new Date().toISOString(),
              });
            } catch (err) {
              if (!(err instanceof CelEvaluationError)) throw err;
              receipt.notEnrolled.push({ journey, reason: `trigger condition failed: ${err.message}` });
              continue;
            }
            if (!holds) {
              receipt.notEnrolled.push({ journey, reason: 'trigger condition does not hold' });
              continue;
            }
          }
          // A concurrent journey enrolls the customer again while earlier enrollments run.
          if (!def.entry?.concurrent && earlier.some((e) => e.status === 'active')) {
            receipt.notEnrolled.push({ journey, reason: 'already in this journey' });
            continue;
          }
          const refusal = reentryRefusal(def.entry?.reentry ?? 'never', earlier);
          if (refusal) {
            receipt.notEnrolled.push({ journey, reason: refusal });
            continue;
          }
          const id = newId('enr');
          const workflowId = journeyWorkflowId(journey, event.customer_id, def.entry?.concurrent ? id : undefined);
          const inserted = await db
            .insertInto('enrollments')
            .values({
              id,
              customer_id: event.customer_id,
              journey_id: journey,
              version: published.version,
              workflow_id: workflowId,
              event_id: event.id,
              status: 'active',
              current_step: def.steps[0]?.id ?? null,
              goal_met: false,
            })
            .onConflict((oc) => oc.doNothing())
            .returning(['id', 'version', 'workflow_id'])
            .executeTakeFirst();
          if (!inserted) {
            receipt.notEnrolled.push({ journey, reason: 'already in this journey' });
            continue;
          }
          enrollment = inserted;
          await appendTimeline(db, {
            customerId: event.customer_id,
            at: new Date(),
            kind: 'enrollment',
            summary: `entered journey ${journey} (version ${published.version})`,
            ref: `start:${id}`,
            data: { journey, version: published.version, enrollment: id, eventId: event.id },
          });
        }
        const { version, workflow_id: workflowId } = enrollment;
        const plan = version === published.version ? published.plan : await this.planOf(journey, version);
        const input: JourneyInput = {
          plan,
          version,
          customerId: event.customer_id,
          enrollmentId: enrollment.id,
          event: journeyEvent,
        };
        await this.deps.temporal.workflow.start('journeyWorkflow', {
          taskQueue: this.deps.taskQueue,
          workflowId,
          args: [input],
          // A repeated routing of the same event finds the workflow it started.
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
          typedSearchAttributes: [
            { key: SA_JOURNEY, value: journey },
            { key: SA_VERSION, value: version },
            { key: SA_CUSTOMER, value: event.customer_id },
            { key: SA_STEP, value: def.steps[0]?.id ?? 'start' },
          ],
        });
        receipt.enrolled.push({ journey, version, workflowId, enrollmentId: enrollment.id });
      }
      await db
        .updateTable('events')
        .set({ routed_at: new Date(), result: JSON.stringify(receipt) })
        .where('id', '=', eventId)
        .execute();
      this.deps.logger.info(
        { eventId, type: event.type, customerId: event.customer_id, enrolled: receipt.enrolled.map((e) => e.journey) },
        'event routed',
      );
      return receipt;
    });
  }

  private readonly plans = new Map<string, JourneyPlan>();

  /** A published version's plan; versions never change, so they are kept once read. */
  private async planOf(journeyId: string, version: number): Promise<JourneyPlan> {
    const key = `${journeyId}@${version}`;
    let plan = this.plans.get(key);
    if (!plan) {
      plan = await versionPlan(this.deps.db, journeyId, version);
      if (!plan) throw new Error(`journey ${journeyId} has no version ${version}`);
      this.plans.set(key, plan);
    }
    return plan;
  }

  /** Enrolls a customer for a scheduled run of a journey; true when they were enrolled. */
  readonly enrollScheduled: ScheduledEnroll = async (e) => {
    const { receipt } = await this.accept({ id: e.id, type: e.type, customer: { id: e.customerId }, data: {} });
    return receipt.enrolled.length > 0;
  };

  /**
   * Settles enrollments brought together by merged records (all pending merges, or these customers'):
   * one per journey stays. Returns the enrollments cancelled.
   */
  settleMerges(customerIds?: string[]): Promise<string[]> {
    return settleMerges({ ...this.deps, planOf: (j, v) => this.planOf(j, v) }, customerIds);
  }

  /** Routes events accepted before a crash or a Temporal outage, after settling pending merges. Returns how many it routed. */
  async routePending(): Promise<number> {
    await this.settleMerges();
    const pending = await this.deps.db
      .selectFrom('events')
      .select('id')
      .where('routed_at', 'is', null)
      .orderBy('received_at')
      .limit(1000)
      .execute();
    for (const { id } of pending) await this.route(id);
    return pending.length;
  }
}

/** Whether a journey's running enrollments want events of this type. */
export function listensTo(plan: JourneyPlan, type: string): boolean {
  const def = plan.definition;
  if (def.goal?.event === type || def.exit?.events.includes(type)) return true;
  let found = false;
  const visit = (steps: readonly unknown[]) => {
    for (const s of steps as Record<string, unknown>[]) {
      if (s.type === 'wait_for' && s.event === type) found = true;
      for (const value of Object.values(s)) {
        if (Array.isArray(value)) visit(value);
        else if (value && typeof value === 'object') visit(Object.values(value).filter(Array.isArray).flat());
      }
    }
  };
  visit(def.steps);
  return found;
}

/** Why the reentry rule keeps the customer out, or undefined when it lets them in. */
function reentryRefusal(rule: string, earlier: { ended_at: Date | null }[]): string | undefined {
  if (earlier.length === 0 || rule === 'always') return undefined;
  if (rule === 'never') return 'enrolled before (reentry: never)';
  const wait = durationMs(rule.slice('after '.length));
  const lastEnd = earlier[0]?.ended_at?.getTime() ?? Date.now();
  return Date.now() - lastEnd >= wait
    ? undefined
    : `enrolled before; reentry allowed ${rule} the last enrollment ended`;
}
