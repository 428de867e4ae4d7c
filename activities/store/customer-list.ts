/**
 * Finding and ranking customers (GET /v1/customers): the customers still their own record, filtered
 * by simple fields in SQL and by a CEL condition over the facts journeys read, sorted by a figure,
 * a page at a time behind an opaque cursor.
 *
 * Revenue, profit, orders, last order and RFM score are sorted in the database: a page reads only its
 * rows (after one aggregate of the orders; profit adds one look at each customer's order lines). The predicted value and the chance of being active come
 * from the newest model in code, so those sorts score every candidate the simple fields leave (in
 * batches of a thousand, one query of orders each) on each page. A CEL condition is evaluated on the
 * candidates in the sorted order until the page is full; a selective one reads many customers for few,
 * so one page stops after a bounded number and hands back a cursor to go on from.
 *
 * A search (`q`, searchCustomers) narrows the candidates first to a bounded few, each found by an
 * index: the fields and the sort then apply to those, adding up only their orders. Sorting by when
 * the customer was first seen (`created`) reads an index and adds up no orders at all, and a brief
 * page (listCustomersBrief) reads one query of order totals instead of each customer's facts: the
 * console's list stays fast with a large base.
 */
import { type RawBuilder, sql } from 'kysely';
import { CelEvaluationError, checkCel, evaluateCondition } from '../../definitions/cel';
import {
  type CustomerFacts,
  type CustomerMetrics,
  type PredictedFacts,
  type RfmFacts,
  UNKNOWN_PREDICTION,
  UNKNOWN_RFM,
} from '../../definitions/facts';
import type { Db } from '../db/database';
import type { CustomerRow, LifecycleStage } from '../db/schema';
import { type FittedModels, latestModel, predictFrom } from '../insights/models';
import { rfmScoreSql } from '../insights/rfm';
import { type CustomerView, toCustomerView } from './customers';
import { type CustomerSort } from './customer-sorts';
import { customerFacts } from './facts';

export interface CustomerListQuery {
  /** A CEL condition over `customer` (and `now`), as a segment reads it. */
  where?: string | undefined;
  stage?: LifecycleStage | undefined;
  tag?: string | undefined;
  email?: string | undefined;
  /** A search: an email, a phone, an external id, or the start of a name (searchCustomers). */
  q?: string | undefined;
  sort: CustomerSort;
  order: 'asc' | 'desc';
  limit: number;
  /** The `next` of the page before. */
  cursor?: string | undefined;
}

export type ListedCustomer = CustomerView & { metrics: CustomerMetrics; predicted: PredictedFacts; rfm: RfmFacts };

export interface CustomerPage {
  customers: ListedCustomer[];
  /** Where the next page starts; null after the last. */
  next: string | null;
}

/** A query that cannot be answered, and the parameter at fault. */
export class CustomerListError extends Error {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(message);
    this.name = 'CustomerListError';
  }
}

/**
 * What a cursor holds: the sort it belongs to, the last row's sort key (as text, exactly as the
 * database wrote it) and id, and the time the listing scores recency and predictions at, so every
 * page of one listing ranks by the same clock.
 */
interface Cursor {
  sort: CustomerSort;
  order: 'asc' | 'desc';
  key: string;
  id: string;
  at: string;
}

const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');

function decodeCursor(text: string, q: CustomerListQuery): Cursor {
  let c: Partial<Cursor>;
  try {
    c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<Cursor>;
  } catch {
    throw new CustomerListError('cursor', 'expected the `next` of a page before');
  }
  if (typeof c?.key !== 'string' || typeof c.id !== 'string' || typeof c.at !== 'string' || !Date.parse(c.at))
    throw new CustomerListError('cursor', 'expected the `next` of a page before');
  if (c.sort !== q.sort || c.order !== q.order)
    throw new CustomerListError(
      'cursor',
      `this cursor pages a list sorted by ${c.sort} ${c.order}, not ${q.sort} ${q.order}`,
    );
  return c as Cursor;
}

/** How many candidates one page reads at most when a CEL condition filters them. */
const scanBound = (limit: number) => Math.max(2_000, 4 * limit);
/** Rows per query of the sorted candidates. */
const BATCH = 500;
/** Customers scored per query of orders for the sorts the models give. */
const SCORE_BATCH = 1_000;

interface Candidate {
  row: CustomerRow;
  key: string;
}

