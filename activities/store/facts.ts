/** The customer as journeys read them: the record, plus metrics kept current from their orders. */
import { sql } from 'kysely';
import type { CustomerFacts, CustomerMetrics } from '../../definitions/facts';
import type { Db } from '../db/database';
import type { CustomerRow } from '../db/schema';
import { allConsent } from './consent';
import { toCustomerView } from './customers';

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
    recommendedCategory: mine.length > 0 ? await recommendCategory(db, customerId) : null,
  };
}

/**
 * The category most bought by customers who bought what this customer bought, among those this
 * customer has not bought; without such customers, the most popular category they have not bought.
 */
export async function recommendCategory(db: Db, customerId: string): Promise<string | null> {
  const fromPeers = await sql<{ category: string }>`
    with mine as (
      select distinct l.category from order_lines l join orders o on o.id = l.order_id
      where o.customer_id = ${customerId} and l.category is not null
    ), peers as (
      select distinct o.customer_id from orders o join order_lines l on l.order_id = o.id
      where l.category in (select category from mine) and o.customer_id <> ${customerId}
    )
    select l.category from orders o join order_lines l on l.order_id = o.id
    where o.customer_id in (select customer_id from peers)
      and l.category is not null and l.category not in (select category from mine)
    group by l.category order by count(distinct o.customer_id) desc, l.category limit 1`.execute(db);
  if (fromPeers.rows[0]) return fromPeers.rows[0].category;
  const popular = await sql<{ category: string }>`
    select l.category from orders o join order_lines l on l.order_id = o.id
    where l.category is not null and l.category not in (
      select l2.category from order_lines l2 join orders o2 on o2.id = l2.order_id
      where o2.customer_id = ${customerId} and l2.category is not null)
    group by l.category order by count(distinct o.customer_id) desc, l.category limit 1`.execute(db);
  return popular.rows[0]?.category ?? null;
}

export async function customerFacts(db: Db, row: CustomerRow): Promise<CustomerFacts> {
  const { createdAt: _created, updatedAt: _updated, ...view } = toCustomerView(row);
  return { ...view, consent: await allConsent(db, row.id), metrics: await customerMetrics(db, row.id) };
}
