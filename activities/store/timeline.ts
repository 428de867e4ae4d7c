import type { Db } from '../db/database';
import type { TimelineKind } from '../db/schema';

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

/** Writes an entry; false when one with the same kind and ref was written before (nothing is written). */
export async function appendTimeline(db: Db, entry: TimelineEntry): Promise<boolean> {
  const written = await db
    .insertInto('timeline')
    .values({
      customer_id: entry.customerId,
      at: entry.at,
      kind: entry.kind,
      summary: entry.summary,
      data: JSON.stringify(entry.data ?? {}),
      ref: entry.ref ?? null,
    })
    .onConflict((oc) => oc.columns(['customer_id', 'kind', 'ref']).doNothing())
    .returning('id')
    .executeTakeFirst();
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
