/**
 * "Bought this, not yet that": co-purchase counts across customers, kept as orders are recorded, so a
 * recommendation reads a few index ranges instead of every order.
 *
 * For each kind of item (a category, a product) Rapport keeps how many customers bought each item
 * (`copurchase_buyers`) and how many bought both of each pair (`copurchase`, both ways round). A
 * customer counts once per item and once per pair, however often they buy it: when an order brings
 * items the customer had not bought before, each new item adds a buyer, and each pair it makes with
 * the customer's other items (old or new) adds a customer. One statement does it, whatever the number
 * of lines.
 *
 * An item is recommended by the sum, over the items the customer bought, of the confidence
 * P(b | a) = customers(a, b) / buyers(a): how likely someone who bought each of theirs was to buy it
 * too (to nine decimals, so equal sums are equal). Ties go by name. Items the customer bought are
 * never recommended; when fewer items than asked were bought alongside theirs, the most bought other
 * items fill the list.
 *
 * Merging two customers recounts both (`mergeCopurchases`). Two orders with the same new item for
 * the same customer, accepted at the same moment, could count that customer twice: `rebuildCopurchases`
 * counts everything again from the orders (the value models' fit runs it).
 */
import { type RawBuilder, sql } from 'kysely';
import type { Db } from '../db/database';

export type CopurchaseKind = 'category' | 'product';

/**
 * The customer's items of each kind, from their orders, with `fresh` true for those only in
 * `order` (bought for the first time in it).
 */
function itemsOf(customerId: string, order: string | null): RawBuilder<unknown> {
  const fresh = order === null ? sql`false` : sql`bool_and(l.order_id = ${order})`;
  // The customer's order ids first, then their lines by the lines' key: an index lookup per order,
  // whatever the planner thinks of the tables' sizes.
  const lines = sql`order_lines l where l.order_id = any(array(select id from orders where customer_id = ${customerId}))`;
  return sql`
    select 'category' as kind, l.category as item, ${fresh} as fresh
      from ${lines} and l.category is not null group by l.category
    union all
    select 'product', l.product, ${fresh} from ${lines} group by l.product`;
}

/**
 * Adds `delta` for each of the customer's items and pairs: those `order` brought for the first time
 * (its lines already written), or all of them when `order` is null. Rows are written in key order,
 * so two customers' orders at once wait for each other rather than deadlock.
 */
async function count(db: Db, customerId: string, order: string | null, delta: 1 | -1): Promise<void> {
  const counted = order === null ? sql`true` : sql`x.fresh`;
  const paired = order === null ? sql`true` : sql`(x.fresh or y.fresh)`;
  await sql`
    with theirs as (${itemsOf(customerId, order)}),
    buyers as (
      insert into copurchase_buyers (kind, item, buyers)
      select x.kind, x.item, ${delta}::int from theirs x where ${counted} order by x.kind, x.item
      on conflict (kind, item) do update set buyers = copurchase_buyers.buyers + excluded.buyers
    )
    insert into copurchase (kind, a, b, customers)
    select x.kind, x.item, y.item, ${delta}::int from theirs x
      join theirs y on y.kind = x.kind and y.item <> x.item
      where ${paired}
      order by x.kind, x.item, y.item
    on conflict (kind, a, b) do update set customers = copurchase.customers + excluded.customers`.execute(db);
}

/** Counts what a newly recorded order (its lines written) brought the customer for the first time. */
export function countOrderItems(db: Db, customerId: string, orderId: string): Promise<void> {
  return count(db, customerId, orderId, 1);
}

/**
 * Before `mergedId`'s orders move to `survivorId` (`before`), takes both customers' items out of
 * the counts; after (`after`), counts the survivor's, which now include the merged record's. An item
 * both had counts once, as it should for one person.
 */
export async function mergeCopurchases(
  db: Db,
  survivorId: string,
  mergedId: string,
  when: 'before' | 'after',
): Promise<void> {
  if (when === 'after') return count(db, survivorId, null, 1);
  await count(db, survivorId, null, -1);
  await count(db, mergedId, null, -1);
}

/**
 * Counts every customer's items again from their orders, in place of the counts kept so far. Orders
 * with new items recorded meanwhile wait for it (a lock on the two tables), so none is lost or
 * counted twice.
 */
export async function rebuildCopurchases(db: Db): Promise<{ items: number; pairs: number }> {
  return db.transaction().execute(async (tx) => {
    await sql`lock table copurchase, copurchase_buyers in exclusive mode`.execute(tx);
    await tx.deleteFrom('copurchase').execute();
    await tx.deleteFrom('copurchase_buyers').execute();
    const all = sql`
      select distinct o.customer_id, 'category' as kind, l.category as item
        from orders o join order_lines l on l.order_id = o.id where l.category is not null
      union
      select distinct o.customer_id, 'product', l.product from orders o join order_lines l on l.order_id = o.id`;
    await sql`
      insert into copurchase_buyers (kind, item, buyers)
      select kind, item, count(*) from (${all}) i group by kind, item`.execute(tx);
    await sql`
      with i as (${all})
      insert into copurchase (kind, a, b, customers)
      select x.kind, x.item, y.item, count(*) from i x
        join i y on y.customer_id = x.customer_id and y.kind = x.kind and y.item <> x.item
      group by x.kind, x.item, y.item`.execute(tx);
    const { rows } = await sql<{ items: string; pairs: string }>`
      select (select count(*) from copurchase_buyers) as items, (select count(*) from copurchase) as pairs`.execute(tx);
    return { items: Number(rows[0]!.items), pairs: Number(rows[0]!.pairs) };
  });
}

/**
 * Up to `limit` items of `kind` for the customer, as a JSON array, for a statement's select list:
 * those bought alongside theirs, by the summed confidence, then the most bought others. None without
 * items of their own. It reads the customer's items itself, so a journey's facts take their
 * recommendations in the statement that reads the rest (`customerFacts`).
 */
export function recommendedItems(customerId: string, kind: CopurchaseKind, limit: number): RawBuilder<string[]> {
  // The items as one array value (the cast keeps `any` from reading the subquery as a set of rows).
  // Not knowing its length, the planner would join every item's buyers by a hash of the whole
  // table; restricted to the items too, the pairs and the buyers are both read by their keys.
  const column = kind === 'category' ? sql.ref('l.category') : sql.ref('l.product');
  const own = sql`(select items from own)::text[]`;
  return sql<string[]>`(
    with own as (
      select array(
        select distinct ${column} from order_lines l
          where l.order_id = any(array(select id from orders where customer_id = ${customerId})) and ${column} is not null
      ) as items
    ),
    scored as (
      select p.b as item, round(sum(p.customers::numeric / u.buyers), 9) as score
        from copurchase p join copurchase_buyers u on u.kind = p.kind and u.item = p.a
        where p.kind = ${kind} and p.a = any(${own}) and p.b <> all(${own}) and p.customers > 0
          and u.kind = ${kind} and u.item = any(${own}) and u.buyers > 0
        group by p.b
        order by score desc, p.b limit ${limit}
    ),
    popular as (
      select item, buyers from copurchase_buyers
        where kind = ${kind} and buyers > 0 and item <> all(${own}) and item not in (select item from scored)
        order by buyers desc, item limit ${limit}
    )
    select to_json(array(
      select item from (
        select item, 0 as tier, score as rank from scored
        union all select item, 1, buyers::numeric from popular
      ) ranked where cardinality(${own}) > 0 order by tier, rank desc, item limit ${limit}
    ))
  )`;
}
