import { type QueryCreator, sql } from 'kysely';
import type { Db } from '../db/database';
import type { Database, TimelineKind } from '../db/schema';

export interface TimelineEntry {
  customerId: string;
  at: Date | string;
  kind: TimelineKind;
  summary: string;
  data?: Record<string, unknown>;
  /** What the entry stands for; writing the same (kind, ref) twice keeps one entry. */
  ref?: string;
}

export interface TimelineItem {
  at: string;
  kind: TimelineKind;
  summary: string;
  data: Record<string, unknown>;
  ref: string | null;
}

/** An entry as the row written for it. */
function timelineRow(entry: TimelineEntry) {
  return {
    customer_id: entry.customerId,
    at: entry.at,
    kind: entry.kind,
    summary: entry.summary,
    data: JSON.stringify(entry.data ?? {}),
    ref: entry.ref ?? null,
  };
}

/** The columns an entry writes, in the order of `timelineSelection`. */
export const timelineColumns = ['customer_id', 'at', 'kind', 'summary', 'data', 'ref'] as const;

/**
 * An entry as a select list of typed values, for a statement that writes it only for the rows of
 * another (`insert into timeline (timelineColumns) select timelineSelection(entry) from …`).
 */
export function timelineSelection(entry: TimelineEntry) {
  const row = timelineRow(entry);
  return [
    sql<string>`${row.customer_id}::text`.as('customer_id'),
    sql<Date>`${row.at}::timestamptz`.as('at'),
    sql<string>`${row.kind}::text`.as('kind'),
    sql<string>`${row.summary}::text`.as('summary'),
    sql<string>`${row.data}::jsonb`.as('data'),
    sql<string | null>`${row.ref}::text`.as('ref'),
  ];
}

/**
 * The insert that writes an entry (unless one with the same kind and ref was written before), not
 * run: for a statement that writes it along with something else (`db.with('entry', …)`).
 */
export function timelineInsert(qc: QueryCreator<Database>, entry: TimelineEntry) {
  return qc
    .insertInto('timeline')
    .values(timelineRow(entry))
    .onConflict((oc) => oc.columns(['customer_id', 'kind', 'ref']).doNothing());
}

/** Writes an entry; false when one with the same kind and ref was written before (nothing is written). */
export async function appendTimeline(db: Db, entry: TimelineEntry): Promise<boolean> {
  const written = await timelineInsert(db, entry).returning('id').executeTakeFirst();
  return written !== undefined;
}

/** The customer's timeline in order (by time, then by when it was written): the newest `limit` entries. */
export async function listTimeline(db: Db, customerId: string, limit = 500): Promise<TimelineItem[]> {
  const rows = await db
    .selectFrom('timeline')
    .select(['at', 'kind', 'summary', 'data', 'ref'])
    .where('customer_id', '=', customerId)
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows
    .reverse()
    .map((r) => ({ at: r.at.toISOString(), kind: r.kind, summary: r.summary, data: r.data, ref: r.ref }));
}

/**
 * Where a page of a timeline ends: the next page's `before`, `<time>~<id>`. It names the last entry
 * shown (its exact time, to the microsecond, and its id), so entries written meanwhile move no entry
 * from one page to another.
 */
export const TIMELINE_CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)~(\d+)$/;

/**
 * A customer's timeline, or every contact's of an account, newest first, `limit` entries at a time.
 * `before` is a page's `next`, or an ISO 8601 time: only entries before it.
 */
export async function timelinePage(
  db: Db,
  of: { customerId: string } | { accountId: string },
  page: { before?: string | undefined; limit: number },
): Promise<{ entries: (TimelineItem & { customerId: string })[]; next: string | null }> {
  let query = db
    .selectFrom('timeline as t')
    .innerJoin('customers as c', 'c.id', 't.customer_id')
    .select(['t.id', 't.customer_id', 't.at', 't.kind', 't.summary', 't.data', 't.ref'])
    // The time to the microsecond, as PostgreSQL keeps it: a cursor of milliseconds could skip entries.
    .select(sql<string>`to_char(t.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('exact_at'));
  query =
    'customerId' in of
      ? query.where('t.customer_id', '=', of.customerId)
      : query.where('c.account_id', '=', of.accountId);
  const cursor = page.before ? TIMELINE_CURSOR.exec(page.before) : null;
  if (cursor) query = query.where(sql<boolean>`(t.at, t.id) < (${cursor[1]!}::timestamptz, ${cursor[2]!}::bigint)`);
  else if (page.before) query = query.where('t.at', '<', new Date(page.before));
  const rows = await query
    .orderBy('t.at', 'desc')
    .orderBy('t.id', 'desc')
    .limit(page.limit + 1)
    .execute();
  const shown = rows.slice(0, page.limit);
  const last = shown[shown.length - 1];
  return {
    entries: shown.map((r) => ({
      customerId: r.customer_id,
      at: r.at.toISOString(),
      kind: r.kind,
      summary: r.summary,
      data: r.data,
      ref: r.ref,
    })),
    next: rows.length > page.limit && last ? `${last.exact_at}~${String(last.id)}` : null,
  };
}
