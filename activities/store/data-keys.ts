/**
 * Data keys: one per customer, for what Rapport writes to Temporal about them, and one for what
 * belongs to no customer (`system`). Stored wrapped by the master key; only client/server/protection.ts
 * unwraps them. Erasure deletes a customer's key, which leaves every payload it encrypted unreadable.
 */
import type { Db } from '../db/database';

export interface StoredDataKey {
  id: string;
  subject: string;
  wrapped: string;
}

export async function dataKeyOf(db: Db, subject: string): Promise<StoredDataKey | undefined> {
  return db
    .selectFrom('data_keys')
    .select(['id', 'subject', 'wrapped'])
    .where('subject', '=', subject)
    .executeTakeFirst();
}

export async function dataKeyById(db: Db, id: string): Promise<StoredDataKey | undefined> {
  return db.selectFrom('data_keys').select(['id', 'subject', 'wrapped']).where('id', '=', id).executeTakeFirst();
}

/** Stores a new key for its subject, unless another process stored one first: the stored key either way. */
export async function storeDataKey(db: Db, key: StoredDataKey): Promise<StoredDataKey> {
  await db
    .insertInto('data_keys')
    .values(key)
    .onConflict((oc) => oc.column('subject').doNothing())
    .execute();
  const stored = await dataKeyOf(db, key.subject);
  if (!stored) throw new Error(`the data key of ${key.subject} was deleted as it was stored`);
  return stored;
}

/** Deletes the subjects' keys (erasure): what they encrypted cannot be read again. The ids deleted. */
export async function destroyDataKeys(db: Db, subjects: string[]): Promise<string[]> {
  if (subjects.length === 0) return [];
  const rows = await db.deleteFrom('data_keys').where('subject', 'in', subjects).returning('id').execute();
  return rows.map((r) => r.id);
}
