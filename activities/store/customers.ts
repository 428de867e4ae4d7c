import type { Db } from '../db/database';
import type { Channel, CustomerRow, LifecycleStage } from '../db/schema';
import { newId } from './ids';

/** A customer as journeys, templates and the API see them. */
export interface CustomerView {
  id: string;
  email: string | null;
  phone: string | null;
  firstName: string | null;
  lastName: string | null;
  timezone: string;
  locale: string;
  lifecycleStage: LifecycleStage;
  tags: string[];
  attributes: Record<string, unknown>;
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

export async function getCustomer(db: Db, id: string): Promise<CustomerRow | undefined> {
  return db.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findCustomer(db: Db, ref: CustomerRef): Promise<CustomerRow | undefined> {
  if (ref.id) return getCustomer(db, ref.id);
  if (ref.email) {
    const found = await db
      .selectFrom('customers')
      .selectAll()
      .where('email', '=', ref.email.toLowerCase())
      .executeTakeFirst();
    if (found) return found;
  }
  if (ref.phone) return db.selectFrom('customers').selectAll().where('phone', '=', ref.phone).executeTakeFirst();
  return undefined;
}

/**
 * Finds the customer an event names, or creates them, and applies the profile fields it carries.
 * Returns the row and whether it was created.
 */
export async function upsertCustomer(
  db: Db,
  ref: CustomerRef,
  profile: ProfileFields = {},
): Promise<{ customer: CustomerRow; created: boolean }> {
  const email = (profile.email ?? ref.email)?.toLowerCase();
  const phone = profile.phone ?? ref.phone;
  const existing = await findCustomer(db, ref);
  const now = new Date();
  if (!existing) {
    if (ref.id) throw new CustomerNotFoundError(ref.id);
    const customer = await db
      .insertInto('customers')
      .values({
        id: newId('cus'),
        email: email ?? null,
        phone: phone ?? null,
        first_name: profile.firstName ?? null,
        last_name: profile.lastName ?? null,
        timezone: profile.timezone ?? 'UTC',
        locale: profile.locale ?? 'en',
        lifecycle_stage: 'prospect',
        tags: JSON.stringify([]),
        attributes: JSON.stringify(profile.attributes ?? {}),
        preferred_channel: profile.preferredChannel ?? null,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { customer, created: true };
  }
  const changes = {
    ...(email !== undefined && email !== existing.email ? { email } : {}),
    ...(phone !== undefined && phone !== existing.phone ? { phone } : {}),
    ...(profile.firstName !== undefined ? { first_name: profile.firstName } : {}),
    ...(profile.lastName !== undefined ? { last_name: profile.lastName } : {}),
    ...(profile.timezone !== undefined ? { timezone: profile.timezone } : {}),
    ...(profile.locale !== undefined ? { locale: profile.locale } : {}),
    ...(profile.preferredChannel !== undefined ? { preferred_channel: profile.preferredChannel } : {}),
    ...(profile.attributes !== undefined
      ? { attributes: JSON.stringify({ ...existing.attributes, ...profile.attributes }) }
      : {}),
  };
  if (Object.keys(changes).length === 0) return { customer: existing, created: false };
  const customer = await db
    .updateTable('customers')
    .set({ ...changes, updated_at: now })
    .where('id', '=', existing.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return { customer, created: false };
}

export class CustomerNotFoundError extends Error {
  constructor(readonly customerId: string) {
    super(`no customer with id ${customerId}`);
    this.name = 'CustomerNotFoundError';
  }
}
