/**
 * Finding and ranking customers, on the database: RFM quintiles on a small base worked out by hand,
 * and the list's filters, sorts and cursor pages over a base the value models are fitted on.
 */
import { sql } from 'kysely';
import { migrate, openDatabase, type OpenDatabase } from '../../activities/db/database';
import { fitCustomerBase, latestModel } from '../../activities/insights/models';
import { fitRfm, rfmScores } from '../../activities/insights/rfm';
import { CustomerListError, type CustomerListQuery, listCustomers } from '../../activities/store/customer-list';
import { customerFacts } from '../../activities/store/facts';
import { getCustomer } from '../../activities/store/customers';
import type { Db } from '../../activities/db/database';

const DAY = 86_400_000;
let database: OpenDatabase;
let db: Db;

beforeAll(async () => {
  database = await openDatabase({});
  db = database.db;
  await migrate(db);
});

afterAll(async () => {
  await database?.close();
});

async function addCustomer(db: Db, id: string, fields: { stage?: string; tags?: string[]; mergedInto?: string } = {}) {
  await sql`insert into customers (id, email, lifecycle_stage, tags, merged_into)
    values (${id}, ${`${id}@list.example`}, ${fields.stage ?? 'prospect'}, ${JSON.stringify(fields.tags ?? [])}::jsonb, ${fields.mergedInto ?? null})`.execute(
    db,
  );
}

/** `count` orders of `each`, the last at `last`, the others a week apart before it. */
async function addOrders(db: Db, customer: string, count: number, each: number, last: Date) {
  for (let k = 0; k < count; k++) {
    await sql`insert into orders (id, customer_id, placed_at, total)
      values (${`${customer}-o${k}`}, ${customer}, ${new Date(last.getTime() - k * 7 * DAY).toISOString()}::timestamptz, ${each})`.execute(
      db,
    );
  }
}

test('RFM: quintile breakpoints over the customers with orders, each customer scored and segmented, as worked out by hand', async () => {
  const end = new Date('2026-01-01T00:00:00Z');
  // id, days since the last order, orders, revenue
  const base: [string, number, number, number][] = [
    ['c01', 10, 10, 1000],
    ['c02', 20, 1, 50],
    ['c03', 30, 4, 200],
    ['c04', 40, 2, 80],
    ['c05', 50, 1, 20],
    ['c06', 60, 2, 100],
    ['c07', 70, 5, 300],
    ['c08', 80, 3, 60],
    ['c09', 90, 1, 30],
    ['c10', 100, 1, 500],
  ];
  for (const [id, days, orders, revenue] of base) {
    await addCustomer(db, id);
    await addOrders(db, id, orders, revenue / orders, new Date(end.getTime() - days * DAY));
  }
  await addCustomer(db, 'c11'); // no orders

  const breaks = await fitRfm(db, end);
  // percentile_cont over 10 values: the p-th lies at 9p between the sorted values, interpolated.
  // Days 10..100: 28, 46, 64, 82. Orders 1,1,1,1,2,2,3,4,5,10: 1, 1.6, 2.4, 4.2.
  // Revenue 20,30,50,60,80,100,200,300,500,1000: 46, 72, 140, 340.
  expect(breaks).toEqual({
    recencyDays: [28, 46, 64, 82].map((v): unknown => expect.closeTo(v, 9)),
    frequency: [1, 1.6, 2.4, 4.2].map((v): unknown => expect.closeTo(v, 9)),
    monetary: [46, 72, 140, 340].map((v): unknown => expect.closeTo(v, 9)),
  });

  const expected: Record<string, [number, number, number, string]> = {
    c01: [5, 5, 5, 'champions'],
    c02: [5, 1, 2, 'new'],
    c03: [4, 4, 4, 'loyal'],
    c04: [4, 3, 3, 'potential_loyalist'],
    c05: [3, 1, 1, 'about_to_sleep'],
    c06: [3, 3, 3, 'need_attention'],
    c07: [2, 5, 4, 'cant_lose'],
    c08: [2, 4, 2, 'at_risk'],
    c09: [1, 1, 1, 'hibernating'],
    c10: [1, 1, 5, 'hibernating'],
  };
  for (const [id, days, orders, revenue] of base) {
    const [recency, frequency, monetary, segment] = expected[id]!;
    const lastOrderAt = new Date(end.getTime() - days * DAY).toISOString();
    expect([id, rfmScores(breaks, { orderCount: orders, lifetimeValue: revenue, lastOrderAt }, end)]).toEqual([
      id,
      { recency, frequency, monetary, score: recency + frequency + monetary, segment },
    ]);
  }

  // Kept with a fit, they are in the customer's facts, scored as of when the facts are read.
  await db
    .insertInto('insight_models')
    .values({
      period_end: end,
      customers: 10,
      params: JSON.stringify({
        bgnbd: { r: 0.243, alpha: 4.41, a: 0.793, b: 2.43, logLikelihood: 0 },
        gammaGamma: { p: 6.25, q: 3.74, gamma: 15.4, logLikelihood: 0 },
        rfm: breaks,
      }),
    })
    .execute();
  const facts = await customerFacts(db, (await getCustomer(db, 'c08'))!, end);
  expect(facts.rfm).toEqual({ recency: 2, frequency: 4, monetary: 2, score: 8, segment: 'at_risk' });
  // 30 days on, c08 has slipped into the last fifth of recency.
  const later = await customerFacts(db, (await getCustomer(db, 'c08'))!, new Date(end.getTime() + 30 * DAY));
  expect(later.rfm).toMatchObject({ recency: 1, segment: 'at_risk' });
  expect((await customerFacts(db, (await getCustomer(db, 'c11'))!, end)).rfm).toEqual({
    recency: 0,
    frequency: 0,
    monetary: 0,
    score: 0,
    segment: 'none',
  });

  // A journey's condition, through the list, as of the fit's end.
  const atRisk = await listCustomers(
    db,
    { where: 'customer.rfm.segment == "at_risk"', sort: 'rfm', order: 'desc', limit: 50 },
    end,
  );
  expect(atRisk.customers.map((c) => c.id)).toEqual(['c08']);
  // The SQL score ranks as the scores in the facts do.
  const byRfm = await listCustomers(db, { sort: 'rfm', order: 'desc', limit: 50 }, end);
  expect(byRfm.customers.map((c) => [c.id, c.rfm.score])).toEqual([
    ['c01', 15],
    ['c03', 12],
    ['c07', 11],
    ['c04', 10],
    ['c06', 9],
    ['c08', 8],
    ['c02', 8],
    ['c10', 7],
    ['c05', 5],
    ['c09', 3],
    ['c11', 0],
  ]);
});

