/**
 * Data keys: one per customer, for what Rapport writes to Temporal about them, and one for what
 * belongs to no customer (`system`). Stored wrapped by the master key; only client/server/protection.ts
 * unwraps them. Erasure deletes a customer's key, which leaves every payload it encrypted unreadable.
 */
import { type QueryCreator, sql } from 'kysely';
import type { Db } from '../db/database';
import type { Database } from '../db/schema';

export interface StoredDataKey {
  id: string;
  subject: string;
  wrapped: string;
}

async function dataKeyOf(db: Db, subject: string): Promise<StoredDataKey | undefined> {
  return db
    .selectFrom('data_keys')
    .select(['id', 'subject', 'wrapped'])
    .where('subject', '=', subject)
    .executeTakeFirst();
}

export async function dataKeyById(db: Db, id: string): Promise<StoredDataKey | undefined> {
  return db.selectFrom('data_keys').select(['id', 'subject', 'wrapped']).where('id', '=', id).executeTakeFirst();
}

/**
 * The subject's key, stored now as `fresh` unless one is stored already: one statement either way
 * (a new customer's first payload costs one round trip, not a read and then a write).
 */
export async function dataKeyOrStore(db: Db, fresh: StoredDataKey): Promise<StoredDataKey> {
  const { rows } = await sql<StoredDataKey>`
    with stored as (
      insert into data_keys (id, subject, wrapped) values (${fresh.id}, ${fresh.subject}, ${fresh.wrapped})
      on conflict (subject) do nothing
      returning id, subject, wrapped
    )
    select id, subject, wrapped from stored
    union all
    select id, subject, wrapped from data_keys where subject = ${fresh.subject}
    limit 1`.execute(db);
  // Another process stored one after this statement's snapshot: it is there now.
  const stored = rows[0] ?? (await dataKeyOf(db, fresh.subject));
  if (!stored) throw new Error(`the data key of ${fresh.subject} was deleted as it was stored`);
  return stored;
}

/**
 * The insert of a new subject's key, not run: for the statement that writes it along with other rows
 * (`db.with('key', …)`). A key stored before for the subject fails the statement.
 */
export function dataKeyInsert(qc: QueryCreator<Database>, fresh: StoredDataKey) {
  return qc.insertInto('data_keys').values(fresh);
}

/** Deletes the subjects' keys (erasure): what they encrypted cannot be read again. The ids deleted. */
export async function destroyDataKeys(db: Db, subjects: string[]): Promise<string[]> {
  if (subjects.length === 0) return [];
  const rows = await db.deleteFrom('data_keys').where('subject', 'in', subjects).returning('id').execute();
  return rows.map((r) => r.id);
}
