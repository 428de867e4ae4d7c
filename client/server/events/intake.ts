/**
 * Accepting events: an event is accepted durably (customer found or created, event and timeline
 * entry written in one transaction) before it is routed (router.ts); an event id seen before has no
 * second effect.
 */
import { createHash } from 'node:crypto';
import { type ControlledTransaction, sql, type Transaction } from 'kysely';
import { behindSavepoint, inOneCommit, UnguardedWriteFailed } from '../../../activities/db/database';
import type { Database } from '../../../activities/db/schema';
import { upsertCustomer } from '../../../activities/store/customers';
import { setCustomerAccount } from '../../../activities/store/accounts';
import { timelineInsert } from '../../../activities/store/timeline';
import { orderData, recordOrder } from '../../../activities/store/orders';
import { recordConsent } from '../../../activities/store/consent';
import { scoreEvent } from '../../../activities/store/scores';
import type { Scoring } from '../../../definitions/scoring';
import type { ScheduledEnroll } from '../../../activities/segments';
import { type AcceptOwnEvent, createSegmentWatch, type SegmentWatch } from '../../../activities/segment-watch';
import { pool } from './pool';
import {
  EventRouter,
  type RouterDeps,
  pendingReceipt,
  ROUTING_CONCURRENCY,
  routedReceipt,
  type RoutedEvent,
} from './router';
import type { EventReceipt, ParsedEvent } from './schema';

/**
 * How long a caller that asks to wait (`?wait=routed`, and the library's accept()) waits for its event
 * to be routed; the event is accepted either way.
 */
export const ROUTED_WAIT_MS = 10_000;
/** The longest wait a request may ask for with `Prefer: wait=<seconds>`. */
export const MAX_WAIT_MS = 60_000;

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

export interface IntakeDeps extends RouterDeps {
  /** A customer who ordered lapses when their chance of being active falls below this; 0: never. */
  lapseBelow?: number | undefined;
  /** The lead scoring rules (definitions/scoring.ts); without them, accepting an event scores nothing. */
  scoring?: Scoring | undefined;
}

