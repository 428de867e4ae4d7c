import type { CustomerFacts } from '../../definitions/facts';
import type { Db } from '../db/database';
import { mergeCopurchases } from './copurchases';
import { consentRecordedAt } from './consent';
import { destroyDataKeys } from './data-keys';
import type { Channel, CustomerRow, Database, LifecycleStage } from '../db/schema';
import type { QueryCreator } from 'kysely';
import { newId } from './ids';
import { mergeTopicChoices } from './topics';

/** A customer as the API shows them: the facts journeys read, less consent and metrics, plus dates. */
export interface CustomerView extends Omit<
  CustomerFacts,
  'consent' | 'metrics' | 'lifecycleStage' | 'preferredChannel'
> {
  lifecycleStage: LifecycleStage;
  preferredChannel: Channel | null;
  createdAt: string;
  updatedAt: string;
}

export function toCustomerView(row: CustomerRow): CustomerView {
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
    preferredChannel: row.preferred_channel,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export interface CustomerRef {
  id?: string | undefined;
  email?: string | undefined;
  phone?: string | undefined;
  /** The id another system knows the customer by. */
  externalId?: { system: string; id: string } | undefined;
}

export interface ProfileFields {
  email?: string | undefined;
  phone?: string | undefined;
  firstName?: string | undefined;
  lastName?: string | undefined;
  timezone?: string | undefined;
  locale?: string | undefined;
  preferredChannel?: Channel | undefined;
  attributes?: Record<string, unknown> | undefined;
  /** Recorded separately (activities/store/consent.ts), with its evidence. */
  consent?: unknown;
}

/** A customer by id, following merges to the record that survived. */
export async function getCustomer(db: Db, id: string): Promise<CustomerRow | undefined> {
  let row = await db.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirst();
  for (let hops = 0; row?.merged_into && hops < 10; hops++) {
    row = await db.selectFrom('customers').selectAll().where('id', '=', row.merged_into).executeTakeFirst();
  }
  return row;
}

/**
 * The id a customer's records go under now: their own, or the survivor's after their record merged
 * into another (a journey started for the merged record goes on writing to the one that stays).
 */
export async function currentCustomerId(db: Db, id: string): Promise<string> {
  return (await getCustomer(db, id))?.id ?? id;
}

/** The identities a reference names: email (lower case), phone, and an external id as `ext:<system>`. */
function identitiesOf(ref: CustomerRef): { kind: string; value: string }[] {
  return [
    ...(ref.email ? [{ kind: 'email', value: ref.email.toLowerCase() }] : []),
    ...(ref.phone ? [{ kind: 'phone', value: ref.phone }] : []),
    ...(ref.externalId ? [{ kind: `ext:${ref.externalId.system}`, value: ref.externalId.id }] : []),
  ];
}

/**
 * The distinct customers a reference's identities point to, oldest first, and whether every
 * identity it names is known already. The identities are read in one statement, and their
 * customers, when there are any, in another: a join costs more to plan than both for a customer
 * who is new, the most frequent case.
 */
async function matching(db: Db, ref: CustomerRef): Promise<{ found: CustomerRow[]; allKnown: boolean }> {
  const ids = identitiesOf(ref);
  if (ids.length === 0) return { found: [], allKnown: true };
  const hits = await db
    .selectFrom('identities')
    .select('customer_id')
    .where((eb) => eb.or(ids.map(({ kind, value }) => eb.and([eb('kind', '=', kind), eb('value', '=', value)]))))
    .execute();
  if (hits.length === 0) return { found: [], allKnown: false };
  const rows = await db
    .selectFrom('customers')
    .selectAll()
    .where('id', 'in', [...new Set(hits.map((h) => h.customer_id))])
    .execute();
  const found: CustomerRow[] = [];
  for (const hit of rows) {
    // Identities move to the record that stays in a merge; a pointer left behind is followed.
    const row = hit.merged_into ? await getCustomer(db, hit.id) : hit;
    if (row && !found.some((f) => f.id === row.id)) found.push(row);
  }
  found.sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || a.id.localeCompare(b.id));
  return { found, allKnown: hits.length === ids.length };
}

