/** The customer as journeys read them: the record, plus metrics kept current from their orders. */
import { latestModel, predictedFor } from '../insights/models';
import { rfmScores } from '../insights/rfm';
import { sql } from 'kysely';
import { jsonArrayFrom, jsonObjectFrom } from 'kysely/helpers/postgres';
import type { CategoryShare, CustomerFacts, CustomerMetrics } from '../../definitions/facts';
import type { Db } from '../db/database';
import type { CustomerRow } from '../db/schema';
import { accountFacts } from './accounts';
import { consentOf, consentQuery } from './consent';
import { engagementQuery, learnedFrom } from './engagement';
import { toCustomerView } from './customers';
import { recommendedItems } from './copurchases';
import { scoreNow } from '../../definitions/scoring';

/** The customer's orders in all: count, value, first and last. */
function orderTotalsQuery(db: Db, customerId: string) {
  return db
    .selectFrom('orders')
    .select([
      sql<string>`count(*)`.as('count'),
      sql<string | null>`sum(total)`.as('value'),
      sql<Date | null>`min(placed_at)`.as('first'),
      sql<Date | null>`max(placed_at)`.as('last'),
    ])
    .where('customer_id', '=', customerId);
}

/**
 * What the customer bought, by category and product: spend, items, and profit where costs are known.
 * The customer's order ids first, then their lines by the lines' key (an index lookup per order).
 */
function boughtQuery(db: Db, customerId: string) {
  return db
    .selectFrom('order_lines as l')
    .select([
      'l.category',
      'l.product',
      sql<string>`sum(l.quantity * l.price)`.as('spend'),
      sql<string>`sum(l.quantity)`.as('items'),
      sql<string | null>`sum(l.quantity * (l.price - l.cost))`.as('profit'),
      sql<string | null>`sum(l.quantity * l.price) filter (where l.cost is not null)`.as('costed'),
    ])
    .where(sql<boolean>`l.order_id = any(array(select id from orders where customer_id = ${customerId}))`)
    .groupBy(['l.category', 'l.product']);
}

/**
 * What the metrics are made of, in one statement: the order totals, the lines by category and
 * product, and the two recommendations, each a JSON subquery (more columns may be selected with them).
 */
function metricsQuery(db: Db, customerId: string) {
  return db.selectNoFrom([
    jsonObjectFrom(orderTotalsQuery(db, customerId)).as('totals'),
    jsonArrayFrom(boughtQuery(db, customerId)).as('bought'),
    recommendedItems(customerId, 'category', 1).as('recommendedCategory'),
    recommendedItems(customerId, 'product', RECOMMENDATIONS).as('recommendations'),
  ]);
}

/**
 * Typed as the subqueries' rows; read as JSON, the counts and sums are numbers and the times
 * strings: both convert alike.
 */
type MetricsRead = Awaited<ReturnType<ReturnType<typeof metricsQuery>['executeTakeFirstOrThrow']>>;

export async function customerMetrics(db: Db, customerId: string): Promise<CustomerMetrics> {
  return metricsOf(await metricsQuery(db, customerId).executeTakeFirstOrThrow());
}

/** The metrics of the customer's order totals, lines and recommendations, read as JSON. */
function metricsOf({ totals, bought, recommendedCategory, recommendations }: MetricsRead): CustomerMetrics {
  const byCategory = new Map<string, { spend: number; items: number }>();
  let profit: number | null = null;
  let costed = 0;
  for (const b of bought) {
    if (b.category !== null) {
      const c = byCategory.get(b.category) ?? { spend: 0, items: 0 };
      c.spend += Number(b.spend);
      c.items += Number(b.items);
      byCategory.set(b.category, c);
    }
    if (b.profit !== null) profit = (profit ?? 0) + Number(b.profit);
    if (b.costed !== null) costed += Number(b.costed);
  }
  const affinity = categoryShares(byCategory);
  // The totals are an aggregate without a grouping: one row, never null.
  return {
    orderCount: Number(totals!.count),
    lifetimeValue: Math.round(Number(totals!.value ?? 0) * 100) / 100,
    firstOrderAt: totals!.first ? new Date(totals!.first).toISOString() : null,
    lastOrderAt: totals!.last ? new Date(totals!.last).toISOString() : null,
    categories: [...byCategory.keys()].sort(),
    recommendedCategory: recommendedCategory[0] ?? null,
    profit: profit === null ? null : Math.round(profit * 100) / 100,
    margin: profit === null || costed === 0 ? null : Math.round((profit / costed) * 10_000) / 10_000,
    affinity,
    topCategory: affinity[0]?.category ?? null,
    recommendations,
  };
}

/** How many products `metrics.recommendations` names at most. */
const RECOMMENDATIONS = 3;
/** How many categories `metrics.affinity` lists at most. */
const AFFINITY_CATEGORIES = 5;

/**
 * Each category's share of the spend on categorised lines, or of their items when that spend is 0
 * (everything free or unpriced), highest first, ties by name, to four decimals.
 */
function categoryShares(byCategory: Map<string, { spend: number; items: number }>): CategoryShare[] {
  const all = [...byCategory.entries()];
  const spend = all.reduce((sum, [, c]) => sum + c.spend, 0);
  const items = all.reduce((sum, [, c]) => sum + c.items, 0);
  return all
    .map(([category, c]) => ({
      category,
      share: spend > 0 ? c.spend / spend : items > 0 ? c.items / items : 0,
    }))
    .sort((x, y) => y.share - x.share || (x.category < y.category ? -1 : x.category > y.category ? 1 : 0))
    .slice(0, AFFINITY_CATEGORIES)
    .map(({ category, share }) => ({ category, share: Math.round(share * 10_000) / 10_000 }));
}

export async function customerFacts(db: Db, row: CustomerRow, now = new Date()): Promise<CustomerFacts> {
  const { createdAt: _created, updatedAt: _updated, ...view } = toCustomerView(row);
  // The customer's orders, order lines, recommendations, consent and engagement in one statement: a
  // journey reads these facts at its start and for every message it renders.
  const read = await metricsQuery(db, row.id)
    .select([
      jsonArrayFrom(consentQuery(db, row.id)).as('consents'),
      jsonObjectFrom(engagementQuery(db, row.id, now)).as('engagement'),
    ])
    .executeTakeFirstOrThrow();
  const metrics = metricsOf(read);
  // Engagement is an aggregate without a grouping: one row, never null.
  return {
    ...view,
    consent: consentOf(read.consents),
    metrics,
    predicted: await predictedFor(db, row.id, now),
    rfm: rfmScores((await latestModel(db))?.rfm, metrics, now),
    score: scoreNow(row, now),
    account: await accountFacts(db, row.account_id),
    learnedChannel: learnedFrom(read.engagement!).channel,
  };
}