describe('the list', () => {
  const now = new Date();
  /** What each customer was given: orders, revenue, the last order's time. */
  const made = new Map<string, { orders: number; revenue: number; last: number | null; stage: string; vip: boolean }>();
  const stages = ['prospect', 'new_customer', 'repeat_customer', 'lapsed'];

  beforeAll(async () => {
    // The customers of the RFM test above go: this is a base of its own.
    await sql`delete from orders`.execute(db);
    await sql`delete from insight_models`.execute(db);
    await sql`delete from customers`.execute(db);
    for (let i = 1; i <= 66; i++) {
      const id = `c${String(i).padStart(3, '0')}`;
      const stage = stages[i % 4]!;
      const vip = i % 5 === 0;
      await addCustomer(db, id, { stage, tags: vip ? ['vip'] : [] });
      // Revenue and order counts repeat, so the sorts meet many ties.
      const orders = i % 11 === 0 ? 0 : 1 + (i % 4);
      const each = 10 * (1 + (i % 3));
      const last = new Date(now.getTime() - (1 + (i % 9) * 20) * DAY);
      if (orders) await addOrders(db, id, orders, each, last);
      made.set(id, { orders, revenue: orders * each, last: orders ? last.getTime() : null, stage, vip });
    }
    // A record merged into another is not listed.
    await addCustomer(db, 'c000', { mergedInto: 'c001' });
    const model = await fitCustomerBase(db, { now });
    expect(model.rfm?.frequency).toHaveLength(4);
    expect((await latestModel(db))?.rfm).toEqual(model.rfm);
  });

  async function allPages(q: Omit<CustomerListQuery, 'cursor'>) {
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await listCustomers(db, { ...q, ...(cursor ? { cursor } : {}) }, now);
      expect(page.customers.length).toBeLessThanOrEqual(q.limit);
      ids.push(...page.customers.map((c) => c.id));
      cursor = page.next ?? undefined;
      pages++;
    } while (cursor);
    return { ids, pages };
  }

  const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

  test.each([
    ['revenue', 'desc', (c: { revenue: number }) => c.revenue],
    ['revenue', 'asc', (c: { revenue: number }) => c.revenue],
    ['orders', 'desc', (c: { orders: number }) => c.orders],
    ['lastOrder', 'asc', (c: { last: number | null }) => c.last ?? -Infinity],
  ] as const)('sorted by %s %s in SQL: pages of 9 make the whole list, ties by id', async (sort, order, keyOf) => {
    const sign = order === 'desc' ? -1 : 1;
    const expected = [...made]
      .sort(([a, x], [b, y]) => sign * (keyOf(x as never) - keyOf(y as never) || byId(a, b)))
      .map(([id]) => id);
    const { ids, pages } = await allPages({ sort, order, limit: 9 });
    expect(ids).toEqual(expected);
    expect(pages).toBe(Math.ceil(66 / 9));
  });

  test.each(['rfm', 'clv', 'pAlive'] as const)(
    'sorted by %s: pages of 9 make the whole list, which is in order of the figures shown, ties by id',
    async (sort) => {
      const whole = await listCustomers(db, { sort, order: 'desc', limit: 1000 }, now);
      expect(whole.next).toBeNull();
      expect(whole.customers).toHaveLength(66);
      const figure = (c: (typeof whole.customers)[number]) =>
        sort === 'rfm' ? c.rfm.score : sort === 'clv' ? c.predicted.clv : c.predicted.pAlive;
      for (let i = 1; i < whole.customers.length; i++) {
        const [a, b] = [whole.customers[i - 1]!, whole.customers[i]!];
        expect(figure(a) > figure(b) || (figure(a) === figure(b) && a.id > b.id)).toBe(true);
      }
      expect(new Set(whole.customers.map(figure)).size).toBeGreaterThan(3);
      const { ids } = await allPages({ sort, order: 'desc', limit: 9 });
      expect(ids).toEqual(whole.customers.map((c) => c.id));
    },
  );

  test('filtered by stage, tag, email and a CEL condition, page by page', async () => {
    const stage = await allPages({ stage: 'lapsed', sort: 'revenue', order: 'desc', limit: 4 });
    expect(stage.ids.sort()).toEqual([...made].filter(([, c]) => c.stage === 'lapsed').map(([id]) => id));
    const vip = await allPages({ tag: 'vip', sort: 'orders', order: 'desc', limit: 5 });
    expect(vip.ids.sort()).toEqual([...made].filter(([, c]) => c.vip).map(([id]) => id));
    const one = await listCustomers(db, { email: 'C007@List.Example', sort: 'revenue', order: 'desc', limit: 5 });
    expect(one.customers.map((c) => c.id)).toEqual(['c007']);

    const cel = await allPages({
      where: 'customer.metrics.orderCount >= 3 && "vip" in customer.tags == false',
      sort: 'revenue',
      order: 'desc',
      limit: 4,
    });
    const expected = [...made]
      .filter(([, c]) => c.orders >= 3 && !c.vip)
      .sort(([a, x], [b, y]) => y.revenue - x.revenue || byId(b, a))
      .map(([id]) => id);
    expect(cel.ids).toEqual(expected);
    // A condition some customers cannot be read by (no such attribute) leaves them out.
    const none = await listCustomers(db, {
      where: 'customer.attributes.plan == "gold"',
      sort: 'revenue',
      order: 'desc',
      limit: 10,
    });
    expect(none).toEqual({ customers: [], next: null });
  });

  test('sorted by profit: from the lines with a cost; customers with none rank below every known profit', async () => {
    // c001's first order: 2 × (10 − 4) = 12 (its revenue is 40); c002's: 1 × (100 − 10) = 90.
    await sql`insert into order_lines (order_id, line, product, quantity, price, cost) values
      ('c001-o0', 0, 'mug', 2, 10, 4), ('c001-o0', 1, 'gift wrap', 1, 2, null), ('c002-o0', 0, 'lamp', 1, 100, 10)`.execute(
      db,
    );
    const profit = new Map([...made].map(([id]) => [id, -Infinity]));
    profit.set('c001', 12);
    profit.set('c002', 90);
    const expected = [...profit].sort(([a, x], [b, y]) => (x === y ? byId(b, a) : y - x)).map(([id]) => id);
    const { ids } = await allPages({ sort: 'profit', order: 'desc', limit: 9 });
    expect(ids.slice(0, 2)).toEqual(['c002', 'c001']);
    expect(ids).toEqual(expected);
    // From the bottom: the unknown first, then the least profitable known.
    const { ids: up } = await allPages({ sort: 'profit', order: 'asc', limit: 9 });
    expect(up).toEqual([...expected].reverse());
  });

  test('a condition that does not compile, or a cursor of another sort, names the parameter', async () => {
    const bad = listCustomers(db, { where: 'customer.metrics.orderCount >', sort: 'revenue', order: 'desc', limit: 5 });
    await expect(bad).rejects.toBeInstanceOf(CustomerListError);
    await expect(bad).rejects.toMatchObject({ parameter: 'where' });
    const typed = listCustomers(db, { where: 'customer.email', sort: 'revenue', order: 'desc', limit: 5 });
    await expect(typed).rejects.toMatchObject({ parameter: 'where', message: expect.stringContaining('bool') });
    const first = await listCustomers(db, { sort: 'revenue', order: 'desc', limit: 5 });
    await expect(
      listCustomers(db, { sort: 'orders', order: 'desc', limit: 5, cursor: first.next! }),
    ).rejects.toMatchObject({ parameter: 'cursor', message: expect.stringContaining('sorted by revenue desc') });
    await expect(
      listCustomers(db, { sort: 'revenue', order: 'desc', limit: 5, cursor: 'not-a-cursor' }),
    ).rejects.toMatchObject({ parameter: 'cursor' });
  });
});
