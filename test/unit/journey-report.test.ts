/**
 * The journey report's arithmetic against published values (Wilson's interval, Newcombe's interval
 * for a difference, the two-proportion test, the sample size), the marks a journey's records make,
 * and the report as the terminal and an SVG show it.
 */
import { DateTime } from 'luxon';
import { decide, DEFAULT_POLICY, type PolicyInput } from '../../activities/policy';
import { bucketMiddleMs, heldBy, outcomeKey, stepMarks, timeBucket } from '../../activities/store/journey-stats';
import { compare, sampleSize, wilson } from '../../client/server/journeys/experiments';
import { buildReport } from '../../client/server/journeys/report';
import { formatReport } from '../../client/tools/cli/report';
import { funnelSvg } from '../../client/server/journeys/report-svg';
import { liquidChecker } from '../../activities/render';
import { compileJourney } from '../../definitions/compile';
import { holdoutOf } from '../../definitions/holdout';
import type { JourneyDefinition } from '../../definitions/schema/journey';

const close = (actual: number, expected: number, digits = 4) => expect(actual).toBeCloseTo(expected, digits);

test("Wilson's interval: 3 of 12 is 8.9 % to 53.2 %; none of 0 is 0 to 1; it stays within 0 and 1", () => {
  const [lo, hi] = wilson(3, 12);
  close(lo, 0.0889, 3);
  close(hi, 0.5323, 3);
  expect(wilson(0, 0)).toEqual([0, 1]);
  expect(wilson(0, 20)[0]).toBe(0);
  expect(wilson(20, 20)[1]).toBe(1);
});

test("the difference of two rates: Newcombe's example (56/70 against 48/80) and the pooled z-test", () => {
  // Newcombe (1998), Statistics in Medicine 17, p. 873, method 10: 0.0524 to 0.3339.
  const c = compare({ goals: 56, n: 70 }, { goals: 48, n: 80 });
  close(c.difference, 0.2);
  close(c.interval[0], 0.0524, 3);
  close(c.interval[1], 0.3339, 3);
  // 30 of 100 against 20 of 100: z = 1.633, p = 0.102.
  const d = compare({ goals: 30, n: 100 }, { goals: 20, n: 100 });
  close(d.pValue!, 0.1025, 3);
  expect(d.significant).toBe(false);
});

test('the sample size for 10 % against 15 % at 5 % and 80 % power is 686 a side; none for no difference', () => {
  expect(sampleSize(0.1, 0.15)).toBe(686);
  expect(sampleSize(0.2, 0.2)).toBeNull();
});

test('no winner is named early: a p-value under 0.05 on fewer customers than the difference needs is not significant', () => {
  // 9 of 20 against 2 of 20: p = 0.013, but a difference of 35 points needs 24 a side.
  const early = compare({ goals: 9, n: 20 }, { goals: 2, n: 20 });
  expect(early.pValue!).toBeLessThan(0.05);
  expect(early.neededPerSide!).toBeGreaterThan(20);
  expect(early.significant).toBe(false);
  // The same rates on 100 a side are.
  const later = compare({ goals: 45, n: 100 }, { goals: 10, n: 100 });
  expect(later.significant).toBe(true);
  // Both always converting: no test, no difference.
  expect(compare({ goals: 5, n: 5 }, { goals: 5, n: 5 })).toMatchObject({ pValue: null, significant: false });
});

