/** The contact policy's decisions, and a property: no marketing SMS is ever allowed inside quiet hours. */
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { decide, DEFAULT_POLICY, parseCap, parseQuietHours, type PolicyInput } from '../../activities/policy';
import { heldBy } from '../../activities/store/journey-stats';
import { parseConfig, policySettings } from '../../worker/config';

const base: PolicyInput = {
  channel: 'email',
  category: 'marketing',
  now: Date.parse('2026-06-10T15:00:00Z'),
  timezone: 'UTC',
  consent: { marketing: true },
  recentSends: [],
};
const DAY = 86_400_000;

test('suppression wins over everything', () => {
  expect(decide({ ...base, category: 'transactional', suppressed: 'hard_bounce' }, DEFAULT_POLICY)).toEqual({
    skip: 'email suppressed (hard_bounce)',
  });
});

test('marketing needs consent (opt-in); withdrawn consent stops any purpose; opt-out allows unless withdrawn', () => {
  expect(decide({ ...base, consent: {} }, DEFAULT_POLICY)).toEqual({ skip: 'no marketing consent for email' });
  expect(decide({ ...base, category: 'service', consent: {} }, DEFAULT_POLICY)).toEqual({ allow: true });
  expect(decide({ ...base, category: 'service', consent: { service: false } }, DEFAULT_POLICY)).toEqual({
    skip: 'no service consent for email (withdrawn)',
  });
  expect(decide({ ...base, consent: {} }, { ...DEFAULT_POLICY, marketingConsent: 'opt-out' })).toEqual({ allow: true });
  expect(
    decide({ ...base, consent: { marketing: false } }, { ...DEFAULT_POLICY, marketingConsent: 'opt-out' }),
  ).toEqual({ skip: 'no marketing consent for email (withdrawn)' });
});

test('a marketing SMS at 23:00 local is deferred to 08:00 local; a service SMS is not held by the default', () => {
  const at23 = DateTime.fromISO('2026-06-10T23:00', { zone: 'America/Chicago' }).toMillis();
  const sms = { ...base, channel: 'sms' as const, timezone: 'America/Chicago', now: at23 };
  const d = decide(sms, DEFAULT_POLICY);
  expect(d).toEqual({
    defer: DateTime.fromISO('2026-06-11T08:00', { zone: 'America/Chicago' }).toMillis(),
    reason: 'quiet hours 21:00-08:00 in America/Chicago',
  });
  expect(decide({ ...sms, category: 'service' }, DEFAULT_POLICY)).toEqual({ allow: true });
  // A journey's own quiet hours hold every send of it, email too.
  expect(
    decide(
      { ...sms, channel: 'email', category: 'service', quietHours: { start: '22:00', end: '07:30' } },
      DEFAULT_POLICY,
    ),
  ).toMatchObject({
    defer: DateTime.fromISO('2026-06-11T07:30', { zone: 'America/Chicago' }).toMillis(),
  });
});

test('the frequency cap counts messages of the same or higher priority, and skips or defers as the journey says', () => {
  const sends = (category: 'marketing' | 'service' | 'transactional', daysAgo: number[]) =>
    daysAgo.map((d) => ({ category, sentAt: base.now - d * DAY }));
  expect(decide({ ...base, recentSends: sends('marketing', [1, 2]) }, DEFAULT_POLICY)).toEqual({ allow: true });
  expect(decide({ ...base, recentSends: sends('marketing', [1, 2, 3]) }, DEFAULT_POLICY)).toEqual({
    skip: 'frequency cap: 3 message(s) in the last 7 day(s), at most 3',
  });
  // Higher-priority messages use up the marketing budget; lower-priority ones never block higher ones.
  expect(
    decide(
      { ...base, recentSends: [...sends('transactional', [1]), ...sends('service', [2]), ...sends('marketing', [3])] },
      DEFAULT_POLICY,
    ),
  ).toMatchObject({ skip: expect.any(String) });
  expect(
    decide({ ...base, category: 'transactional', recentSends: sends('marketing', [1, 2, 3, 4]) }, DEFAULT_POLICY),
  ).toEqual({ allow: true });
  // Older than the window: not counted.
  expect(decide({ ...base, recentSends: sends('marketing', [1, 2, 8]) }, DEFAULT_POLICY)).toEqual({ allow: true });
  // Deferred until the oldest counted message leaves the window.
  expect(decide({ ...base, whenCapped: 'defer', recentSends: sends('marketing', [1, 2, 3]) }, DEFAULT_POLICY)).toEqual({
    defer: base.now - 3 * DAY + 7 * DAY + 1000,
    reason: 'frequency cap: 3 message(s) in the last 7 day(s), at most 3',
  });
  // A journey can opt out of the cap.
  expect(decide({ ...base, frequencyCap: false, recentSends: sends('marketing', [1, 2, 3]) }, DEFAULT_POLICY)).toEqual({
    allow: true,
  });
});

