/**
 * Orders, from `order.placed` events: `data.orderId`, `data.total`, and optional `data.lines`
 * (`product`, `category`, `quantity`, `price`, and `cost`: what a unit cost, when known). The same
 * order id twice is recorded once. Recording one keeps the co-purchase counts (./copurchases.ts).
 */
import { z } from 'zod';
import { sql } from 'kysely';
import type { Db } from '../db/database';
import type { LifecycleStage } from '../db/schema';
import { countOrderItems } from './copurchases';
import { appendTimeline } from './timeline';

/** The most lines one order may have. */
const MAX_ORDER_LINES = 500;
/** Totals are kept as numeric(14,2): below a trillion. */
const MAX_ORDER_TOTAL = 999_999_999_999.99;

export const orderData = z.object({
  orderId: z.string().min(1, 'expected the order id in data.orderId').max(200, 'expected at most 200 characters'),
  total: z
    .number({ error: 'expected the order total in data.total' })
    .nonnegative()
    .max(MAX_ORDER_TOTAL, 'expected an order total below 1,000,000,000,000'),
  currency: z.string().length(3).optional(),
  lines: z
    .array(
      z.object({
        product: z.string().min(1).max(200, 'expected at most 200 characters'),
        category: z.string().min(1).max(100, 'expected at most 100 characters').optional(),
        quantity: z.number().int().positive().max(1_000_000, 'expected at most 1,000,000').optional(),
        price: z.number().nonnegative().max(MAX_ORDER_TOTAL, 'expected a price below 1,000,000,000,000').optional(),
        cost: z.number().nonnegative().max(MAX_ORDER_TOTAL, 'expected a cost below 1,000,000,000,000').optional(),
      }),
    )
    .max(MAX_ORDER_LINES, `expected at most ${MAX_ORDER_LINES} lines in an order`)
    .optional(),
});

export async function recordOrder(
  db: Db,
  customerId: string,
  eventId: string,
  data: Record<string, unknown>,
  occurredAt: string | undefined,
): Promise<boolean> {
  const order = orderData.parse(data);
  // The order, and the lifecycle stage that follows the orders (a first order makes a new customer,
  // a second a repeat one), in one statement. The count of the customer's orders does not see this
  // statement's own insert, so the insert's row is added to it; an order recorded before changes nothing.
  const placed = await db
    .with('placed', (qc) =>
      qc
        .insertInto('orders')
        .values({
          id: order.orderId,
          customer_id: customerId,
          placed_at: occurredAt ?? new Date(),
          total: order.total,
          currency: order.currency ?? 'USD',
          event_id: eventId,
          // The account the customer has now: the order stays with it should they move to another.
          account_id: sql<string | null>`(select account_id from customers where id = ${customerId})`,
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .returning('id'),
    )
    .with('stage', (qc) =>
      qc.selectNoFrom(
        sql<LifecycleStage>`case when (select count(*) from orders where customer_id = ${customerId}) + (select count(*) from placed) >= 2 then 'repeat_customer' else 'new_customer' end`.as(
          'stage',
        ),
      ),
    )
    .with('moved', (qc) =>
      qc
        .updateTable('customers')
        .from('stage')
        .set((eb) => ({ lifecycle_stage: eb.ref('stage.stage'), updated_at: new Date() }))
        .where('customers.id', '=', customerId)
        .whereRef('customers.lifecycle_stage', '<>', 'stage.stage')
        .where(sql<boolean>`exists (select 1 from placed)`)
        .returning(
          sql<LifecycleStage>`(select c.lifecycle_stage from customers c where c.id = customers.id)`.as('before'),
        ),
    )
    .selectNoFrom([
      sql<string | null>`(select id from placed)`.as('id'),
      sql<LifecycleStage>`(select stage from stage)`.as('stage'),
      sql<LifecycleStage | null>`(select before from moved)`.as('before'),
    ])
    .executeTakeFirstOrThrow();
  if (placed.id === null) return false;
  const { stage } = placed;
  // The lines in one statement, then the co-purchases they make in another: two statements
  // whatever the number of lines (none without lines).
  const lines = order.lines ?? [];
  if (lines.length > 0) {
    await db
      .insertInto('order_lines')
      .values(
        lines.map((line, i) => ({
          order_id: order.orderId,
          line: i + 1,
          product: line.product,
          category: line.category ?? null,
          quantity: line.quantity ?? 1,
          price: line.price ?? 0,
          cost: line.cost ?? null,
        })),
      )
      .execute();
    await countOrderItems(db, customerId, order.orderId);
  }
  // A lapsed customer who orders again is back: said on their timeline (activities/segment-watch.ts lapses them).
  if (placed.before === 'lapsed') {
    await appendTimeline(db, {
      customerId,
      at: occurredAt ?? new Date(),
      kind: 'change',
      summary: `lifecycle stage lapsed → ${stage} (ordered again: ${order.orderId})`,
      ref: `back:${order.orderId}`,
      data: { from: 'lapsed', to: stage, orderId: order.orderId },
    });
  }
  return true;
}