export async function findCustomer(db: Db, ref: CustomerRef): Promise<CustomerRow | undefined> {
  if (ref.id) return getCustomer(db, ref.id);
  return (await matching(db, ref)).found[0];
}

/** The insert of a customer's identities (those already known, to them or another, stay as they are), not run. */
function identitiesInsert(qc: QueryCreator<Database>, customerId: string, ids: { kind: string; value: string }[]) {
  return qc
    .insertInto('identities')
    .values(ids.map(({ kind, value }) => ({ kind, value, customer_id: customerId })))
    .onConflict((oc) => oc.columns(['kind', 'value']).doNothing());
}

async function addIdentities(db: Db, customerId: string, ids: { kind: string; value: string }[]): Promise<void> {
  if (ids.length > 0) await identitiesInsert(db, customerId, ids).execute();
}

/**
 * Finds the customer an event names, or creates them, and applies the profile fields it carries.
 * When the identities it names belong to two records (an email known to one system, an external id
 * to another), those records are one person: they are merged into the older one.
 */
export async function upsertCustomer(
  db: Db,
  ref: CustomerRef,
  profile: ProfileFields = {},
): Promise<{ customer: CustomerRow; created: boolean; merged: string[] }> {
  const email = (profile.email ?? ref.email)?.toLowerCase();
  const phone = profile.phone ?? ref.phone;
  const now = new Date();
  let existing: CustomerRow | undefined;
  const merged: string[] = [];
  const identities = identitiesOf({ ...ref, email, phone });
  /** Whether every identity to add is known already (to this customer or another): inserting them would do nothing. */
  let identitiesKnown = false;
  if (ref.id) {
    existing = await getCustomer(db, ref.id);
    if (!existing) throw new CustomerNotFoundError(ref.id);
  } else {
    const { found, allKnown } = await matching(db, ref);
    const named = identitiesOf(ref);
    identitiesKnown = allKnown && identities.every((i) => named.some((n) => n.kind === i.kind && n.value === i.value));
    existing = found[0];
    for (const other of found.slice(1)) {
      await mergeCustomers(db, existing!.id, other.id, 'the same event named both');
      merged.push(other.id);
    }
    if (existing && merged.length) existing = await getCustomer(db, existing.id);
  }
  if (!existing) {
    const id = newId('cus');
    // The customer and their identities in one statement (the identities' insert a CTE of it).
    const row = {
      id,
      email: email ?? null,
      phone: phone ?? null,
      first_name: profile.firstName ?? null,
      last_name: profile.lastName ?? null,
      timezone: profile.timezone ?? 'UTC',
      locale: profile.locale ?? 'en',
      lifecycle_stage: 'prospect' as const,
      tags: JSON.stringify([]),
      attributes: JSON.stringify(profile.attributes ?? {}),
      preferred_channel: profile.preferredChannel ?? null,
      updated_at: now,
    };
    const customer =
      identities.length > 0
        ? await db
            .with('identity', (qc) => identitiesInsert(qc, id, identities))
            .insertInto('customers')
            .values(row)
            .returningAll()
            .executeTakeFirstOrThrow()
        : await db.insertInto('customers').values(row).returningAll().executeTakeFirstOrThrow();
    return { customer, created: true, merged };
  }
  if (!identitiesKnown) await addIdentities(db, existing.id, identities);
  const takenBy = async (column: 'email' | 'phone', value: string) =>
    (await db
      .selectFrom('customers')
      .select('id')
      .where(column, '=', value)
      .where('id', '<>', existing.id)
      .executeTakeFirst()) !== undefined;
  const changes = {
    ...(email !== undefined && email !== existing.email && !(await takenBy('email', email)) ? { email } : {}),
    ...(phone !== undefined && phone !== existing.phone && !(await takenBy('phone', phone)) ? { phone } : {}),
    ...(profile.firstName !== undefined ? { first_name: profile.firstName } : {}),
    ...(profile.lastName !== undefined ? { last_name: profile.lastName } : {}),
    ...(profile.timezone !== undefined ? { timezone: profile.timezone } : {}),
    ...(profile.locale !== undefined ? { locale: profile.locale } : {}),
    ...(profile.preferredChannel !== undefined ? { preferred_channel: profile.preferredChannel } : {}),
    ...(profile.attributes !== undefined
      ? { attributes: JSON.stringify({ ...existing.attributes, ...profile.attributes }) }
      : {}),
  };
  if (Object.keys(changes).length === 0) return { customer: existing, created: false, merged };
  const customer = await db
    .updateTable('customers')
    .set({ ...changes, updated_at: now })
    .where('id', '=', existing.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return { customer, created: false, merged };
}

/**
 * Merges `mergedId` into `survivorId`: identities, events, timeline, orders, tasks, consents and
 * suppressions move over, empty profile fields are filled, and the merge is recorded on the timeline.
 * The merged record remains as a pointer, so its id still finds the customer.
 */
export async function mergeCustomers(db: Db, survivorId: string, mergedId: string, reason: string): Promise<void> {
  if (survivorId === mergedId) return;
  const survivor = await db.selectFrom('customers').selectAll().where('id', '=', survivorId).executeTakeFirstOrThrow();
  const gone = await db.selectFrom('customers').selectAll().where('id', '=', mergedId).executeTakeFirstOrThrow();
  await db
    .updateTable('customers')
    .set({ email: null, phone: null, merged_into: survivorId, updated_at: new Date() })
    .where('id', '=', mergedId)
    .execute();
  // The co-purchase counts take the two as one customer: out before their orders move, in after.
  await mergeCopurchases(db, survivorId, mergedId, 'before');
  for (const table of ['identities', 'events', 'timeline', 'orders', 'tasks', 'send_ledger', 'suppressions'] as const) {
    await db.updateTable(table).set({ customer_id: survivorId }).where('customer_id', '=', mergedId).execute();
  }
  await mergeCopurchases(db, survivorId, mergedId, 'after');
  // Enrollments move too. Where both records were active in one journey, the survivor is now in it
  // twice: settling that takes Temporal (client/server/events/enrollments.ts settleMerges), so it is noted
  // here, in the same transaction, and done after.
  await db.updateTable('enrollments').set({ customer_id: survivorId }).where('customer_id', '=', mergedId).execute();
  await db
    .insertInto('merge_followups')
    .values({ customer_id: survivorId })
    .onConflict((oc) => oc.column('customer_id').doNothing())
    .execute();
  // Consent: the most recent record of each channel and purpose wins.
  const theirs = await db.selectFrom('consents').selectAll().where('customer_id', '=', mergedId).execute();
  for (const c of theirs) {
    const mine = await consentRecordedAt(db, survivorId, c.channel, c.purpose);
    if (!mine || mine < c.recorded_at) {
      await db
        .insertInto('consents')
        .values({ ...c, customer_id: survivorId, evidence: JSON.stringify(c.evidence) })
        .onConflict((oc) =>
          oc.columns(['customer_id', 'channel', 'purpose']).doUpdateSet({
            granted: c.granted,
            method: c.method,
            source: c.source,
            recorded_at: c.recorded_at,
            evidence: JSON.stringify(c.evidence),
          }),
        )
        .execute();
    }
  }
  await db.deleteFrom('consents').where('customer_id', '=', mergedId).execute();
  await mergeTopicChoices(db, survivorId, mergedId);
  await db
    .updateTable('customers')
    .set({
      email: survivor.email ?? gone.email,
      phone: survivor.phone ?? gone.phone,
      first_name: survivor.first_name ?? gone.first_name,
      last_name: survivor.last_name ?? gone.last_name,
      preferred_channel: survivor.preferred_channel ?? gone.preferred_channel,
      account_id: survivor.account_id ?? gone.account_id,
      tags: JSON.stringify([...new Set([...survivor.tags, ...gone.tags])].sort()),
      attributes: JSON.stringify({ ...gone.attributes, ...survivor.attributes }),
      updated_at: new Date(),
    })
    .where('id', '=', survivorId)
    .execute();
  await db
    .insertInto('timeline')
    .values({
      customer_id: survivorId,
      at: new Date(),
      kind: 'merge',
      summary: `merged customer ${mergedId} into this record (${reason})`,
      data: JSON.stringify({ merged: mergedId, reason }),
      ref: `merge:${mergedId}`,
    })
    .onConflict((oc) => oc.columns(['customer_id', 'kind', 'ref']).doNothing())
    .execute();
}

class CustomerNotFoundError extends Error {
  constructor(readonly customerId: string) {
    super(`no customer with id ${customerId}`);
    this.name = 'CustomerNotFoundError';
  }
}

/** What an erasure removed, for what lies outside the database: the outbox, keys held in memory. */
export interface Erasure {
  /** The customer and every record merged into them. */
  customers: string[];
  /** Their email addresses and phone numbers as they were. */
  addresses: string[];
  /** The data keys destroyed: what they encrypted in Temporal can no longer be read. */
  keyIds: string[];
}

/**
 * Erases a customer's personal data on request, with that of every record merged into them: names,
 * addresses, attributes, tags, identities, the contents of their timeline and events, their tasks'
 * titles, descriptions and notes, what suppressions, consents and sends recorded in words (a bounce's
 * text, a STOP reply, an error), and their data keys, so everything Rapport wrote to Temporal about
 * them is unreadable. Every channel is suppressed, so nothing more is sent. The record keeps its id,
 * its orders (amounts and dates, no personal data) and a timeline entry saying when it was erased,
 * so the erasure itself can be shown. It stays a contact of its account: an account is an
 * organisation, not personal data, and its revenue and contact count stay true.
 */
export async function eraseCustomer(db: Db, customerId: string, at: Date = new Date()): Promise<Erasure> {
  const ids = [customerId];
  for (let i = 0; i < ids.length; i++) {
    const merged = await db.selectFrom('customers').select('id').where('merged_into', '=', ids[i]!).execute();
    for (const m of merged) if (!ids.includes(m.id)) ids.push(m.id);
  }
  const rows = await db.selectFrom('customers').select(['email', 'phone']).where('id', 'in', ids).execute();
  const identities = await db
    .selectFrom('identities')
    .select('value')
    .where('customer_id', 'in', ids)
    .where('kind', 'in', ['email', 'phone'])
    .execute();
  const addresses = [
    ...new Set([...rows.flatMap((r) => [r.email, r.phone]), ...identities.map((i) => i.value)].filter((a) => !!a)),
  ] as string[];
  const erased = JSON.stringify({ erased: true });
  await db
    .updateTable('customers')
    .set({
      email: null,
      phone: null,
      first_name: null,
      last_name: null,
      attributes: JSON.stringify({}),
      tags: JSON.stringify([]),
      preferred_channel: null,
      updated_at: at,
    })
    .where('id', 'in', ids)
    .execute();
  await db.deleteFrom('identities').where('customer_id', 'in', ids).execute();
  await db.updateTable('timeline').set({ summary: '[erased]', data: erased }).where('customer_id', 'in', ids).execute();
  await db
    .updateTable('events')
    .set({ data: JSON.stringify({}), route_error: null })
    .where('customer_id', 'in', ids)
    .execute();
  await db
    .updateTable('tasks')
    .set({ title: '[erased]', description: null, note: null })
    .where('customer_id', 'in', ids)
    .execute();
  await db.updateTable('suppressions').set({ detail: null }).where('customer_id', 'in', ids).execute();
  await db.updateTable('send_ledger').set({ last_error: null }).where('customer_id', 'in', ids).execute();
  await db.updateTable('consents').set({ evidence: erased }).where('customer_id', 'in', ids).execute();
  await db.updateTable('topic_consents').set({ evidence: erased }).where('customer_id', 'in', ids).execute();
  const keyIds = await destroyDataKeys(db, ids);
  for (const channel of ['email', 'sms'] as const) {
    await db
      .insertInto('suppressions')
      .values({ customer_id: customerId, channel, reason: 'erasure', detail: null, created_at: at })
      .execute();
  }
  await db
    .insertInto('timeline')
    .values({
      customer_id: customerId,
      at,
      kind: 'change',
      summary: 'personal data erased on request',
      data: erased,
      ref: `erased:${at.toISOString()}`,
    })
    .execute();
  return { customers: ids, addresses, keyIds };
}
