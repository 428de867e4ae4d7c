/**
 * The channel a customer engages on, learned from what they did with the messages they got: email
 * links clicked and SMS answered. It chooses the channel of a `channel: preferred` send when the
 * customer has stated no preference; a stated preference always wins.
 */
import { sql } from 'kysely';
import type { Db } from '../db/database';
import type { Channel } from '../db/schema';

/** How far back engagement counts: older habits say little about today's. */
const ENGAGEMENT_WINDOW_MS = 180 * 86_400_000;
/** The fewest messages on a channel before its rate counts: one click of one email proves little. */
const MIN_MESSAGES = 3;

/** Per channel, in the window: messages sent, and those engaged with (clicked, answered). */
type Engagement = Record<Channel, { sent: number; engaged: number }>;

interface LearnedChannel {
  channel: Channel | null;
  /** In words, for the send's record and explanations: the figures the choice rests on. */
  why: string;
}

/**
 * The channel with the higher engagement rate (engaged / sent), counting only channels with at least
 * MIN_MESSAGES messages; none when no channel has enough messages, when the best rate is 0 (silence
 * teaches nothing), or when two channels tie.
 */
function learnFrom(e: Engagement): LearnedChannel {
  const rate = (c: Channel) => Math.min(e[c].engaged, e[c].sent) / e[c].sent;
  const counted = (['email', 'sms'] as const).filter((c) => e[c].sent >= MIN_MESSAGES);
  const figures = `email clicked ${e.email.engaged} of ${e.email.sent}, sms answered ${e.sms.engaged} of ${e.sms.sent} in 180 days`;
  const best = [...counted].sort((a, b) => rate(b) - rate(a));
  const [first, second] = best;
  if (!first || rate(first) === 0 || (second && rate(second) === rate(first))) {
    return { channel: null, why: `nothing learned (${figures})` };
  }
  return { channel: first, why: `learned ${first} (${figures})` };
}

/**
 * What the customer did with their messages of the last 180 days, in one query on the customer's
 * timeline (its index on customer and time): messages sent per channel, the email messages with a
 * link clicked (a click's ref is `click:<message>:<link>`, so each message counts once however many
 * links were clicked), and SMS received from them that are not keywords (STOP, START, HELP are not
 * conversation).
 */
export function engagementQuery(db: Db, customerId: string, now = new Date()) {
  return db
    .selectFrom('timeline')
    .where('customer_id', '=', customerId)
    .where('at', '>=', new Date(now.getTime() - ENGAGEMENT_WINDOW_MS))
    .where('kind', '=', 'message')
    .select([
      sql<string>`count(*) filter (where data->>'status' = 'sent' and data->>'channel' = 'email')`.as('email_sent'),
      sql<string>`count(distinct split_part(ref, ':', 2)) filter (where data->>'status' = 'clicked')`.as(
        'email_engaged',
      ),
      sql<string>`count(*) filter (where data->>'status' = 'sent' and data->>'channel' = 'sms')`.as('sms_sent'),
      sql<string>`count(*) filter (where data->>'status' = 'received' and data->>'channel' = 'sms' and data->>'keyword' is null)`.as(
        'sms_engaged',
      ),
    ]);
}

/** `engagementQuery`'s counts, read as strings (a row) or numbers (JSON). */
function engagementFrom(row: EngagementRow): Engagement {
  return {
    email: { sent: Number(row.email_sent), engaged: Number(row.email_engaged) },
    sms: { sent: Number(row.sms_sent), engaged: Number(row.sms_engaged) },
  };
}

interface EngagementRow {
  email_sent: string | number;
  email_engaged: string | number;
  sms_sent: string | number;
  sms_engaged: string | number;
}

/** The channel learned from `engagementQuery`'s row. */
export function learnedFrom(row: EngagementRow): LearnedChannel {
  return learnFrom(engagementFrom(row));
}

/** The channel learned for the customer, or null. */
export async function learnedChannel(db: Db, customerId: string, now = new Date()): Promise<LearnedChannel> {
  return learnedFrom(await engagementQuery(db, customerId, now).executeTakeFirstOrThrow());
}