export async function listCustomers(db: Db, q: CustomerListQuery, clock = new Date()): Promise<CustomerPage> {
  const { picked, next } = await pick(db, q, clock, true);
  return {
    customers: picked.map(({ row, facts }) => ({
      ...toCustomerView(row),
      metrics: facts!.metrics,
      predicted: facts!.predicted ?? UNKNOWN_PREDICTION,
      rfm: facts!.rfm ?? UNKNOWN_RFM,
    })),
    next,
  };
}

/** A customer as a brief list shows them: the profile and their order totals. */
type BriefCustomer = CustomerView & {
  metrics: Pick<CustomerMetrics, 'orderCount' | 'lifetimeValue' | 'firstOrderAt' | 'lastOrderAt'>;
};

export interface BriefCustomerPage {
  customers: BriefCustomer[];
  next: string | null;
}

/**
 * The same list, each customer with their profile and order totals only (`fields=brief`): no
 * predictions, RFM or metrics by category, so a page costs one query of totals rather than the
 * facts of each customer (a CEL condition still reads the facts of those it filters).
 */
export async function listCustomersBrief(db: Db, q: CustomerListQuery, clock = new Date()): Promise<BriefCustomerPage> {
  const { picked, next } = await pick(db, q, clock, q.where !== undefined);
  const ids = picked.map((p) => p.row.id);
  const totals = new Map(
    (ids.length === 0
      ? []
      : await db
          .selectFrom('orders')
          .select([
            'customer_id',
            sql<string>`count(*)`.as('orders'),
            sql<string | null>`sum(total)`.as('revenue'),
            sql<Date | null>`min(placed_at)`.as('first'),
            sql<Date | null>`max(placed_at)`.as('last'),
          ])
          .where('customer_id', 'in', ids)
          .groupBy('customer_id')
          .execute()
    ).map((t) => [t.customer_id, t]),
  );
  return {
    customers: picked.map(({ row }) => {
      const t = totals.get(row.id);
      return {
        ...toCustomerView(row),
        metrics: {
          orderCount: Number(t?.orders ?? 0),
          lifetimeValue: Math.round(Number(t?.revenue ?? 0) * 100) / 100,
          firstOrderAt: t?.first ? new Date(t.first).toISOString() : null,
          lastOrderAt: t?.last ? new Date(t.last).toISOString() : null,
        },
      };
    }),
    next,
  };
}

/** A page's customers in order, with their facts when asked for (a condition always needs them). */
async function pick(
  db: Db,
  q: CustomerListQuery,
  clock: Date,
  withFacts: boolean,
): Promise<{ picked: { row: CustomerRow; facts?: CustomerFacts }[]; next: string | null; now: Date }> {
  if (q.where !== undefined) {
    const problem = checkCel(q.where, 'segment', 'bool');
    if (problem) throw new CustomerListError('where', `at offset ${problem.offset}: ${problem.message}`);
  }
  const after = q.cursor ? decodeCursor(q.cursor, q) : undefined;
  const now = after ? new Date(after.at) : clock;
  const found = q.q === undefined ? undefined : await searchCustomers(db, q.q);
  if (found?.length === 0) return { picked: [], next: null, now };
  const model = await latestModel(db);
  const candidates =
    q.sort === 'clv' || q.sort === 'pAlive'
      ? predictedCandidates(db, q, q.sort, model, after, now, found)
      : sqlCandidates(db, q, model, after, now, found);

  const picked: { row: CustomerRow; facts?: CustomerFacts }[] = [];
  const bound = q.where === undefined ? Infinity : scanBound(q.limit);
  let scanned = 0;
  let last: Candidate | undefined;
  let more = false;
  for await (const c of candidates) {
    if (picked.length === q.limit || scanned === bound) {
      more = true;
      break;
    }
    scanned++;
    last = c;
    if (!withFacts) {
      picked.push({ row: c.row });
      continue;
    }
    const facts = await customerFacts(db, c.row, now);
    if (q.where !== undefined) {
      try {
        if (!evaluateCondition(q.where, 'segment', { customer: facts, now: now.toISOString() })) continue;
      } catch (err) {
        // A customer the condition cannot read (an attribute they lack) does not match, as in segments.
        if (!(err instanceof CelEvaluationError)) throw err;
        continue;
      }
    }
    picked.push({ row: c.row, facts });
  }
  const next =
    more && last
      ? encodeCursor({ sort: q.sort, order: q.order, key: last.key, id: last.row.id, at: now.toISOString() })
      : null;
  return { picked, next, now };
}

/** How many customers a search finds at most: the fields and the sort then apply to these. */
export const SEARCH_MAX = 200;