test("the contact policy's reasons name what held a message back", () => {
  const base: PolicyInput = {
    channel: 'sms',
    category: 'marketing',
    now: DateTime.fromISO('2026-06-10T23:00', { zone: 'UTC' }).toMillis(),
    timezone: 'UTC',
    consent: { marketing: true },
    recentSends: [],
  };
  const reason = (input: Partial<PolicyInput>) => {
    const d = decide({ ...base, ...input }, DEFAULT_POLICY);
    return 'skip' in d ? d.skip : 'reason' in d ? d.reason : null;
  };
  expect(heldBy(reason({ suppressed: 'stop' }))).toBe('suppression');
  expect(heldBy(reason({ consent: {} }))).toBe('consent');
  expect(heldBy(reason({ consent: { marketing: false } }))).toBe('consent');
  expect(heldBy(reason({}))).toBe('quiet_hours');
  const noon = DateTime.fromISO('2026-06-10T12:00', { zone: 'UTC' }).toMillis();
  const sends = Array.from({ length: 5 }, (_, i) => ({
    sentAt: noon - (i + 1) * 3_600_000,
    category: 'marketing' as const,
  }));
  expect(heldBy(reason({ now: noon, recentSends: sends }))).toBe('cap');
  expect(heldBy('customer not found')).toBeUndefined();
});

test("a record's marks: each step reached, its outcome, and each message with its channel and status", () => {
  const at = '2026-03-01T10:00:00.000Z';
  const marks = stepMarks([
    { stepId: 'hello', visit: 0, at, result: { kind: 'send', status: 'sent', channel: 'email', reason: null } },
    {
      stepId: 'promo',
      visit: 0,
      at,
      result: { kind: 'send', status: 'skipped', channel: 'email', reason: 'no marketing consent for email' },
    },
    { stepId: 'vip', visit: 0, at, result: { kind: 'branch', case: null } },
    { stepId: 'call', visit: 0, at, result: { kind: 'task', status: 'completed', taskId: 't', outcome: 'reached' } },
  ]);
  expect(marks.map((m) => [m.metric, m.key])).toEqual([
    ['step', 'hello'],
    ['outcome', 'hello:sent'],
    ['message', 'email:sent'],
    ['step', 'promo'],
    ['outcome', 'promo:skipped'],
    ['message', 'email:skipped:consent'],
    ['step', 'vip'],
    ['outcome', 'vip:otherwise'],
    ['step', 'call'],
    ['outcome', 'call:completed: reached'],
  ]);
  expect(outcomeKey({ kind: 'split', path: 'b' })).toBe('path b');
  expect(outcomeKey({ kind: 'wait_for', status: 'timeout', event: 'x' })).toBe('timeout');
});

test('time to goal buckets: the middle of a bucket is within 5 % of any time in it', () => {
  for (const ms of [1500, 60_000, 86_400_000, 30 * 86_400_000]) {
    const middle = bucketMiddleMs(timeBucket(ms));
    expect(Math.abs(middle - ms) / ms).toBeLessThan(0.05);
  }
  expect(timeBucket(500)).toBe(0);
});

const definition = compileJourney(
  `
journey: trial
name: Trial
category: service
trigger: { event: trial.started }
goal: { event: plan.upgraded, within: 30d }
steps:
  - id: hello
    type: send
    channel: email
    subject: "Hi"
    text: "Hi"
  - id: ab
    type: split
    paths:
      - name: offer
        weight: 1
        steps:
          - id: offer
            type: send
            channel: email
            subject: "Offer"
            text: "Offer"
      - name: holdout
        weight: 1
`,
  'trial.yaml',
  { liquid: liquidChecker, readTemplate: () => undefined },
);

