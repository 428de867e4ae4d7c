/**
 * What customers buy and what it earns, on an in-memory database: profit and margin with partial
 * costs, category affinity, and co-purchase recommendations checked against a hand count, with the
 * counts kept as orders come equal to a recount from the orders (after a replayed order and a merge).
 */
import { sql } from 'kysely';
import { checkCel, evaluateCondition } from '../../definitions/cel';
import { migrate, openDatabase, type OpenDatabase } from '../../activities/db/database';
import { rebuildCopurchases } from '../../activities/store/copurchases';
import { mergeCustomers, upsertCustomer } from '../../activities/store/customers';
import { customerFacts, customerMetrics } from '../../activities/store/facts';
import { recordOrder } from '../../activities/store/orders';

let database: OpenDatabase;

beforeAll(async () => {
  database = await openDatabase({});
  await migrate(database.db);
});
afterAll(async () => {
  await database?.close();
});

type Line = { product: string; category?: string; quantity?: number; price?: number; cost?: number };
let orders = 0;

async function customer(email: string): Promise<string> {
  return (await upsertCustomer(database.db, { email }, {})).customer.id;
}

async function order(customerId: string, lines: Line[], orderId = `O-${++orders}`): Promise<boolean> {
  const total = lines.reduce((sum, l) => sum + (l.quantity ?? 1) * (l.price ?? 0), 0);
  return recordOrder(database.db, customerId, `e-${orderId}`, { orderId, total, lines }, '2026-01-01T00:00:00Z');
}

/** Both count tables, sorted, to compare the counts kept with a recount. */
async function counts() {
  const buyers = await sql<{ kind: string; item: string; buyers: number }>`
    select kind, item, buyers from copurchase_buyers where buyers <> 0 order by kind, item`.execute(database.db);
  const pairs = await sql<{ kind: string; a: string; b: string; customers: number }>`
    select kind, a, b, customers from copurchase where customers <> 0 order by kind, a, b`.execute(database.db);
  return { buyers: buyers.rows, pairs: pairs.rows };
}

const kob = { product: 'Kind of Blue', category: 'jazz', price: 10 };
const train = { product: 'Blue Train', category: 'jazz', price: 10 };
const robert = { product: 'Robert Johnson', category: 'blues', price: 10 };
const bach = { product: 'Goldberg', category: 'classical', price: 10 };
const mozart = { product: 'Requiem', category: 'classical', price: 10 };

test('profit and margin count the lines whose cost is known; affinity is the share of spend', async () => {
  const m = await customer('margin@example.com');
  // Line 1: 2 × (10 − 6) = 8 profit on 20; line 2 has no cost: no profit, and its 30 is left out of margin.
  await order(m, [
    { product: 'a', category: 'jazz', quantity: 2, price: 10, cost: 6 },
    { product: 'b', category: 'blues', price: 30 },
  ]);
  // 50 − 20 = 30 profit on 50; a line without a category counts for profit but not for affinity.
  await order(m, [
    { product: 'c', category: 'jazz', price: 50, cost: 20 },
    { product: 'gift wrap', price: 5, cost: 5 },
  ]);
  const metrics = await customerMetrics(database.db, m);
  expect(metrics).toMatchObject({
    orderCount: 2,
    lifetimeValue: 105,
    profit: 38,
    // 38 / (20 + 50 + 5)
    margin: 0.5067,
    // jazz 70 of the 100 spent on categorised lines, blues 30.
    affinity: [
      { category: 'jazz', share: 0.7 },
      { category: 'blues', share: 0.3 },
    ],
    topCategory: 'jazz',
  });

  const none = await customer('no-costs@example.com');
  await order(none, [{ product: 'a', category: 'jazz', price: 10 }]);
  expect(await customerMetrics(database.db, none)).toMatchObject({
    profit: null,
    margin: null,
    affinity: [{ category: 'jazz', share: 1 }],
    topCategory: 'jazz',
  });

  // At most five categories, highest share first, ties by name; free goods are shared by items.
  const wide = await customer('wide@example.com');
  await order(
    wide,
    ['f', 'e', 'd', 'c', 'b', 'a'].map((c, i) => ({ product: `p-${c}`, category: c, quantity: i + 1, price: 0 })),
  );
  const shares = (await customerMetrics(database.db, wide)).affinity!;
  expect(shares.map((s) => s.category)).toEqual(['a', 'b', 'c', 'd', 'e']);
  expect(shares[0]!.share).toBeCloseTo(6 / 21, 4);

  const nothing = await customer('nothing@example.com');
  expect(await customerMetrics(database.db, nothing)).toMatchObject({
    profit: null,
    margin: null,
    affinity: [],
    topCategory: null,
    recommendations: [],
    recommendedCategory: null,
  });
});

