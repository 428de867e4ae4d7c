/** The customer as journeys read them: the record, plus metrics kept current from their orders. */
import { sql } from 'kysely';
import type { CustomerFacts, CustomerMetrics } from '../../definitions/facts';
import type { Db } from '../db/database';
import type { CustomerRow } from '../db/schema';

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
  return {
    orderCount: Number(totals.count),
    lifetimeValue: Math.round(Number(totals.value ?? 0) * 100) / 100,
    firstOrderAt: totals.first ? new Date(totals.first).toISOString() : null,
    lastOrderAt: totals.last ? new Date(totals.last).toISOString() : null,
    categories: categories.map((c) => c.category!),
  };
}

export async function customerFacts(db: Db, row: CustomerRow): Promise<CustomerFacts> {
  return {
    id: row.id,
    email: row.email,
    phone: row.phone,
    firstName: row.first_name,
    lastName: row.last_name,
    timezone: row.timezone,
    locale: row.locale,
    lifecycleStage: row.lifecycle_stage,
    tags: row.tags,
    attributes: row.attributes,
    consent: {},
    preferredChannel: row.preferred_channel,
    metrics: await customerMetrics(db, row.id),
  };
}
