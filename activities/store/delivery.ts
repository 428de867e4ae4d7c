/**
 * Delivery status reported by a provider after the send (Twilio's status callbacks): written onto
 * the message's timeline entry. Callbacks can come twice or out of order, so a status only ever moves
 * the message forward.
 */
import type { Db } from '../db/database';
import { recordMessageOutcome } from './journey-stats';

/** The statuses that end a message's way, counted in its journey's report. */
const FINAL = new Set(['delivered', 'undelivered', 'failed']);

const RANK: Record<string, number> = {
  accepted: 1,
  scheduled: 1,
  queued: 2,
  sending: 3,
  sent: 4,
  delivered: 5,
  undelivered: 5,
  failed: 5,
  read: 6,
  canceled: 5,
};

export type DeliveryResult =
  | { kind: 'updated'; customerId: string; status: string }
  | { kind: 'unchanged'; customerId: string; status: string }
  | { kind: 'unknown-message' };

export async function recordDeliveryStatus(
  db: Db,
  update: { providerRef: string; status: string; errorCode?: string | undefined },
): Promise<DeliveryResult> {
  const send = await db
    .selectFrom('send_ledger')
    .select(['send_key', 'customer_id'])
    .where('provider_ref', '=', update.providerRef)
    .executeTakeFirst();
  if (!send) return { kind: 'unknown-message' };
  const entry = await db
    .selectFrom('timeline')
    .select(['id', 'summary', 'data'])
    .where('customer_id', '=', send.customer_id)
    .where('kind', '=', 'message')
    .where('ref', '=', send.send_key)
    .executeTakeFirst();
  if (!entry) return { kind: 'unknown-message' };
  const data = entry.data ?? {};
  const current = typeof data.delivery === 'string' ? data.delivery : 'sent';
  const status = update.status.toLowerCase();
  if ((RANK[status] ?? 0) <= (RANK[current] ?? 0) && data.delivery !== undefined) {
    return { kind: 'unchanged', customerId: send.customer_id, status: current };
  }
  // Counted first (once, however often it is reported): if counting fails, the provider's retry finds
  // the status not yet recorded and both happen then.
  if (FINAL.has(status)) await recordMessageOutcome(db, send.send_key, { kind: 'delivery', status }, new Date());
  const base = entry.summary.replace(/ \((?:queued|sending|sent|delivered|undelivered|failed|read)[^)]*\)$/, '');
  const label = update.errorCode ? `${status}, error ${update.errorCode}` : status;
  await db
    .updateTable('timeline')
    .set({
      summary: `${base} (${label})`,
      data: JSON.stringify({ ...data, delivery: status, ...(update.errorCode ? { errorCode: update.errorCode } : {}) }),
    })
    .where('id', '=', entry.id)
    .execute();
  return { kind: 'updated', customerId: send.customer_id, status };
}
