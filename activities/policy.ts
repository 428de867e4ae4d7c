/**
 * The contact policy, applied to every send: suppression, consent for the journey's category and the
 * message's subscription topic, quiet hours in the customer's local time (a send they block is
 * deferred to the window's end, not dropped),
 * the frequency cap across all journeys, with priority transactional > service > marketing, and the
 * account cap on marketing across all the contacts of one account (client organisation).
 * `decide` is pure; the send activity gathers its input from the database.
 */
import { durationMs, parseDuration } from '../definitions/duration';
import { inQuietHours, minutesOf, nextLocalTime } from '../definitions/local-time';
import type { Category } from '../definitions/schema/common';
import type { Channel } from './db/schema';

export interface Cap {
  count: number;
  windowMs: number;
}

export interface PolicySettings {
  /** Quiet hours for marketing SMS when a journey names none (customer's local time). */
  smsQuietHours: { start: string; end: string } | null;
  /** opt-in: marketing needs recorded consent; opt-out: marketing is allowed unless consent was withdrawn. */
  marketingConsent: 'opt-in' | 'opt-out';
  /** Per category; a category without a cap is never capped. */
  caps: Partial<Record<Category, Cap>>;
  /**
   * Marketing messages to all the contacts of one account together, so one client's people are not
   * messaged by many journeys at once; absent: no account cap.
   */
  accountCap?: Cap | undefined;
}

export const DEFAULT_POLICY: PolicySettings = {
  smsQuietHours: { start: '21:00', end: '08:00' },
  marketingConsent: 'opt-in',
  caps: { marketing: { count: 3, windowMs: durationMs('7d') } },
};

const PRIORITY: Record<Category, number> = { transactional: 3, service: 2, marketing: 1 };

export interface PolicyInput {
  channel: Channel;
  category: Category;
  now: number;
  timezone: string;
  /** The journey's `sending.quietHours`, if any. */
  quietHours?: { start: string; end: string } | undefined;
  /** Whether this journey's sends are held to the cap (`sending.frequencyCap`; default: marketing only). */
  frequencyCap?: boolean | undefined;
  whenCapped?: 'defer' | 'skip' | undefined;
  /** Recorded consent for this channel: purpose → granted. */
  consent: Partial<Record<Category, boolean>>;
  /** The subscription topic of a marketing message, and whether the customer chose it on this channel (false: left). */
  topic?: { id: string; subscribed: boolean | undefined } | undefined;
  /** The reason of an active suppression of this channel, if any. */
  suppressed?: string | undefined;
  /** Messages sent to this customer recently, any journey, any channel. */
  recentSends: { category: Category; sentAt: number }[];
  /**
   * When marketing messages went recently to the contacts of the customer's account (them
   * included), any journey, any channel; absent for a customer of no account.
   */
  accountSends?: number[] | undefined;
}

export type PolicyDecision = { allow: true } | { skip: string } | { defer: number; reason: string };

export function decide(input: PolicyInput, settings: PolicySettings): PolicyDecision {
  if (input.suppressed) return { skip: `${input.channel} suppressed (${input.suppressed})` };

  const recorded = input.consent[input.category];
  if (recorded === false) return { skip: `no ${input.category} consent for ${input.channel} (withdrawn)` };
  if (input.category === 'marketing' && recorded === undefined && settings.marketingConsent === 'opt-in') {
    return { skip: `no marketing consent for ${input.channel}` };
  }
  // Leaving a topic holds only its messages: the customer keeps the other topics of the channel.
  if (input.category === 'marketing' && input.topic?.subscribed === false) {
    return { skip: `topic ${input.topic.id} left by the customer on ${input.channel}` };
  }

  // The default SMS quiet hours hold marketing texts (as TCPA's do); a journey's own quiet hours hold all its sends.
  const quiet =
    input.quietHours ?? (input.channel === 'sms' && input.category === 'marketing' ? settings.smsQuietHours : null);
  if (quiet && inQuietHours(input.now, input.timezone, quiet)) {
    return {
      defer: nextLocalTime(input.now, input.timezone, quiet.end),
      reason: `quiet hours ${quiet.start}-${quiet.end} in ${input.timezone}`,
    };
  }

  const capped = input.frequencyCap ?? input.category === 'marketing';
  const cap = settings.caps[input.category];
  if (capped && cap) {
    const counted = input.recentSends
      .filter((s) => PRIORITY[s.category] >= PRIORITY[input.category] && s.sentAt > input.now - cap.windowMs)
      .map((s) => s.sentAt)
      .sort((a, b) => a - b);
    if (counted.length >= cap.count) {
      const reason = `frequency cap: ${counted.length} message(s) in the last ${formatWindow(cap.windowMs)}, at most ${cap.count}`;
      return held(counted, cap, reason, input.whenCapped);
    }
  }

  // The account cap holds what the customer's cap holds, when it is marketing, and counts marketing only:
  // a receipt to one contact does not keep a newsletter from another.
  const accountCap = settings.accountCap;
  if (capped && input.category === 'marketing' && accountCap && input.accountSends) {
    const counted = input.accountSends.filter((t) => t > input.now - accountCap.windowMs).sort((a, b) => a - b);
    if (counted.length >= accountCap.count) {
      const reason = `account cap: ${counted.length} marketing message(s) to the account's contacts in the last ${formatWindow(accountCap.windowMs)}, at most ${accountCap.count}`;
      return held(counted, accountCap, reason, input.whenCapped);
    }
  }
  return { allow: true };
}

/** A capped send, skipped or deferred as the journey says; `counted` are the send times, oldest first. */
function held(counted: number[], cap: Cap, reason: string, whenCapped: 'defer' | 'skip' | undefined): PolicyDecision {
  if ((whenCapped ?? 'skip') === 'skip') return { skip: reason };
  // Deferred until enough of the counted messages have left the window.
  return { defer: counted[counted.length - cap.count]! + cap.windowMs + 1000, reason };
}

function formatWindow(ms: number): string {
  const days = ms / 86_400_000;
  return Number.isInteger(days) ? `${days} day(s)` : `${Math.round(ms / 3_600_000)} hour(s)`;
}

/** "3/7d": at most 3 messages in 7 days. Empty or "none": no cap. */
export function parseCap(text: string | undefined): Cap | undefined | 'invalid' {
  if (!text || text === 'none') return undefined;
  const m = /^(\d+)\/(\S+)$/.exec(text.trim());
  const windowMs = m ? parseDuration(m[2]!) : undefined;
  if (!m || windowMs === undefined || Number(m[1]) < 1) return 'invalid';
  return { count: Number(m[1]), windowMs };
}

export function parseQuietHours(text: string | undefined): { start: string; end: string } | null | 'invalid' {
  if (text === undefined) return DEFAULT_POLICY.smsQuietHours;
  if (text === 'none' || text === '') return null;
  const m = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/.exec(text.trim());
  if (!m) return 'invalid';
  const [start, end] = text.trim().split('-') as [string, string];
  return minutesOf(start) === minutesOf(end) ? null : { start, end };
}