test('the report as a table with bars, and as an SVG funnel', () => {
  if (!definition.ok) throw new Error(JSON.stringify(definition.problems));
  const def = definition.journey.definition;
  const rows = [
    { metric: 'entered', key: '', count: 200 },
    { metric: 'step', key: 'hello', count: 200 },
    { metric: 'outcome', key: 'hello:sent', count: 198 },
    { metric: 'outcome', key: 'hello:skipped', count: 2 },
    { metric: 'step', key: 'ab', count: 200 },
    { metric: 'outcome', key: 'ab:path offer', count: 101 },
    { metric: 'outcome', key: 'ab:path holdout', count: 99 },
    { metric: 'step', key: 'offer', count: 101 },
    { metric: 'message', key: 'email:sent', count: 299 },
    { metric: 'message', key: 'email:skipped:consent', count: 2 },
    { metric: 'goal', key: '', count: 30 },
    { metric: 'goal_time', key: String(timeBucket(3 * 86_400_000)), count: 30 },
    { metric: 'goal_path', key: 'ab:offer', count: 20 },
    { metric: 'goal_path', key: 'ab:holdout', count: 10 },
    { metric: 'ended', key: 'goal', count: 30 },
  ].map((r) => ({ version: 1, ...r }) as Parameters<typeof buildReport>[1][number]);
  const report = buildReport(def, rows, {});
  expect(report.experiments[0]!.comparisons[0]).toMatchObject({ path: 'offer', against: 'holdout' });
  const text = formatReport(report);
  expect(text).toContain('trial, all versions');
  expect(text).toMatch(/hello\s+█{24}\s+200 {2}send/);
  expect(text).toContain('email skipped (consent): 2');
  expect(text).toContain('goal (plan.upgraded): 30 of 200, 15.0 %');
  // Three days, read from its bucket: within 5 %.
  expect(text).toMatch(/median (2\.9|3\.0|3\.1) days after entering/);
  expect(text).toContain('holdout (holdout): 10 of 99, 10.1 %');
  expect(text).toMatch(/offer - holdout: 9\.7 points .*not yet significant: a difference of 9\.7 points needs about/);
  const svg = funnelSvg(report);
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg).toContain('>goal: plan.upgraded<');
  expect(svg.match(/<rect /g)).toHaveLength(1 + 3 + 1);
});

test('a holdout is a share with a goal; a journey without a goal, or a share out of range, is refused where it is written', () => {
  const source = (holdout: string, goal = 'goal: { event: plan.upgraded }\n') => `
journey: tips
name: Tips
category: service
trigger: { event: trial.started }
holdout: ${holdout}
${goal}steps:
  - id: hello
    type: send
    channel: email
    subject: "Hi"
    text: "Hi"
`;
  const problems = (text: string) => {
    const r = compileJourney(text, 'tips.yaml', { liquid: liquidChecker, readTemplate: () => undefined });
    return r.ok ? [] : r.problems.map((p) => `${p.line}: ${p.path}: ${p.message}`);
  };
  expect(problems(source('10%'))).toEqual([]);
  expect(problems(source('2.5%'))).toEqual([]);
  expect(problems(source('10%', ''))).toEqual([
    '6: holdout: a holdout needs a goal: the goal rate of those held out is what it measures',
  ]);
  expect(problems(source('150%'))).toEqual(['6: holdout: expected a share such as "10%" (more than 0, under 100)']);
  expect(problems(source('0%'))).toEqual(['6: holdout: expected a share more than 0%']);
});

test('holdouts take their share of customers, the global one only from marketing journeys, each customer always the same way', () => {
  const marketing = { journey: 'spring', category: 'marketing', holdout: '10%' } as JourneyDefinition;
  const service = { ...marketing, category: 'service' } as JourneyDefinition;
  const ids = Array.from({ length: 20_000 }, (_, i) => `cus_01m8zwk4c07dwn5z5aqw4x${i.toString(36).padStart(4, '0')}`);
  const count = (def: JourneyDefinition, global: number, which: string) =>
    ids.filter((id) => holdoutOf(def, id, global) === which).length / ids.length;
  expect(count(service, 0.05, 'global')).toBe(0);
  expect(count(service, 0.05, 'holdout')).toBeCloseTo(0.1, 1);
  expect(count(marketing, 0.05, 'global')).toBeCloseTo(0.05, 1);
  expect(ids.slice(0, 100).map((id) => holdoutOf(marketing, id, 0.05))).toEqual(
    ids.slice(0, 100).map((id) => holdoutOf(marketing, id, 0.05)),
  );
});
