/**
 * Sending limits: how many messages per second a sender may hand to its provider (a Twilio number
 * takes about one SMS a second, a mail relay some messages a second). Each limit is a token bucket
 * kept in the database, so every worker of every process draws from the same one: a limit per
 * process would let ten workers send ten times the rate the provider allows.
 *
 * A bucket is one row holding the time by which every token taken so far is paid back (the
 * "theoretical arrival time" of the generic cell rate algorithm). Taking a token is one atomic
 * UPDATE that pushes that time on by one interval, only if the token it buys is due within a short
 * reserve: so a taker is either told to wait a moment (and holds its place), or refused with the
 * time at which asking again can succeed. Nothing polls.
 */
import { sql } from 'kysely';
import type { Db } from './db/database';
import type { Channel } from './db/schema';

export interface SendRate {
  /** Tokens per second. */
  perSecond: number;
  /** Tokens the bucket holds when full: one second's worth, at least one. */
  capacity: number;
  /** As configured, such as `1/s`. */
  text: string;
}

/** Limits per channel (for each of its senders without a limit of its own) and per `<channel>:<sender>`. */
export interface SendRates {
  channels: Partial<Record<Channel, SendRate>>;
  senders: Record<string, SendRate>;
}

const UNITS: Record<string, number> = { s: 1, sec: 1, second: 1, m: 60, min: 60, minute: 60, h: 3600, hour: 3600 };

const ITEM = /^(email|sms)(?::(.+))?=(\d+(?:\.\d+)?)\/([a-z]+)$/;

/** A sender as bucket keys name it: an email address alone, in lower case; an SMS sender as given. */
function senderKey(channel: Channel, sender: string): string {
  if (channel === 'sms') return sender.trim();
  const address = /<([^>]+)>/.exec(sender)?.[1] ?? sender;
  return address.trim().toLowerCase();
}

/**
 * `sms=1/s, sms:+15005550006=1/s, email=20/s, email:news@acme.example=5/min`: the sending limits,
 * or what is wrong with the first bad item.
 */
export function parseSendRates(text: string): SendRates | string {
  const rates: SendRates = { channels: {}, senders: {} };
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const m = ITEM.exec(item.replace(/\s+/g, ''));
    const unit = m?.[4] ? UNITS[m[4]] : undefined;
    const count = Number(m?.[3]);
    if (!m || !unit || !(count > 0)) {
      return `item "${item}": expected <channel>[:<sender>]=<count>/<s|min|h>, such as sms=1/s or email:news@acme.example=5/s, with channel email or sms and a count above 0`;
    }
    const channel = m[1] as Channel;
    const perSecond = count / unit;
    const rate = { perSecond, capacity: Math.max(1, Math.floor(perSecond)), text: `${m[3]}/${m[4]}` };
    const key = m[2] === undefined ? undefined : `${channel}:${senderKey(channel, m[2])}`;
    if (key ? rates.senders[key] : rates.channels[channel]) return `item "${item}": ${key ?? channel} is limited twice`;
    if (key) rates.senders[key] = rate;
    else rates.channels[channel] = rate;
  }
  return rates;
}

/** A token taken (`waitMs`: how long until it is due, within the reserve), or refused (`retryInMs`: when to ask again). */
type Take = { granted: true; waitMs: number } | { granted: false; retryInMs: number };

/**
 * Takes a token from bucket `key`, with one atomic UPDATE; the row is made on first use. A token
 * due more than `reserveMs` from now is not taken. `at` (ms since the epoch) stands for the
 * database's clock in tests.
 */
export async function takeToken(db: Db, key: string, rate: SendRate, reserveMs: number, at?: number): Promise<Take> {
  const interval = 1000 / rate.perSecond;
  const burst = rate.capacity * interval;
  const now =
    at === undefined
      ? sql<number>`extract(epoch from clock_timestamp())::double precision * 1000`
      : sql<number>`${at}::double precision`;
  for (let tries = 0; tries < 2; tries++) {
    const taken = await sql<{ paid_at: number; t: number }>`
      update send_rate_buckets b
      set paid_at = greatest(b.paid_at, c.t) + ${interval}::double precision
      from (select ${now} as t) c
      where b.key = ${key}
        and greatest(b.paid_at, c.t) + ${interval}::double precision - ${burst}::double precision - c.t <= ${reserveMs}::double precision
      returning b.paid_at, c.t`.execute(db);
    const row = taken.rows[0];
    if (row) return { granted: true, waitMs: Math.max(0, Number(row.paid_at) - burst - Number(row.t)) };
    const bucket = await sql<{ paid_at: number; t: number }>`
      select b.paid_at, c.t from send_rate_buckets b, (select ${now} as t) c where b.key = ${key}`.execute(db);
    const seen = bucket.rows[0];
    if (seen) {
      const due = Math.max(Number(seen.paid_at), Number(seen.t)) + interval - burst - Number(seen.t);
      return { granted: false, retryInMs: Math.max(1, due - reserveMs) };
    }
    // A full bucket for a sender not seen before; a concurrent first taker may have made it already.
    await db
      .insertInto('send_rate_buckets')
      .values({ key, paid_at: 0 })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }
  throw new Error(`send rate bucket ${key} could not be made`);
}

/** How long a send waits in its own process for a token due soon; beyond that it is retried later. */
const RESERVE_MS = 2_000;

/**
 * The sending limits as sends use them: the limit of a channel and sender, and a token of it. No
 * limit (none configured for the channel or the sender): `undefined`, nothing is taken.
 */
export function createSendLimiter(db: Db, rates: SendRates, reserveMs = RESERVE_MS) {
  return {
    async take(channel: Channel, sender: string): Promise<(Take & { key: string; rate: SendRate }) | undefined> {
      const key = `${channel}:${senderKey(channel, sender)}`;
      const rate = rates.senders[key] ?? rates.channels[channel];
      if (!rate) return undefined;
      return { ...(await takeToken(db, key, rate, reserveMs)), key, rate };
    },
  };
}

export type SendLimiter = ReturnType<typeof createSendLimiter>;

/**
 * When a refused send tries again: at the time a token can be had, plus a random share that grows
 * with the attempts, so that a crowd refused together (a campaign of thousands) comes back spread
 * out instead of all at once.
 */
export function retryDelayMs(retryInMs: number, attempt: number, random = Math.random()): number {
  const spread = (retryInMs + 1000) * Math.min(Math.max(attempt, 1), 8);
  return Math.round(retryInMs + random * spread);
}
