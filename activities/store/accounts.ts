/**
 * Accounts: client organisations, each with its contacts, who are customers as any other. An account
 * is named by the id the other system gives it (an event's `account`, a customer's profile) and made
 * the first time it is named. An order belongs to the account its customer had when it was placed,
 * and stays with it should the contact move on: the account's revenue is what was sold to it.
 */
import { sql } from 'kysely';
import type { Db } from '../db/database';
import type { CustomerRow } from '../db/schema';
import { predictedFor } from '../insights/models';
import { appendTimeline, type TimelineItem } from './timeline';

/** An account as events and profiles name it: its id, and optionally its name and attributes to keep. */
export interface AccountRef {
  id: string;
  name?: string | undefined;
  /** Merged into those kept, key by key, as a customer's attributes are. */
  attributes?: Record<string, unknown> | undefined;
}

/**
 * Makes the account if it is new, or keeps the name and attributes given. Naming only the id writes
 * nothing for an account that exists, and a row that would not change is not written: the contacts
 * of one account sending events at once do not queue on its row.
 */
async function upsertAccount(db: Db, ref: AccountRef, at: Date = new Date()): Promise<void> {
  const keeps = ref.name !== undefined || ref.attributes !== undefined;
  await db
    .insertInto('accounts')
    .values({
      id: ref.id,
      name: ref.name ?? null,
      attributes: JSON.stringify(ref.attributes ?? {}),
      updated_at: at,
    })
    .onConflict((oc) =>
      keeps
        ? oc
            .column('id')
            .doUpdateSet({
              name: sql`coalesce(excluded.name, accounts.name)`,
              attributes: sql`accounts.attributes || excluded.attributes`,
              updated_at: sql`excluded.updated_at`,
            })
            .where(
              sql<boolean>`accounts.name is distinct from coalesce(excluded.name, accounts.name) or accounts.attributes is distinct from accounts.attributes || excluded.attributes`,
            )
        : oc.column('id').doNothing(),
    )
    .execute();
}

/**
 * Makes `customer` a contact of `account` (made or updated as named), or of none (null). A change is
 * said on their timeline. Orders they placed while they had no account go with the account they join;
 * orders placed for another account stay with it. Returns the customer as they are now.
 */
export async function setCustomerAccount(
  db: Db,
  customer: CustomerRow,
  account: AccountRef | null,
  at: Date = new Date(),
): Promise<CustomerRow> {
  if (account) await upsertAccount(db, account, at);
  const from = customer.account_id;
  const to = account?.id ?? null;
  if (from === to) return customer;
  const row = await db
    .updateTable('customers')
    .set({ account_id: to, updated_at: at })
    .where('id', '=', customer.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  if (to) {
    await db
      .updateTable('orders')
      .set({ account_id: to })
      .where('customer_id', '=', customer.id)
      .where('account_id', 'is', null)
      .execute();
  }
  await appendTimeline(db, {
    customerId: customer.id,
    at,
    kind: 'change',
    summary: to
      ? from
        ? `account ${from} → ${to}`
        : `contact of account ${to}`
      : `no longer a contact of account ${from}`,
    data: { from, to },
  });
  return row;
}

/** The account a customer is a contact of, as journeys read it. */
export async function accountFacts(
  db: Db,
  accountId: string | null,
): Promise<{ id: string; name: string | null } | null> {
  if (!accountId) return null;
  const row = await db.selectFrom('accounts').select(['id', 'name']).where('id', '=', accountId).executeTakeFirst();
  return row ? { id: row.id, name: row.name } : null;
}

interface AccountContact {
  id: string;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  lifecycleStage: string;
  /** Their predicted 12-month value (0 before a model is fitted or without orders). */
  clv: number;
}

/** An account, its contacts and what it is worth: GET /v1/accounts/<id>. */
export interface AccountView {
  id: string;
  name: string | null;
  attributes: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  contacts: AccountContact[];
  /** The orders placed for the account: their count, their sum, the last one's time. */
  orderCount: number;
  revenue: number;
  lastOrderAt: string | null;
  /** The sum of its contacts' predicted 12-month values (`customer.predicted.clv`). */
  value: number;
}

/** An account with its contacts, revenue and value; undefined for an unknown id. */
export async function getAccount(db: Db, accountId: string, now: Date = new Date()): Promise<AccountView | undefined> {
  const account = await db.selectFrom('accounts').selectAll().where('id', '=', accountId).executeTakeFirst();
  if (!account) return undefined;
  const contacts = await db
    .selectFrom('customers')
    .select(['id', 'email', 'first_name', 'last_name', 'lifecycle_stage'])
    .where('account_id', '=', accountId)
    .where('merged_into', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  const orders = await db
    .selectFrom('orders')
    .select([
      sql<string>`count(*)`.as('count'),
      sql<string | null>`sum(total)`.as('revenue'),
      sql<Date | null>`max(placed_at)`.as('last'),
    ])
    .where('account_id', '=', accountId)
    .executeTakeFirstOrThrow();
  // Per contact: an account has tens of them.
  const withValue: AccountContact[] = [];
  for (const c of contacts) {
    withValue.push({
      id: c.id,
      email: c.email,
      firstName: c.first_name,
      lastName: c.last_name,
      lifecycleStage: c.lifecycle_stage,
      clv: (await predictedFor(db, c.id, now)).clv,
    });
  }
  return {
    id: account.id,
    name: account.name,
    attributes: account.attributes,
    createdAt: account.created_at.toISOString(),
    updatedAt: account.updated_at.toISOString(),
    contacts: withValue,
    orderCount: Number(orders.count),
    revenue: cents(Number(orders.revenue ?? 0)),
    lastOrderAt: orders.last ? new Date(orders.last).toISOString() : null,
    value: cents(withValue.reduce((sum, c) => sum + c.clv, 0)),
  };
}

const cents = (v: number) => Math.round(v * 100) / 100;

/** A timeline entry of one of the account's contacts. */
export interface AccountTimelineItem extends TimelineItem {
  customerId: string;
}

/**
 * Holds the account's sends until the transaction ends, as the customer's send lock does for one
 * customer: two contacts' sends at the same instant cannot both pass an account cap of one.
 */
export async function lockAccountSends(trx: Db, accountId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`send-account:${accountId}`}, 0))`.execute(trx);
}

/** When marketing messages went to the account's contacts since `since` (sent, or under way), for the account cap. */
export async function recentAccountSends(db: Db, accountId: string, since: Date): Promise<number[]> {
  const rows = await db
    .selectFrom('send_ledger as l')
    .innerJoin('customers as c', 'c.id', 'l.customer_id')
    .select('l.sent_at')
    .where('c.account_id', '=', accountId)
    .where('l.category', '=', 'marketing')
    .where('l.state', 'in', ['sent', 'claimed'])
    .where('l.sent_at', '>', since)
    .execute();
  return rows.flatMap((r) => (r.sent_at ? [r.sent_at.getTime()] : []));
}