test('recommendations follow the co-purchase counts, never name an item bought, and a replayed order counts once', async () => {
  // A clean slate, so the counts are the hand count's.
  for (const table of ['copurchase', 'copurchase_buyers', 'order_lines', 'orders'] as const) {
    await database.db.deleteFrom(table).execute();
  }
  const u1 = await customer('u1@example.com');
  const u2 = await customer('u2@example.com');
  const u3 = await customer('u3@example.com');
  const u4 = await customer('u4@example.com');
  const t = await customer('target@example.com');
  await order(u1, [kob, robert]);
  await order(u2, [kob]);
  await order(u2, [train, kob]); // kob again: u2 counts once for it
  await order(u3, [kob, train, bach]);
  await order(u4, [robert, mozart]);
  await order(t, [kob]);

  // By hand: 4 bought Kind of Blue; with it, Blue Train 2 (u2, u3), Robert Johnson 1 (u1), Goldberg 1 (u3).
  // P(b | Kind of Blue): Blue Train 0.5, Goldberg 0.25, Robert Johnson 0.25 (ties by name).
  // Categories: jazz 4 buyers; with it blues 1 (u1), classical 1 (u3): 0.25 each, blues by name.
  let metrics = await customerMetrics(database.db, t);
  expect(metrics.recommendations).toEqual(['Blue Train', 'Goldberg', 'Robert Johnson']);
  expect(metrics.recommendedCategory).toBe('blues');

  // t buys Blue Train, with a cost. The same order id a second time is recorded, and counted, once.
  expect(await order(t, [{ ...train, cost: 4 }], 'T-2')).toBe(true);
  const once = await counts();
  expect(await order(t, [{ ...train, cost: 4 }], 'T-2')).toBe(false);
  expect(await counts()).toEqual(once);
  expect(once.pairs).toContainEqual({ kind: 'product', a: 'Kind of Blue', b: 'Blue Train', customers: 3 });
  expect(once.buyers).toContainEqual({ kind: 'product', item: 'Kind of Blue', buyers: 4 });

  // Now t has Kind of Blue (4 buyers) and Blue Train (3): Goldberg 1/4 + 1/3, Robert Johnson 1/4 + 0;
  // nobody bought Requiem with either, so it fills the list as the most bought other product.
  metrics = await customerMetrics(database.db, t);
  expect(metrics.recommendations).toEqual(['Goldberg', 'Robert Johnson', 'Requiem']);
  expect(metrics.recommendations).not.toContain('Kind of Blue');
  expect(metrics.recommendations).not.toContain('Blue Train');
  expect(metrics.profit).toBe(6);

  // CEL reads them.
  const condition =
    'customer.metrics.topCategory == "jazz" && customer.metrics.affinity[0].share == 1.0 && ' +
    '"Goldberg" in customer.metrics.recommendations && customer.metrics.recommendedCategory == "blues" && ' +
    'customer.metrics.profit != null && customer.metrics.profit > 5.0 && customer.metrics.margin == 0.6';
  expect(checkCel(condition, 'segment', 'bool')).toBeUndefined();
  const row = await database.db.selectFrom('customers').selectAll().where('id', '=', t).executeTakeFirstOrThrow();
  const facts = await customerFacts(database.db, row);
  expect(evaluateCondition(condition, 'segment', { customer: facts, now: new Date().toISOString() })).toBe(true);

  // The counts kept as orders came are what a recount from the orders gives.
  expect(await rebuildCopurchases(database.db)).toEqual({ items: once.buyers.length, pairs: once.pairs.length });
  expect(await counts()).toEqual(once);
});

test('a merge counts the two records as one customer', async () => {
  const a = await customer('merge-a@example.com');
  const b = await customer('merge-b@example.com');
  await order(a, [kob, robert]);
  await order(b, [kob, bach]);
  const kobBuyers = async () =>
    (await counts()).buyers.find((r) => r.kind === 'product' && r.item === 'Kind of Blue')!.buyers;
  const before = await kobBuyers();
  await database.db.transaction().execute((tx) => mergeCustomers(tx, a, b, 'test'));
  // Both had bought Kind of Blue: one person now.
  expect(await kobBuyers()).toBe(before - 1);
  const kept = await counts();
  expect(kept.pairs).toContainEqual({ kind: 'product', a: 'Robert Johnson', b: 'Goldberg', customers: 1 });
  await rebuildCopurchases(database.db);
  expect(await counts()).toEqual(kept);
});
