/**
 * What a mail provider reports after the SMTP relay took a message: a bounce (hard or soft), a spam
 * complaint, a delivery. Put on the customer's timeline, counted in the report of the journey that
 * sent the message, and, for a hard bounce or a complaint, the address suppressed for email at once,
 * for whoever has it now or later. Reports can come twice: each is acted on once.
 */
import type { Db } from '../db/database';
import { suppress, suppressAddress } from './consent';
import { findCustomer } from './customers';
import { recordMessageOutcome } from './journey-stats';
import { keyHashOfMessageId, sendKeyByHash } from './ledger';
import { appendTimeline } from './timeline';

export interface EmailFeedback {
  type: 'bounce' | 'complaint' | 'delivered';
  /** The recipient's address. */
  email: string;
  /** The message's Message-ID header as Rapport set it (`<hash@domain>`, brackets optional). */
  messageId?: string | undefined;
  /** For a bounce: `hard` (the address does not take mail) or `soft` (for now). */
  bounce?: 'hard' | 'soft' | undefined;
  reason?: string | undefined;
  at: Date;
}

export async function recordEmailFeedback(db: Db, reported: EmailFeedback): Promise<'recorded' | 'no-customer'> {
  // A bounce that does not say which kind is taken as hard, everywhere below.
  const f = reported.type === 'bounce' ? { ...reported, bounce: reported.bounce ?? 'hard' } : reported;
  const suppresses = f.type === 'complaint' || (f.type === 'bounce' && f.bounce === 'hard');
  const reason = f.type === 'complaint' ? 'complaint' : 'hard_bounce';
  if (suppresses) await suppressAddress(db, 'email', f.email, reason, f.at);
  const customer = await findCustomer(db, { email: f.email });
  if (!customer) return 'no-customer';
  const hash = keyHashOfMessageId(f.messageId);
  const sendKey = hash ? await sendKeyByHash(db, customer.id, hash) : undefined;
  const detail = f.reason ? `: ${f.reason.slice(0, 200)}` : '';
  const summary =
    f.type === 'complaint'
      ? 'email marked as spam by the recipient'
      : f.type === 'delivered'
        ? 'email delivered'
        : `email bounced (${f.bounce})${detail}`;
  await appendTimeline(db, {
    customerId: customer.id,
    at: f.at,
    kind: 'message',
    summary,
    ref: `${f.type}:${hash ?? f.email}:${f.bounce ?? ''}`,
    data: {
      status: f.type,
      channel: 'email',
      ...(f.bounce ? { bounce: f.bounce } : {}),
      ...(hash ? { message: hash } : {}),
    },
  });
  if (suppresses) await suppress(db, customer.id, 'email', reason, summary, f.at);
  if (sendKey) {
    if (f.type === 'complaint') await recordMessageOutcome(db, sendKey, { kind: 'complaint' }, f.at);
    else if (f.type === 'delivered')
      await recordMessageOutcome(db, sendKey, { kind: 'delivery', status: 'delivered' }, f.at);
    else if (f.bounce === 'hard') await recordMessageOutcome(db, sendKey, { kind: 'bounce' }, f.at);
  }
  return 'recorded';
}