test('the account cap counts marketing to all the account’s contacts, and holds marketing only', () => {
  const policy = { ...DEFAULT_POLICY, accountCap: { count: 2, windowMs: DAY } };
  const hoursAgo = (...h: number[]) => h.map((x) => base.now - x * 3_600_000);
  // This customer has had nothing; two of their colleagues had a newsletter each today.
  expect(decide({ ...base, accountSends: hoursAgo(3) }, policy)).toEqual({ allow: true });
  expect(decide({ ...base, accountSends: hoursAgo(3, 5) }, policy)).toEqual({
    skip: "account cap: 2 marketing message(s) to the account's contacts in the last 1 day(s), at most 2",
  });
  // Older than the window: not counted. No account, or no account cap: not held.
  expect(decide({ ...base, accountSends: hoursAgo(3, 30) }, policy)).toEqual({ allow: true });
  expect(decide(base, policy)).toEqual({ allow: true });
  expect(decide({ ...base, accountSends: hoursAgo(3, 5) }, DEFAULT_POLICY)).toEqual({ allow: true });
  // Deferred until the oldest counted message leaves the window.
  expect(decide({ ...base, whenCapped: 'defer', accountSends: hoursAgo(3, 5) }, policy)).toEqual({
    defer: base.now - 5 * 3_600_000 + DAY + 1000,
    reason: "account cap: 2 marketing message(s) to the account's contacts in the last 1 day(s), at most 2",
  });
  // A service message, or a journey that opts out of caps, goes out.
  expect(decide({ ...base, category: 'service', accountSends: hoursAgo(3, 5) }, policy)).toEqual({ allow: true });
  expect(decide({ ...base, frequencyCap: false, accountSends: hoursAgo(3, 5) }, policy)).toEqual({ allow: true });
  // The customer's own cap is said first when both hold.
  expect(
    decide(
      {
        ...base,
        recentSends: [1, 2, 3].map((d) => ({ category: 'marketing', sentAt: base.now - d * 3_600_000 })),
        accountSends: hoursAgo(1, 2, 3),
      },
      policy,
    ),
  ).toEqual({ skip: 'frequency cap: 3 message(s) in the last 7 day(s), at most 3' });
  expect(heldBy("account cap: 2 marketing message(s) to the account's contacts in the last 1 day(s), at most 2")).toBe(
    'cap',
  );
});

test('configuration of caps and quiet hours', () => {
  expect(parseCap('3/7d')).toEqual({ count: 3, windowMs: 7 * DAY });
  expect(policySettings(parseConfig({ RAPPORT_CAP_ACCOUNT: '5/1d' })).accountCap).toEqual({ count: 5, windowMs: DAY });
  expect(policySettings(parseConfig({})).accountCap).toBeUndefined();
  expect(() => parseConfig({ RAPPORT_CAP_ACCOUNT: '5 a day' })).toThrow(/RAPPORT_CAP_ACCOUNT: expected N\/<duration>/);
  expect(parseCap('none')).toBeUndefined();
  expect(parseCap('3 a week')).toBe('invalid');
  expect(parseQuietHours('22:00-07:00')).toEqual({ start: '22:00', end: '07:00' });
  expect(parseQuietHours('none')).toBeNull();
  expect(parseQuietHours('10pm-7am')).toBe('invalid');
});

const zones = [
  'UTC',
  'America/New_York',
  'America/Los_Angeles',
  'America/Chicago',
  'Europe/London',
  'Europe/Paris',
  'Asia/Kolkata',
  'Asia/Tokyo',
  'Australia/Sydney',
  'Pacific/Auckland',
  'America/St_Johns',
  'Asia/Kathmandu',
  'Pacific/Chatham',
];

test('no marketing SMS is allowed in quiet hours, and a deferred one goes out at 08:00 local (10,000 random cases)', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...zones),
      fc.integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2035-12-31T00:00:00Z') }),
      (zone, now) => {
        const d = decide(
          { ...base, channel: 'sms', timezone: zone, now, consent: { marketing: true } },
          DEFAULT_POLICY,
        );
        const local = DateTime.fromMillis(now, { zone });
        const minutes = local.hour * 60 + local.minute;
        const quiet = minutes >= 21 * 60 || minutes < 8 * 60;
        if ('allow' in d) return !quiet;
        if ('defer' in d) {
          const at = DateTime.fromMillis(d.defer, { zone });
          return quiet && d.defer > now && d.defer - now <= 11 * 3_600_000 + 60_000 && at.hour === 8 && at.minute === 0;
        }
        return false;
      },
    ),
    { numRuns: 10_000, seed: 20261122 },
  );
});
