/**
 * Recent events with what became of them, newest first, paged by a cursor: the receipts' headlines
 * (status, type, ids, error, the journeys enrolled and signalled). Never the event's data, which may
 * hold what a customer wrote. And the router's backlog: how many events wait to be routed, and since
 * when.
 */
import type { Db } from '../../../activities/db/database';
import { receiptOfRow } from './router';
import type { EventReceipt } from './schema';

export type EventStatus = EventReceipt['status'];

export interface EventListItem {
  eventId: string;
  type: string;
  customerId: string;
  status: EventStatus;
  receivedAt: string;
  routedAt: string | null;
  attempts: number;
  /** Why an accepted or parked event is not routed (yet). */
  error?: string;
  /** Journeys the event enrolled the customer in. */
  enrolled: string[];
  /** Running journeys that received it. */
  signalled: string[];
  /** How many journeys' triggers matched without enrolling (the event's receipt says why). */
  notEnrolled: number;
}

export interface EventPage {
  events: EventListItem[];
  /** The cursor of the next (older) page, or null at the last one. */
  next: string | null;
}

export const EVENT_PAGE_MAX = 200;

/** What the router has still to do, across every Rapport process: GET /v1/routing. */
export interface RoutingBacklog {
  /** Accepted events due to be routed now. */
  waiting: number;
  /** Accepted events whose routing failed, waiting for their next try. */
  retrying: number;
  /** Events whose routing was given up, until retried (`rapport events retry`). */
  parked: number;
  /** When the oldest of the waiting and retrying events was received; null when none is. */
  oldestReceivedAt: string | null;
  /** How long ago that was, in seconds. */
  oldestAgeSeconds: number | null;
}

/** Counts the events not routed yet, reading only them (through the partial index events_to_route). */
export async function routingBacklog(db: Db, now = new Date()): Promise<RoutingBacklog> {
  const row = await db
    .selectFrom('events')
    .select((eb) => [
      eb.fn
        .countAll<string>()
        .filterWhere((f) =>
          f.and([f('parked_at', 'is', null), f.or([f('next_route_at', 'is', null), f('next_route_at', '<=', now)])]),
        )
        .as('waiting'),
      eb.fn
        .countAll<string>()
        .filterWhere((f) => f.and([f('parked_at', 'is', null), f('next_route_at', '>', now)]))
        .as('retrying'),
      eb.fn.countAll<string>().filterWhere('parked_at', 'is not', null).as('parked'),
      eb.fn.min('received_at').filterWhere('parked_at', 'is', null).as('oldest'),
    ])
    .where('routed_at', 'is', null)
    .executeTakeFirstOrThrow();
  const oldest = row.oldest === null ? null : new Date(row.oldest);
  return {
    waiting: Number(row.waiting),
    retrying: Number(row.retrying),
    parked: Number(row.parked),
    oldestReceivedAt: oldest?.toISOString() ?? null,
    oldestAgeSeconds: oldest ? Math.max(0, Math.round((now.getTime() - oldest.getTime()) / 100) / 10) : null,
  };
}

export async function listEvents(
  db: Db,
  options: { status?: EventStatus | undefined; limit?: number | undefined; before?: string | undefined },
): Promise<EventPage> {
  const limit = Math.min(Math.max(options.limit ?? 50, 1), EVENT_PAGE_MAX);
  let q = db
    .selectFrom('events')
    .select([
      'id',
      'seq',
      'customer_id',
      'type',
      'received_at',
      'routed_at',
      'result',
      'parked_at',
      'route_error',
      'route_attempts',
    ]);
  // Unrouted events (accepted or parked) come from the small partial index on seq (events_to_route).
  if (options.status === 'routed') q = q.where('routed_at', 'is not', null);
  if (options.status === 'accepted') q = q.where('routed_at', 'is', null).where('parked_at', 'is', null);
  if (options.status === 'parked') q = q.where('routed_at', 'is', null).where('parked_at', 'is not', null);
  if (options.before) q = q.where('seq', '<', Number(options.before));
  const rows = await q
    .orderBy('seq', 'desc')
    .limit(limit + 1)
    .execute();
  const page = rows.slice(0, limit);
  return {
    // Each item is the headline of the event's receipt, as GET /v1/events/<id> gives it.
    events: page.map((r) => {
      const receipt = receiptOfRow(r);
      return {
        eventId: r.id,
        type: r.type,
        customerId: r.customer_id,
        status: receipt.status,
        receivedAt: r.received_at.toISOString(),
        routedAt: r.routed_at?.toISOString() ?? null,
        attempts: r.route_attempts,
        ...(receipt.status !== 'routed' && receipt.error ? { error: receipt.error } : {}),
        enrolled: (receipt.enrolled ?? []).map((e) => e.journey),
        signalled: (receipt.signalled ?? []).map((s) => s.journey),
        notEnrolled: receipt.notEnrolled?.length ?? 0,
      };
    }),
    next: rows.length > limit ? String(page[page.length - 1]!.seq) : null,
  };
}
