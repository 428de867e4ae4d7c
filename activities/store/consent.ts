/** Consent per channel and purpose, with its evidence, and suppression of a channel or an address. */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { Category } from '../../definitions/schema/common';
import type { Db } from '../db/database';
import type { Channel, SuppressionReason } from '../db/schema';
import { appendTimeline } from './timeline';
import { topicQuery } from './topics';

export type ConsentGrant = { [C in Channel]?: { [P in Category]?: boolean | undefined } | undefined };

export async function consentFor(
  db: Db,
  customerId: string,
  channel: Channel,
): Promise<Partial<Record<Category, boolean>>> {
  return purposesOf(await consentForQuery(db, customerId, channel).execute());
}

function consentForQuery(db: Db, customerId: string, channel: Channel) {
  return db
    .selectFrom('consents')
    .select(['purpose', 'granted'])
    .where('customer_id', '=', customerId)
    .where('channel', '=', channel);
}

function purposesOf(rows: readonly { purpose: Category; granted: boolean }[]): Partial<Record<Category, boolean>> {
  return Object.fromEntries(rows.map((r) => [r.purpose, r.granted]));
}

/**
 * What the contact policy reads of a customer for one send, in one statement: their consent on the
 * channel, the channel's suppression, the address's, and whether they left the message's topic.
 */
export async function contactState(
  db: Db,
  customerId: string,
  channel: Channel,
  address: string | null | undefined,
  topic: string | undefined,
): Promise<{
  consent: Partial<Record<Category, boolean>>;
  suppressed: SuppressionReason | undefined;
  topicSubscribed: boolean | undefined;
}> {
  const row = await db
    .selectNoFrom([
      jsonArrayFrom(consentForQuery(db, customerId, channel)).as('consent'),
      suppressionQuery(db, customerId, channel).as('suppressed'),
      (address ? addressSuppressionQuery(db, channel, address) : sql<null>`null`).as('addressSuppressed'),
      (topic ? topicQuery(db, customerId, channel, topic) : sql<null>`null`).as('topicSubscribed'),
    ])
    .executeTakeFirstOrThrow();
  return {
    consent: purposesOf(row.consent),
    // The customer's own suppression first, as the send has always read them.
    suppressed: row.suppressed ?? row.addressSuppressed ?? undefined,
    topicSubscribed: row.topicSubscribed ?? undefined,
  };
}

/** The customer's consent by channel and purpose. */
export async function allConsent(db: Db, customerId: string): Promise<Record<string, Record<string, boolean>>> {
  return consentOf(await consentQuery(db, customerId).execute());
}

/** The customer's consent rows, every channel and purpose. */
export function consentQuery(db: Db, customerId: string) {
  return db.selectFrom('consents').select(['channel', 'purpose', 'granted']).where('customer_id', '=', customerId);
}

/** The customer's consent by channel and purpose, from `consentQuery`'s rows. */
export function consentOf(
  rows: readonly { channel: string; purpose: string; granted: boolean }[],
): Record<string, Record<string, boolean>> {
  const out: Record<string, Record<string, boolean>> = {};
  for (const r of rows) (out[r.channel] ??= {})[r.purpose] = r.granted;
  return out;
}

/** When the customer's consent for a channel and purpose was last recorded; undefined if never. */
export async function consentRecordedAt(
  db: Db,
  customerId: string,
  channel: Channel,
  purpose: Category,
): Promise<Date | undefined> {
  const row = await db
    .selectFrom('consents')
    .select('recorded_at')
    .where('customer_id', '=', customerId)
    .where('channel', '=', channel)
    .where('purpose', '=', purpose)
    .executeTakeFirst();
  return row ? new Date(row.recorded_at) : undefined;
}

/** Records consent given or withdrawn, with how and where it was given, and logs it on the timeline. */
export async function recordConsent(
  db: Db,
  customerId: string,
  grant: ConsentGrant,
  evidence: { method: string; source: string; at: Date | string; details?: Record<string, unknown> },
): Promise<void> {
  for (const [channel, purposes] of Object.entries(grant) as [Channel, Partial<Record<Category, boolean>>][]) {
    for (const [purpose, granted] of Object.entries(purposes ?? {}) as [Category, boolean | undefined][]) {
      if (granted === undefined) continue;
      const before = await db
        .selectFrom('consents')
        .select('granted')
        .where('customer_id', '=', customerId)
        .where('channel', '=', channel)
        .where('purpose', '=', purpose)
        .executeTakeFirst();
      // The same answer again changes nothing: the evidence of the first one stays.
      if (before?.granted === granted) continue;
      await db
        .insertInto('consents')
        .values({
          customer_id: customerId,
          channel,
          purpose,
          granted,
          method: evidence.method,
          source: evidence.source,
          recorded_at: evidence.at,
          evidence: JSON.stringify(evidence.details ?? {}),
        })
        .onConflict((oc) =>
          oc.columns(['customer_id', 'channel', 'purpose']).doUpdateSet({
            granted,
            method: evidence.method,
            source: evidence.source,
            recorded_at: evidence.at,
            evidence: JSON.stringify(evidence.details ?? {}),
          }),
        )
        .execute();
      await appendTimeline(db, {
        customerId,
        at: evidence.at,
        kind: 'change',
        summary: `${channel} ${purpose} consent ${granted ? 'given' : 'withdrawn'} (${evidence.method}, ${evidence.source})`,
        ref: `consent:${channel}:${purpose}:${granted}:${new Date(evidence.at).toISOString()}`,
        data: { channel, purpose, granted, method: evidence.method, source: evidence.source },
      });
    }
  }
}

