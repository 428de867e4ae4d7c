/**
 * RFM: how recently (days since the last order), how often (orders) and how much (lifetime revenue)
 * each customer bought, scored 1 to 5 by quintile of the customers with orders.
 *
 * The quintile breakpoints are worked out over the whole customer base when the value models are
 * fitted, and kept with the fit (activities/insights/models.ts). A customer is scored from their own
 * metrics as they are whenever their facts are read, against the newest breakpoints: a new order moves
 * their scores at once, and the base they are compared with moves at each fit (nightly).
 *
 * Recency counts whole days, so a customer's score moves at most once a day as time passes. A value
 * exactly at a breakpoint belongs to the fifth below it, so when many customers share a value
 * (most have one order) they all get the same, lower, score rather than being split at random.
 */
import { sql } from 'kysely';
import type { Db } from '../db/database';
import { type RfmFacts, UNKNOWN_RFM } from '../../definitions/facts';

const DAY_MS = 86_400_000;

/** The 20th, 40th, 60th and 80th percentiles of each measure over the customers with orders. */
export interface RfmBreakpoints {
  /** Whole days since the last order, at the end of the period the models were fitted on. */
  recencyDays: number[];
  /** Orders. */
  frequency: number[];
  /** Lifetime revenue. */
  monetary: number[];
}

/** What a customer is scored on: their metrics (CustomerMetrics), as they are. */
interface RfmInput {
  orderCount: number;
  lifetimeValue: number;
  lastOrderAt: string | Date | null;
}

/** 1 + how many breakpoints the value is above: 1 (lowest fifth) to 5 (highest). */
const above = (value: number, breaks: readonly number[]) => 1 + breaks.filter((b) => value > b).length;

/**
 * The common recency-by-frequency segment map: rows are the recency score (5 first), columns the
 * frequency score (1 first). Monetary does not pick the segment; it is in the score.
 */
const SEGMENTS: Record<number, readonly string[]> = {
  5: ['new', 'potential_loyalist', 'potential_loyalist', 'champions', 'champions'],
  4: ['promising', 'potential_loyalist', 'potential_loyalist', 'loyal', 'loyal'],
  3: ['about_to_sleep', 'about_to_sleep', 'need_attention', 'loyal', 'loyal'],
  2: ['hibernating', 'hibernating', 'at_risk', 'at_risk', 'cant_lose'],
  1: ['hibernating', 'hibernating', 'at_risk', 'at_risk', 'cant_lose'],
};

function rfmSegment(recency: number, frequency: number): string {
  return SEGMENTS[recency]?.[frequency - 1] ?? 'none';
}

/** A customer's RFM scores now, against the breakpoints of the newest fit (none: every score 0). */
export function rfmScores(breaks: RfmBreakpoints | undefined, m: RfmInput, now: Date): RfmFacts {
  if (!breaks || m.orderCount <= 0 || !m.lastOrderAt) return UNKNOWN_RFM;
  const days = Math.floor((now.getTime() - new Date(m.lastOrderAt).getTime()) / DAY_MS);
  // Fewer days since the last order is better: the most recent fifth scores 5.
  const recency = 6 - above(days, breaks.recencyDays);
  const frequency = above(m.orderCount, breaks.frequency);
  const monetary = above(m.lifetimeValue, breaks.monetary);
  return {
    recency,
    frequency,
    monetary,
    score: recency + frequency + monetary,
    segment: rfmSegment(recency, frequency),
  };
}

/**
 * The same score as rfmScores (recency + frequency + monetary, 0 without orders), as SQL over a row's
 * `orders`, `revenue` and `last_order`, so customers can be sorted by it in the database.
 */
export function rfmScoreSql(
  breaks: RfmBreakpoints | undefined,
  columns: { orders: string; revenue: string; lastOrder: string },
  now: Date,
) {
  if (!breaks) return sql<number>`0`;
  const orders = sql.ref(columns.orders);
  const revenue = sql.ref(columns.revenue);
  const last = sql.ref(columns.lastOrder);
  const days = sql`floor(extract(epoch from (${now.toISOString()}::timestamptz - ${last}))::double precision / 86400)`;
  const count = (value: ReturnType<typeof sql>, breaks: readonly number[]) =>
    sql.join(
      breaks.map((b) => sql`(${value} > ${b}::double precision)::int`),
      sql` + `,
    );
  return sql<number>`(case when ${last} is null or coalesce(${orders}, 0) = 0 then 0 else
    (6 - (1 + ${count(days, breaks.recencyDays)}))
    + (1 + ${count(sql`${orders}::double precision`, breaks.frequency)})
    + (1 + ${count(sql`${revenue}::double precision`, breaks.monetary)}) end)`;
}

/** The quintile breakpoints over the customers with orders up to `end`; undefined without any. */
export async function fitRfm(db: Db, end: Date): Promise<RfmBreakpoints | undefined> {
  const quintiles = sql`array[0.2, 0.4, 0.6, 0.8]::double precision[]`;
  const row = await sql<{ customers: string; recency: number[]; frequency: number[]; monetary: number[] }>`
    select count(*) as customers,
      percentile_cont(${quintiles}) within group (order by floor(extract(epoch from (${end.toISOString()}::timestamptz - last))::double precision / 86400)) as recency,
      percentile_cont(${quintiles}) within group (order by n::double precision) as frequency,
      percentile_cont(${quintiles}) within group (order by revenue::double precision) as monetary
    from (
      select count(*) as n, sum(total) as revenue, max(placed_at) as last
      from orders where placed_at <= ${end.toISOString()}::timestamptz group by customer_id
    ) per_customer`.execute(db);
  const r = row.rows[0];
  if (!r || Number(r.customers) === 0) return undefined;
  const numbers = (v: unknown) => (v as unknown[]).map(Number);
  return { recencyDays: numbers(r.recency), frequency: numbers(r.frequency), monetary: numbers(r.monetary) };
}