function requestHash(event: ParsedEvent): string {
  const { id: _id, ...rest } = event;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

/** An event written in its transaction, and what to do once that has committed. */
interface Written {
  accepted: RoutedEvent;
  merged: boolean;
  /** Holds the new customer's data key in memory (only after the commit). */
  keyMade: (() => void) | undefined;
}

export class EventIntake {
  /** Routes what this intake accepts (and, started, everything accepted and not routed). */
  readonly router: EventRouter;
  /** Follows customers' segments and lifecycle stages as they change (activities/segment-watch.ts). */
  readonly segments: SegmentWatch;

  constructor(private readonly deps: IntakeDeps) {
    this.router = new EventRouter(deps);
    this.segments = createSegmentWatch({
      db: deps.db,
      planOf: (journeyId, version) => this.router.planOf(journeyId, version),
      accept: this.acceptOwn,
      lapseBelow: deps.lapseBelow ?? 0,
      logger: deps.logger,
    });
    this.router.onCustomerChanged((customerId, read) => this.segments.check(customerId, read));
  }

  /**
   * Accepts one event. Returns the receipt, and whether it replays an earlier answer.
   * Throws IntakeError for events that cannot be accepted.
   */
  async accept(event: ParsedEvent, idempotencyKey?: string, waitMs = ROUTED_WAIT_MS): Promise<Accepted> {
    return (await this.admit(event, idempotencyKey))(waitMs);
  }

  /**
   * Accepts a batch in one transaction, which commits once for all, then routes them several at a
   * time; one customer's events are still routed in their order. Each event's result or error, by
   * index. One refused event loses none of the others: the batch is written first as it is, and
   * when an event's write fails, written again with each event behind a savepoint (two statements
   * more per event, which a batch whose writes all succeed does without).
   */
  async acceptMany(events: ParsedEvent[], waitMs = ROUTED_WAIT_MS): Promise<BatchResult[]> {
    const { results, routes } = await inOneCommit(this.deps.db, (batch, guarded) =>
      this.writeBatch(batch, events, guarded),
    );
    await pool(routes, ROUTING_CONCURRENCY, async (route, i) => {
      if (!route) return;
      results[i] = await route(waitMs).then(
        (r): BatchResult => ({ ok: true, ...r }),
        (error: unknown): BatchResult => ({ ok: false, error }),
      );
    });
    return results;
  }

  /**
   * Writes a batch's events within its transaction (inOneCommit): each event's answer to come, once
   * committed, or its error. Unguarded (without savepoints), an event whose write fails throws
   * UnguardedWriteFailed, and the batch is written again, guarded.
   */
  private async writeBatch(
    batch: ControlledTransaction<Database>,
    events: ParsedEvent[],
    guarded: boolean,
  ): Promise<{ results: BatchResult[]; routes: (((waitMs: number) => Promise<Accepted>) | undefined)[] }> {
    const results: BatchResult[] = [];
    const routes: (((waitMs: number) => Promise<Accepted>) | undefined)[] = events.map(() => undefined);
    for (const [i, event] of events.entries()) {
      try {
        routes[i] = await this.admit(event, undefined, { tx: batch, guarded });
      } catch (error) {
        if (error instanceof UnguardedWriteFailed) throw error;
        results[i] = { ok: false, error };
      }
    }
    return { results, routes };
  }

  /**
   * Accepts an event durably (in its own transaction, or within a batch's, behind a savepoint when
   * `guarded`; unguarded, a failed write throws UnguardedWriteFailed); what it
   * returns answers: at once, or once routed when the caller waits (at most that long), or as the
   * first answer for a replay. The answer is asked for once the event is committed.
   */
  private async admit(
    event: ParsedEvent,
    idempotencyKey?: string,
    within?: { tx: ControlledTransaction<Database>; guarded: boolean },
  ): Promise<(waitMs: number) => Promise<Accepted>> {
    const batch = within?.tx;
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
    const db = batch ?? this.deps.db;

    for (let attempt = 1; ; attempt++) {
      // A new event is written straight away (its insert finds any earlier one with the same id); a
      // later round, after a failed write, first looks for the earlier one, to answer as it did.
      if (attempt > 1) {
        const prior = await db
          .selectFrom('events')
          .select(['request_hash', 'result', 'routed_at'])
          .where('id', '=', id)
          .executeTakeFirst();
        if (prior) return (waitMs) => this.replay(id, hash, prior, waitMs);
      }
      try {
        const { accepted, merged, keyMade } = !within
          ? await this.deps.db.transaction().execute((tx) => this.write(tx, id, hash, event))
          : within.guarded
            ? await behindSavepoint(within.tx, (tx) => this.write(tx, id, hash, event))
            : await this.write(within.tx, id, hash, event).catch((err: unknown) => {
                throw new UnguardedWriteFailed(err);
              });
        return async (waitMs) => {
          // Committed by now (the batch's closures run after its commit).
          keyMade?.();
          // Records this event merged may have brought two enrollments in one journey together: one
          // stays before the event is routed to it.
          if (merged)
            await this.router
              .settleMerges([accepted.customer_id])
              .catch((err: unknown) => this.router.routingFailed('settling merged enrollments', err));
          return { receipt: await this.routeWithin(id, accepted, waitMs), replayed: false };
        };
      } catch (err) {
        // Another request with the same id committed first: the next round reads it and answers as it did.
        if (err instanceof LostRace) continue;
        if (err instanceof Error && err.name === 'CustomerNotFoundError') {
          // A replay of an event whose customer has since gone (erased, say) still answers as before.
          if (attempt === 1) continue;
          throw new IntakeError(404, err.message, 'customer.id');
        }
        // Another event created the same new customer at the same instant: the next round finds them.
        if (attempt < MAX_ACCEPT_ATTEMPTS && isRace(err)) continue;
        throw err;
      }
    }
  }

  /** Writes an accepted event within the transaction `tx`: its customer, the event, order, consent and timeline. */
  private async write(tx: Transaction<Database>, id: string, hash: string, event: ParsedEvent): Promise<Written> {
    const upserted = await upsertCustomer(tx, event.customer, event.profile ?? {});
    const { created, merged } = upserted;
    // The account before the order: an order is the account's its customer has as it is placed.
    const account = event.account !== undefined ? event.account : event.profile?.account;
    const customer =
      account === undefined ? upserted.customer : await setCustomerAccount(tx, upserted.customer, account);
    // A new customer's data key is made with them, written with their event below: routing their
    // event then seals the journey's payloads without a statement (and a commit) of its own.
    const key = created ? this.deps.protection?.newKey(customer.id) : undefined;
    const at = event.occurredAt ?? new Date();
    const inserted = await tx
      // The event's line on the customer's timeline, written by the same statement. When another
      // request won the race for the id, the event is not written and this line is undone with the
      // rest (LostRace rolls the transaction, or the batch's savepoint, back).
      .with('entry', () =>
        timelineInsert(tx, {
          customerId: customer.id,
          at,
          kind: 'event',
          summary: `event ${event.type}`,
          ref: id,
          data: { eventId: id, type: event.type, data: event.data },
        }),
      )
      // A new customer's data key (for a customer known before, a CTE that writes nothing).
      .with('key', () => (key ? key.insert(tx) : tx.selectNoFrom(sql<null>`null`.as('none'))))
      .insertInto('events')
      .values({
        id,
        customer_id: customer.id,
        type: event.type,
        occurred_at: at,
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
        at,
        details: { eventId: id, type: event.type },
      });
    }
    // Scored here, in the event's transaction, so each accepted event scores once; after its order and
    // profile are written, so the rules' conditions read the customer as the event left them.
    if (this.deps.scoring) {
      await scoreEvent(tx, this.deps.scoring, customer, {
        id,
        type: event.type,
        occurredAt: inserted.occurred_at,
        data: event.data,
      });
    }
    const accepted = {
      id,
      customer_id: customer.id,
      type: event.type,
      occurred_at: inserted.occurred_at,
      data: event.data,
    };
    return { accepted, merged: merged.length > 0, keyMade: key?.held };
  }

  private async replay(
    id: string,
    hash: string,
    prior: { request_hash: string; result: unknown; routed_at: Date | null },
    waitMs: number,
  ): Promise<Accepted> {
    if (prior.request_hash !== hash) {
      throw new IntakeError(
        409,
        `event ${id} was already accepted with different content; use a new id for a new event`,
        'id',
      );
    }
    if (prior.routed_at && prior.result) return { receipt: routedReceipt(prior.result), replayed: true };
    // Accepted earlier and not routed yet (a crash in between, Temporal away, the router busy).
    const accepted = await this.deps.db
      .selectFrom('events')
      .select(['id', 'customer_id', 'type', 'occurred_at', 'data'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return { receipt: await this.routeWithin(id, accepted, waitMs), replayed: true };
  }

  /**
   * Accepts an event the engine raises itself (a segment entry, a lapse) and routes it before
   * answering, so what it enrolls has started when the change that caused it is answered.
   */
  private readonly acceptOwn: AcceptOwnEvent = async (e) => {
    await this.accept({ id: e.id, type: e.type, customer: { id: e.customerId }, data: e.data });
  };

  /** Enrolls a customer for a scheduled run of a journey; true when they were enrolled. */
  readonly enrollScheduled: ScheduledEnroll = async (e) => {
    const { receipt } = await this.accept({ id: e.id, type: e.type, customer: { id: e.customerId }, data: {} });
    return receipt.enrolled.length > 0;
  };

  /**
   * The answer for an accepted event. Without a wait, at once: the router (woken) routes it. With one,
   * routes it here and waits at most that long (not at all while Temporal was unreachable a moment
   * ago); the event is accepted either way, and routing goes on when the answer cannot wait for it.
   */
  private async routeWithin(eventId: string, known: RoutedEvent, waitMs: number): Promise<EventReceipt> {
    if (waitMs <= 0) {
      this.router.nudge();
      return pendingReceipt(eventId, known.customer_id, 'accepted');
    }
    if (this.router.temporalAway()) {
      return pendingReceipt(
        eventId,
        known.customer_id,
        'accepted',
        'Temporal unreachable a moment ago; the router routes it',
      );
    }
    const routing = this.router.routeOrDefer(eventId, known).catch((err: unknown) => {
      this.router.routingFailed('routing an accepted event', err);
      return pendingReceipt(eventId, known.customer_id, 'accepted', 'routing failed; the router tries again');
    });
    let timer: NodeJS.Timeout | undefined;
    const later = new Promise<EventReceipt>((resolve) => {
      timer = setTimeout(
        () =>
          resolve(
            pendingReceipt(
              eventId,
              known.customer_id,
              'accepted',
              `routing takes longer; see GET /v1/events/${eventId}`,
            ),
          ),
        waitMs,
      );
    });
    try {
      return await Promise.race([routing, later]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Settles enrollments brought together by merged records (router.ts). */
  settleMerges(customerIds?: string[]): Promise<string[]> {
    return this.router.settleMerges(customerIds);
  }

  /** Routes an accepted event, or records why it could not be, for the router to try again. */
  routeOrDefer(eventId: string): Promise<EventReceipt> {
    return this.router.routeOrDefer(eventId);
  }

  /** Routes the accepted events that are due, oldest first, each customer's in order. */
  routeDue(limit?: number): Promise<number> {
    return this.router.routeDue(limit);
  }

  /** Starts the router in the background; stop it before closing the database. */
  startRouting(everyMs?: number): { stop(): Promise<void> } {
    return this.router.startRouting(everyMs);
  }

  /** Routes a parked event again now. */
  retry(eventId: string): ReturnType<EventRouter['retry']> {
    return this.router.retry(eventId);
  }

  /** An event's receipt and status. */
  receipt(eventId: string): ReturnType<EventRouter['receipt']> {
    return this.router.receipt(eventId);
  }
}
