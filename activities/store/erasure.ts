/**
 * What erasing a customer would remove (POST /v1/customers/:ref/erase?dryRun=true), read before
 * anything is changed, so a person can be shown it and confirm: the same records eraseCustomer
 * (customers.ts) blanks or deletes, counted, with the profile fields and identities named.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import type { OutboxEntry } from '../channels/outbox';
import type { Db } from '../db/database';

export interface ErasurePreview {
  /** The customer and every record merged into them: all are erased. */
  customers: string[];
  /** The profile fields that hold something now, by name (firstName, email, attributes…). */
  profileFields: string[];
  /** Every identity (email, phone, external ids) by kind and value: deleted. */
  identities: { kind: string; value: string }[];
  /** Timeline entries whose summary and data are blanked. */
  timelineEntries: number;
  /** Events whose data is emptied (and routing error cleared). */
  events: number;
  /** Tasks whose title, description and note are erased. */
  tasks: number;
  /** Consent records and topic choices whose evidence is erased (the answers themselves stay). */
  consentRecords: number;
  topicChoices: number;
  /** Suppressions whose words (a bounce's text, a STOP reply) are erased. */
  suppressionDetails: number;
  /** Send records whose error text is erased. */
  sendErrors: number;
  /** Data keys destroyed: what they sealed in Temporal's histories can no longer be read. */
  dataKeys: number;
  /** Copies of their email in the local outbox, deleted. */
  outboxMessages: number;
}

const count = async (db: Db, table: string, ids: string[], where = sql`true`, column = 'customer_id') =>
  Number(
    (
      await sql<{ n: string }>`select count(*) as n from ${sql.table(table)}
        where ${sql.ref(column)} in (${sql.join(ids)}) and ${where}`.execute(db)
    ).rows[0]!.n,
  );

export async function erasurePreview(db: Db, customerId: string, outboxDir?: string): Promise<ErasurePreview> {
  const ids = [customerId];
  for (let i = 0; i < ids.length; i++) {
    const merged = await db.selectFrom('customers').select('id').where('merged_into', '=', ids[i]!).execute();
    for (const m of merged) if (!ids.includes(m.id)) ids.push(m.id);
  }
  const rows = await db.selectFrom('customers').selectAll().where('id', 'in', ids).execute();
  const held = (field: string, has: (r: (typeof rows)[number]) => boolean) => (rows.some(has) ? [field] : []);
  const profileFields = [
    ...held('firstName', (r) => !!r.first_name),
    ...held('lastName', (r) => !!r.last_name),
    ...held('email', (r) => !!r.email),
    ...held('phone', (r) => !!r.phone),
    ...held('attributes', (r) => Object.keys(r.attributes ?? {}).length > 0),
    ...held('tags', (r) => (r.tags ?? []).length > 0),
    ...held('preferredChannel', (r) => !!r.preferred_channel),
  ];
  const identities = await db
    .selectFrom('identities')
    .select(['kind', 'value'])
    .where('customer_id', 'in', ids)
    .orderBy('kind')
    .orderBy('value')
    .execute();
  const addresses = new Set(
    [
      ...rows.flatMap((r) => [r.email, r.phone]),
      ...identities.filter((i) => i.kind === 'email' || i.kind === 'phone').map((i) => i.value),
    ]
      .filter((a): a is string => !!a)
      .map((a) => a.toLowerCase()),
  );
  return {
    customers: ids,
    profileFields,
    identities,
    timelineEntries: await count(db, 'timeline', ids),
    events: await count(db, 'events', ids),
    tasks: await count(db, 'tasks', ids),
    consentRecords: await count(db, 'consents', ids),
    topicChoices: await count(db, 'topic_consents', ids),
    suppressionDetails: await count(db, 'suppressions', ids, sql`detail is not null`),
    sendErrors: await count(db, 'send_ledger', ids, sql`last_error is not null`),
    dataKeys: await count(db, 'data_keys', ids, sql`true`, 'subject'),
    outboxMessages: outboxDir ? await outboxMessagesTo(outboxDir, addresses) : 0,
  };
}

/** How many outbox messages went to one of these addresses (lower case). */
async function outboxMessagesTo(dir: string, addresses: Set<string>): Promise<number> {
  if (addresses.size === 0) return 0;
  let files: string[];
  try {
    files = await fs.readdir(dir);
  } catch {
    return 0;
  }
  let n = 0;
  for (const file of files.filter((f) => f.endsWith('.json'))) {
    try {
      const entry = JSON.parse(await fs.readFile(path.join(dir, file), 'utf8')) as OutboxEntry;
      if (addresses.has(entry.to.toLowerCase())) n++;
    } catch {
      // A file being written or removed as we read: not counted.
    }
  }
  return n;
}
