/**
 * The send ledger: one row per send key. A send claims its key before the provider call and records
 * the outcome after, so a retried activity never sends twice what was already sent.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/database';
import type { Channel, LedgerState } from '../db/schema';

export type Claim =
  | { kind: 'claimed'; attempt: number }
  /** The key has a final outcome already: return it, send nothing. */
  | { kind: 'done'; state: LedgerState; providerRef: string | null; error: string | null }
  /** An earlier attempt died while the provider call was in flight: the outcome is unknown. */
  | { kind: 'in_flight'; attempt: number; claimedAt: Date };

/**
 * Holds the customer's send lock until the transaction `trx` ends: sends of one customer are counted
 * against the cap and claimed one at a time, on every process sharing the database.
 */
/** A send key as an unsubscribe link carries it: a hash, so the link does not show the key. */
export function sendKeyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

/** An email's Message-ID: its send key's hash at the sender's domain, so a provider's later report finds the send. */
export function messageIdFor(keyHash: string, domain: string): string {
  return `<${keyHash}@${domain}>`;
}

/** The send-key hash in a Message-ID made by messageIdFor (angle brackets optional). */
export function keyHashOfMessageId(messageId: string | undefined): string | undefined {
  return /^<?([0-9a-f]{32})@[^>]+>?$/.exec(messageId?.trim() ?? '')?.[1];
}

/** The send key of the customer's message whose key hashes to `hash` (an unsubscribe link's). */
export async function sendKeyByHash(db: Db, customerId: string, hash: string): Promise<string | undefined> {
  const keys = await db
    .selectFrom('send_ledger')
    .select('send_key')
    .where('customer_id', '=', customerId)
    .where('channel', '=', 'email')
    .execute();
  return keys.map((k) => k.send_key).find((k) => sendKeyHash(k) === hash);
}

/** The last SMS sent to the customer: the one a STOP answers. */
export async function lastSmsSent(db: Db, customerId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('send_ledger')
    .select('send_key')
    .where('customer_id', '=', customerId)
    .where('channel', '=', 'sms')
    .where('state', '=', 'sent')
    .orderBy('updated_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.send_key;
}

export async function lockCustomerSends(trx: Db, customerId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`send:${customerId}`}, 0))`.execute(trx);
}

/**
 * Claims a send key before the provider call. A claim may carry its category and the time it sends
 * at (`sent_at`, until its outcome replaces it), so a send under way counts against the frequency
 * cap before its outcome is known.
 */
export async function claimSend(
  db: Db,
  row: {
    sendKey: string;
    customerId: string;
    workflowId: string;
    stepId: string;
    channel: Channel;
    category?: string;
    sendsAt?: Date;
  },
): Promise<Claim> {
  const now = new Date();
  const inserted = await db
    .insertInto('send_ledger')
    .values({
      send_key: row.sendKey,
      customer_id: row.customerId,
      workflow_id: row.workflowId,
      step_id: row.stepId,
      channel: row.channel,
      state: 'claimed',
      phase: 'before_request',
      attempt: 1,
      claimed_at: now,
      updated_at: now,
      ...(row.category ? { category: row.category } : {}),
      ...(row.sendsAt ? { sent_at: row.sendsAt } : {}),
    })
    .onConflict((oc) => oc.column('send_key').doNothing())
    .returning('attempt')
    .executeTakeFirst();
  if (inserted) return { kind: 'claimed', attempt: 1 };

  const existing = await db
    .selectFrom('send_ledger')
    .selectAll()
    .where('send_key', '=', row.sendKey)
    .executeTakeFirstOrThrow();
  if (existing.state === 'claimed' && existing.phase === 'request_in_flight') {
    return { kind: 'in_flight', attempt: existing.attempt, claimedAt: existing.claimed_at ?? existing.updated_at };
  }
  if (existing.state === 'claimed' || existing.state === 'failed_retryable') {
    const attempt = existing.attempt + 1;
    await db
      .updateTable('send_ledger')
      .set({ state: 'claimed', phase: 'before_request', attempt, claimed_at: now, updated_at: now })
      .where('send_key', '=', row.sendKey)
      .execute();
    return { kind: 'claimed', attempt };
  }
  return { kind: 'done', state: existing.state, providerRef: existing.provider_ref, error: existing.last_error };
}

/** Marks the moment just before the provider call: from here a crash leaves the outcome unknown. */
export async function markInFlight(db: Db, sendKey: string): Promise<void> {
  await db
    .updateTable('send_ledger')
    .set({ phase: 'request_in_flight', updated_at: new Date() })
    .where('send_key', '=', sendKey)
    .execute();
}

export async function recordOutcome(
  db: Db,
  sendKey: string,
  state: Exclude<LedgerState, 'claimed'>,
  details: { providerRef?: string; error?: string; sentAt?: string; category?: string } = {},
): Promise<void> {
  await db
    .updateTable('send_ledger')
    .set({
      state,
      phase: null,
      provider_ref: details.providerRef ?? null,
      last_error: details.error ?? null,
      updated_at: new Date(),
      // A claim's time to send stays only on what was sent.
      ...(state !== 'sent' ? { sent_at: null } : details.sentAt ? { sent_at: details.sentAt } : {}),
      ...(details.category ? { category: details.category } : {}),
    })
    .where('send_key', '=', sendKey)
    .execute();
}

/**
 * The ledger's row for a send, under whichever channel's key an earlier attempt chose (`keys`: the
 * send's key for each channel it could choose), or undefined: what the send reads before it claims.
 */
export async function earlierSend(db: Db, keys: string[]): Promise<EarlierSend | undefined> {
  const row = await db
    .selectFrom('send_ledger')
    .select(['channel', 'state', 'phase', 'claimed_at', 'updated_at', 'provider_ref', 'last_error'])
    // Equality on the primary key, where a LIKE prefix uses no index under a non-C collation (and
    // `_` in a key would match any character).
    .where('send_key', 'in', keys)
    .executeTakeFirst();
  if (!row) return undefined;
  const finished =
    row.state === 'claimed' || row.state === 'failed_retryable'
      ? undefined
      : { state: row.state, providerRef: row.provider_ref, error: row.last_error };
  // A send whose provider call was under way when its attempt ended: since when.
  const inFlight =
    row.state === 'claimed' && row.phase === 'request_in_flight' ? (row.claimed_at ?? row.updated_at) : undefined;
  return { channel: row.channel, finished, inFlight };
}

export interface EarlierSend {
  channel: Channel;
  /** Its outcome, once it has one (sent, skipped, failed, unknown). */
  finished: { state: LedgerState; providerRef: string | null; error: string | null } | undefined;
  /** Since when its provider call was under way when its attempt ended. */
  inFlight: Date | undefined;
}

/** Claims again a send found not to have reached the provider, for one more attempt. */
export async function reclaimSend(db: Db, sendKey: string): Promise<void> {
  const now = new Date();
  await db
    .updateTable('send_ledger')
    .set((eb) => ({
      state: 'claimed',
      phase: 'before_request',
      attempt: eb('attempt', '+', 1),
      claimed_at: now,
      updated_at: now,
    }))
    .where('send_key', '=', sendKey)
    .execute();
}