/** A phone number as the intake keeps it (E.164), from how people type one; undefined if it is not one. */
function phoneOf(text: string): string | undefined {
  let p = text.replace(/[\s().\-/]/g, '');
  if (p.startsWith('00')) p = `+${p.slice(2)}`;
  return /^\+[1-9]\d{6,14}$/.test(p) ? p : undefined;
}

/** `%` and `_` (and the escape) taken literally in a LIKE pattern. */
const likePrefix = (text: string) => `${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * The customers a search names, at most SEARCH_MAX, each an index lookup or range: first the exact
 * matches (an email, any case; a phone, typed with spaces or dashes or 00 for +; an external id,
 * alone or as `system:id`), then the customers whose first name, last name or full name starts with
 * the text (any case), in the order of those names. A substring inside a name is not searched: it
 * would read every customer.
 */
async function searchCustomers(db: Db, text: string, max = SEARCH_MAX): Promise<string[]> {
  const q = text.trim();
  if (!q) return [];
  const phone = phoneOf(q);
  const system = /^([a-z0-9][a-z0-9_-]{0,39}):(.+)$/.exec(q);
  const hits = await db
    .selectFrom('identities')
    .select('customer_id')
    .where((eb) =>
      eb.or([
        eb.and([eb('kind', '=', 'email'), eb('value', '=', q.toLowerCase())]),
        ...(phone ? [eb.and([eb('kind', '=', 'phone'), eb('value', '=', phone)])] : []),
        eb.and([eb('value', '=', q), eb('kind', 'like', 'ext:%')]),
        ...(system ? [eb.and([eb('kind', '=', `ext:${system[1]!}`), eb('value', '=', system[2]!)])] : []),
      ]),
    )
    .limit(max)
    .execute();
  const ids: string[] = [];
  const add = (id: string) => ids.length < max && !ids.includes(id) && ids.push(id);
  // An identity names the record that holds it now; a merged record's pointer is followed all the same.
  for (const h of hits) {
    const row = await db
      .selectFrom('customers')
      .select(['id', 'merged_into'])
      .where('id', '=', h.customer_id)
      .executeTakeFirst();
    add(row?.merged_into ?? h.customer_id);
  }
  if (q.includes('@') || ids.length >= max) return ids;
  const pattern = likePrefix(q.toLowerCase());
  const names = [
    sql`lower(first_name) collate "C"`,
    sql`lower(last_name) collate "C"`,
    ...(q.includes(' ') ? [sql`lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '')) collate "C"`] : []),
  ];
  for (const name of names) {
    const rows = await db
      .selectFrom('customers')
      .select('id')
      .where('merged_into', 'is', null)
      .where(sql<boolean>`${name} like ${pattern}`)
      .orderBy(sql`${name}`)
      .orderBy('id')
      .limit(max - ids.length)
      .execute();
    for (const r of rows) add(r.id);
    if (ids.length >= max) break;
  }
  return ids;
}

/** The simple fields, as SQL over `c` (customers); `found`: only these (a search's). */
function conditions(q: CustomerListQuery, found?: string[]): RawBuilder<boolean> {
  const parts = [sql`c.merged_into is null`];
  if (found) parts.push(sql`c.id in (${sql.join(found)})`);
  if (q.stage) parts.push(sql`c.lifecycle_stage = ${q.stage}`);
  if (q.tag) parts.push(sql`c.tags @> ${JSON.stringify([q.tag])}::jsonb`);
  if (q.email) parts.push(sql`lower(c.email) = ${q.email.toLowerCase()}`);
  return sql<boolean>`(${sql.join(parts, sql` and `)})`;
}

/**
 * Profit: quantity × (price − cost) over the order lines whose cost is known (customer.metrics.profit).
 * A customer none of whose lines has a cost has no known profit: they rank below every known profit
 * (last from the top, first from the bottom), never mixed in by their revenue.
 */
const PROFIT = sql`coalesce(
  (select sum(l.quantity * (l.price - l.cost)) from order_lines l join orders o on o.id = l.order_id
    where o.customer_id = c.id and l.cost is not null),
  '-Infinity'::numeric)`;

/** Each SQL sort's key, never null, and the type its text is read back as in a cursor. */
function sqlKey(
  sort: CustomerSort,
  model: FittedModels | undefined,
  now: Date,
): { key: RawBuilder<unknown>; type: string } {
  switch (sort) {
    case 'orders':
      return { key: sql`coalesce(m.orders, 0)`, type: 'bigint' };
    case 'lastOrder':
      return { key: sql`coalesce(m.last_order, '-infinity'::timestamptz)`, type: 'timestamptz' };
    case 'rfm':
      return {
        key: rfmScoreSql(model?.rfm, { orders: 'm.orders', revenue: 'm.revenue', lastOrder: 'm.last_order' }, now),
        type: 'int',
      };
    case 'profit':
      return { key: PROFIT, type: 'numeric' };
    // When the customer was first seen: read from an index, no orders added up (the join is dropped).
    case 'created':
      return { key: sql`c.created_at`, type: 'timestamptz' };
    default:
      return { key: sql`coalesce(m.revenue, 0)`, type: 'numeric' };
  }
}

async function* sqlCandidates(
  db: Db,
  q: CustomerListQuery,
  model: FittedModels | undefined,
  after: Cursor | undefined,
  now: Date,
  found?: string[],
): AsyncGenerator<Candidate> {
  const { key, type } = sqlKey(q.sort, model, now);
  const dir = sql.raw(q.order);
  const cmp = sql.raw(q.order === 'desc' ? '<' : '>');
  let orders = db.selectFrom('orders');
  // A search's few customers: only their orders are added up.
  if (found) orders = orders.where('customer_id', 'in', found);
  const perCustomer = orders
    .select([
      'customer_id',
      sql<string>`count(*)`.as('orders'),
      sql<string>`sum(total)`.as('revenue'),
      sql<Date>`max(placed_at)`.as('last_order'),
    ])
    .groupBy('customer_id')
    .as('m');
  let from = after ? { key: after.key, id: after.id } : undefined;
  for (;;) {
    let query = db
      .selectFrom('customers as c')
      .leftJoin(perCustomer, 'm.customer_id', 'c.id')
      .selectAll('c')
      .select(sql<string>`(${key})::text`.as('sort_key'))
      .where(conditions(q, found));
    if (from) query = query.where(sql<boolean>`(${key}, c.id) ${cmp} (${from.key}::${sql.raw(type)}, ${from.id})`);
    const rows = await query
      .orderBy(sql`${key} ${dir}`)
      .orderBy(sql`c.id ${dir}`)
      .limit(BATCH)
      .execute();
    for (const { sort_key, ...row } of rows) yield { row, key: sort_key };
    if (rows.length < BATCH) return;
    from = { key: rows.at(-1)!.sort_key, id: rows.at(-1)!.id };
  }
}

/** Orders the predicted-value sorts compare by: the figure, then the id. */
function compareKeyed(order: 'asc' | 'desc') {
  const sign = order === 'desc' ? -1 : 1;
  return (a: { key: number; id: string }, b: { key: number; id: string }) =>
    sign * (a.key - b.key || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

async function* predictedCandidates(
  db: Db,
  q: CustomerListQuery,
  field: 'clv' | 'pAlive',
  model: FittedModels | undefined,
  after: Cursor | undefined,
  now: Date,
  found?: string[],
): AsyncGenerator<Candidate> {
  // Every candidate scored: a thousand customers and their orders at a time, in order of id.
  const keyed: { key: number; id: string }[] = [];
  let lastId: string | undefined;
  for (;;) {
    let query = db.selectFrom('customers as c').select('c.id').where(conditions(q, found));
    if (lastId !== undefined) query = query.where('c.id', '>', lastId);
    const ids = (await query.orderBy('c.id').limit(SCORE_BATCH).execute()).map((r) => r.id);
    if (ids.length === 0) break;
    const orders = new Map<string, { placed_at: Date; total: string }[]>();
    if (model) {
      const rows = await db
        .selectFrom('orders')
        .select(['customer_id', 'placed_at', 'total'])
        .where('customer_id', 'in', ids)
        .execute();
      for (const o of rows) {
        const list = orders.get(o.customer_id) ?? [];
        list.push(o);
        orders.set(o.customer_id, list);
      }
    }
    for (const id of ids) keyed.push({ id, key: model ? predictFrom(model, orders.get(id) ?? [], now)[field] : 0 });
    if (ids.length < SCORE_BATCH) break;
    lastId = ids.at(-1);
  }
  const compare = compareKeyed(q.order);
  keyed.sort(compare);
  let start = 0;
  if (after) {
    const from = { key: Number(after.key), id: after.id };
    while (start < keyed.length && compare(keyed[start]!, from) <= 0) start++;
  }
  for (let i = start; i < keyed.length; i += BATCH) {
    const page = keyed.slice(i, i + BATCH);
    const rows = await db
      .selectFrom('customers')
      .selectAll()
      .where(
        'id',
        'in',
        page.map((k) => k.id),
      )
      .execute();
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const k of page) {
      const row = byId.get(k.id);
      if (row) yield { row, key: String(k.key) };
    }
  }
}