export async function activeSuppression(
  db: Db,
  customerId: string,
  channel: Channel,
): Promise<SuppressionReason | undefined> {
  return (await suppressionQuery(db, customerId, channel).executeTakeFirst())?.reason;
}

/** The customer's suppression on the channel in force, the latest first. */
function suppressionQuery(db: Db, customerId: string, channel: Channel) {
  return db
    .selectFrom('suppressions')
    .select('reason')
    .where('customer_id', '=', customerId)
    .where('channel', '=', channel)
    .where('lifted_at', 'is', null)
    .orderBy('created_at', 'desc')
    .limit(1);
}

export async function suppress(
  db: Db,
  customerId: string,
  channel: Channel,
  reason: SuppressionReason,
  detail: string | null,
  at: Date | string = new Date(),
): Promise<boolean> {
  if (await activeSuppression(db, customerId, channel)) return false;
  await db
    .insertInto('suppressions')
    .values({ customer_id: customerId, channel, reason, detail, created_at: at })
    .execute();
  await appendTimeline(db, {
    customerId,
    at,
    kind: 'change',
    summary: `${channel} suppressed (${reason})${detail ? `: ${detail}` : ''}`,
    data: { channel, reason, detail },
  });
  return true;
}

/** An address as address suppressions keep it: a SHA-256, never the address. */
function addressHash(address: string): string {
  return createHash('sha256').update(address.trim().toLowerCase()).digest('hex');
}

/**
 * Suppresses an address on a channel (a STOP from a number), whoever has it now or gets it later:
 * an opt-out from a number no customer has yet is kept, not forgotten.
 */
export async function suppressAddress(
  db: Db,
  channel: Channel,
  address: string,
  reason: SuppressionReason,
  at: Date | string = new Date(),
): Promise<void> {
  await db
    .insertInto('address_suppressions')
    .values({ channel, address_hash: addressHash(address), reason, created_at: at, lifted_at: null })
    .onConflict((oc) =>
      oc.columns(['channel', 'address_hash']).doUpdateSet({ reason, created_at: at, lifted_at: null }),
    )
    .execute();
}

/**
 * Suppresses an address as of `at`, as an import from another tool says it was: false when it is
 * suppressed already, or was resumed after `at` (a START here outlives an older opt-out there), so
 * importing the same list again changes nothing.
 */
export async function suppressAddressAsOf(
  db: Db,
  channel: Channel,
  address: string,
  reason: SuppressionReason,
  at: Date | string | undefined,
): Promise<boolean> {
  const row = await db
    .selectFrom('address_suppressions')
    .select('lifted_at')
    .where('channel', '=', channel)
    .where('address_hash', '=', addressHash(address))
    .executeTakeFirst();
  // Without a date, an import only adds what Rapport does not know of: it never undoes a START.
  const resumedSince =
    row?.lifted_at != null && (at === undefined || new Date(row.lifted_at).getTime() >= new Date(at).getTime());
  if (row && (row.lifted_at === null || resumedSince)) return false;
  await suppressAddress(db, channel, address, reason, at ?? new Date());
  return true;
}

/** Lifts an address's suppression (a START from the number). */
export async function liftAddressSuppression(
  db: Db,
  channel: Channel,
  address: string,
  at: Date | string = new Date(),
): Promise<void> {
  await db
    .updateTable('address_suppressions')
    .set({ lifted_at: at })
    .where('channel', '=', channel)
    .where('address_hash', '=', addressHash(address))
    .where('lifted_at', 'is', null)
    .execute();
}

export async function addressSuppression(
  db: Db,
  channel: Channel,
  address: string,
): Promise<SuppressionReason | undefined> {
  return (await addressSuppressionQuery(db, channel, address).executeTakeFirst())?.reason;
}

function addressSuppressionQuery(db: Db, channel: Channel, address: string) {
  return db
    .selectFrom('address_suppressions')
    .select('reason')
    .where('channel', '=', channel)
    .where('address_hash', '=', addressHash(address))
    .where('lifted_at', 'is', null)
    .limit(1);
}

/** Messages sent to a customer since `since`, for the frequency cap. */
export async function recentSends(
  db: Db,
  customerId: string,
  since: Date,
): Promise<{ category: Category; sentAt: number }[]> {
  // Sent, or claimed and under way (at the time it sends): a send in flight counts against the cap.
  const rows = await db
    .selectFrom('send_ledger')
    .select(['category', 'sent_at'])
    .where('customer_id', '=', customerId)
    .where('state', 'in', ['sent', 'claimed'])
    .where('sent_at', '>', since)
    .execute();
  return rows
    .filter((r) => r.category && r.sent_at)
    .map((r) => ({ category: r.category as Category, sentAt: r.sent_at!.getTime() }));
}

/** Ends active suppressions of a channel for the given reasons (a START after a STOP); true if one ended. */
export async function liftSuppression(
  db: Db,
  customerId: string,
  channel: Channel,
  reasons: SuppressionReason[],
  detail: string,
  at: Date | string = new Date(),
): Promise<boolean> {
  const lifted = await db
    .updateTable('suppressions')
    .set({ lifted_at: at })
    .where('customer_id', '=', customerId)
    .where('channel', '=', channel)
    .where('reason', 'in', reasons)
    .where('lifted_at', 'is', null)
    .returning('id')
    .execute();
  if (lifted.length === 0) return false;
  await appendTimeline(db, {
    customerId,
    at,
    kind: 'change',
    summary: `${channel} resumed: ${detail}`,
    data: { channel, resumed: true, detail },
  });
  return true;
}
