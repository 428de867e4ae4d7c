/**
 * Subscription topics per customer and channel: which topics of marketing messages a customer left
 * or chose again, each with its evidence as consent keeps its own. A topic without a row is
 * subscribed, as far as the customer's marketing consent for the channel goes: leaving a topic never
 * gives consent, and the marketing consent withdrawn leaves every topic at once.
 */
import type { Db } from '../db/database';
import type { Channel } from '../db/schema';
import { appendTimeline } from './timeline';

/** Per channel, topic → subscribed: `{ email: { offers: false } }`. */
export type TopicChoices = { [C in Channel]?: Record<string, boolean> | undefined };

export interface ChoiceEvidence {
  /** How it was given: `preference page`, `one-click`, `api`... */
  method: string;
  /** Where: `unsubscribe`, an import's file... */
  source: string;
  at: Date | string;
  details?: Record<string, unknown>;
}

/** Every topic choice on record for the customer, by channel. */
export async function topicChoices(db: Db, customerId: string): Promise<TopicChoices> {
  const rows = await db
    .selectFrom('topic_consents')
    .select(['channel', 'topic', 'subscribed'])
    .where('customer_id', '=', customerId)
    .orderBy('topic')
    .execute();
  const out: TopicChoices = {};
  for (const r of rows) (out[r.channel] ??= {})[r.topic] = r.subscribed;
  return out;
}

/** Whether the customer left `topic` on `channel`: false when they did, undefined when nothing is recorded. */
export async function topicSubscribed(
  db: Db,
  customerId: string,
  channel: Channel,
  topic: string,
): Promise<boolean | undefined> {
  return (await topicQuery(db, customerId, channel, topic).executeTakeFirst())?.subscribed;
}

/** The customer's choice of `topic` on `channel`, a row or none. */
export function topicQuery(db: Db, customerId: string, channel: Channel, topic: string) {
  return db
    .selectFrom('topic_consents')
    .select('subscribed')
    .where('customer_id', '=', customerId)
    .where('channel', '=', channel)
    .where('topic', '=', topic);
}

/**
 * Records topics left or chosen again, with their evidence, each change on the customer's timeline.
 * The same answer again changes nothing: the evidence of the first one stays. Returns the changes.
 */
export async function recordTopicChoices(
  db: Db,
  customerId: string,
  choices: TopicChoices,
  evidence: ChoiceEvidence,
): Promise<{ channel: Channel; topic: string; subscribed: boolean }[]> {
  const changed: { channel: Channel; topic: string; subscribed: boolean }[] = [];
  for (const [channel, topics] of Object.entries(choices) as [Channel, Record<string, boolean> | undefined][]) {
    for (const [topic, subscribed] of Object.entries(topics ?? {})) {
      const before = await topicSubscribed(db, customerId, channel, topic);
      // No row is subscribed already: choosing it again records nothing.
      if ((before ?? true) === subscribed) continue;
      const row = {
        subscribed,
        method: evidence.method,
        source: evidence.source,
        recorded_at: evidence.at,
        evidence: JSON.stringify(evidence.details ?? {}),
      };
      await db
        .insertInto('topic_consents')
        .values({ customer_id: customerId, channel, topic, ...row })
        .onConflict((oc) => oc.columns(['customer_id', 'channel', 'topic']).doUpdateSet(row))
        .execute();
      await appendTimeline(db, {
        customerId,
        at: evidence.at,
        kind: 'change',
        summary: `${channel} topic ${topic} ${subscribed ? 'chosen' : 'left'} (${evidence.method}, ${evidence.source})`,
        ref: `topic:${channel}:${topic}:${subscribed}:${new Date(evidence.at).toISOString()}`,
        data: { channel, topic, subscribed, method: evidence.method, source: evidence.source },
      });
      changed.push({ channel, topic, subscribed });
    }
  }
  return changed;
}

/** Moves a merged record's topic choices to the one that stays: the most recent of each channel and topic wins. */
export async function mergeTopicChoices(db: Db, survivorId: string, mergedId: string): Promise<void> {
  const theirs = await db.selectFrom('topic_consents').selectAll().where('customer_id', '=', mergedId).execute();
  for (const c of theirs) {
    const row = {
      subscribed: c.subscribed,
      method: c.method,
      source: c.source,
      recorded_at: c.recorded_at,
      evidence: JSON.stringify(c.evidence),
    };
    await db
      .insertInto('topic_consents')
      .values({ customer_id: survivorId, channel: c.channel, topic: c.topic, ...row })
      .onConflict((oc) =>
        oc
          .columns(['customer_id', 'channel', 'topic'])
          .doUpdateSet(row)
          .where('topic_consents.recorded_at', '<', c.recorded_at),
      )
      .execute();
  }
  await db.deleteFrom('topic_consents').where('customer_id', '=', mergedId).execute();
}
