/** The customer as journeys read them: the record, plus metrics kept current from their orders. */
import { predictedFor } from '../insights/models';
import { sql } from 'kysely';
import type { CustomerFacts, CustomerMetrics } from '../../definitions/facts';
import type { Db } from '../db/database';
import type { CustomerRow } from '../db/schema';
import { allConsent } from './consent';
import { toCustomerView } from './customers';
import { RecentResults } from '../recent-results';

export async function customerMetrics(db: Db, customerId: string): Promise<CustomerMetrics> {
  const totals = await db
    .selectFrom('orders')
    .select([
      sql<string>`count(*)`.as('count'),
      sql<string | null>`sum(total)`.as('value'),
      sql<Date | null>`min(placed_at)`.as('first'),
      sql<Date | null>`max(placed_at)`.as('last'),
    ])
    .where('customer_id', '=', customerId)
    .executeTakeFirstOrThrow();
  const categories = await db
    .selectFrom('order_lines as l')
    .innerJoin('orders as o', 'o.id', 'l.order_id')
    .select('l.category')
    .distinct()
    .where('o.customer_id', '=', customerId)
    .where('l.category', 'is not', null)
    .orderBy('l.category')
    .execute();
  const mine = categories.map((c) => c.category!);
  return {
    orderCount: Number(totals.count),
    lifetimeValue: Math.round(Number(totals.value ?? 0) * 100) / 100,
    firstOrderAt: totals.first ? new Date(totals.first).toISOString() : null,
    lastOrderAt: totals.last ? new Date(totals.last).toISOString() : null,
    categories: mine,
    recommendedCategory: mine.length > 0 ? await recommendFor(db, mine) : null,
  };
}

/**
 * How long a recommendation is kept. It is an aggregate over every customer's orders, and depends
 * only on the set of categories a customer bought, so it is computed once per set and per minute,
 * not once per event: with many customers, a scan of all orders for each event was the intake's cost.
 */
const RECOMMENDATION_TTL_MS = 60_000;
/** How many sets of categories are kept at most: the least recently computed go first. */
const RECOMMENDATIONS_KEPT = 1_000;

const recommendations = new WeakMap<Db, RecentResults<Promise<string | null>>>();

function recommendFor(db: Db, categories: string[]): Promise<string | null> {
  let cache = recommendations.get(db);
  if (!cache) recommendations.set(db, (cache = new RecentResults(RECOMMENDATIONS_KEPT, RECOMMENDATION_TTL_MS)));
  const key = JSON.stringify(categories);
  const now = Date.now();
  const kept = cache.get(key, now);
  if (kept) return kept;
  const category = recommendFromCategories(db, categories);
  cache.set(key, category, now);
  // A failed query is not kept.
  category.catch(() => cache.delete(key));
  return category;
}

/**
 * The category most bought by customers who bought any of `categories` (a customer's), among the
 * others; without such customers, the most popular other category. It depends only on the
 * customer's categories: their own orders are all in those, so they count for none of the others.
 */
async function recommendFromCategories(db: Db, categories: string[]): Promise<string | null> {
  const mine = sql.join(categories);
  const fromPeers = await sql<{ category: string }>`
    with peers as (
      select distinct o.customer_id from orders o join order_lines l on l.order_id = o.id
      where l.category in (${mine})
    )
    select l.category from orders o join order_lines l on l.order_id = o.id
    where o.customer_id in (select customer_id from peers)
      and l.category is not null and l.category not in (${mine})
    group by l.category order by count(distinct o.customer_id) desc, l.category limit 1`.execute(db);
  return fromPeers.rows[0]?.category ?? popularCategory(db, mine);
}

async function popularCategory(db: Db, mine: ReturnType<typeof sql.join>): Promise<string | null> {
  const popular = await sql<{ category: string }>`
    select l.category from orders o join order_lines l on l.order_id = o.id
    where l.category is not null and l.category not in (${mine})
    group by l.category order by count(distinct o.customer_id) desc, l.category limit 1`.execute(db);
  return popular.rows[0]?.category ?? null;
}

export async function customerFacts(db: Db, row: CustomerRow): Promise<CustomerFacts> {
  const { createdAt: _created, updatedAt: _updated, ...view } = toCustomerView(row);
  return {
    ...view,
    consent: await allConsent(db, row.id),
    metrics: await customerMetrics(db, row.id),
    predicted: await predictedFor(db, row.id),
  };
}
