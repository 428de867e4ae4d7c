/**
 * Lead scores on an in-memory database: the scoring file's checks, points as events are accepted
 * (through the intake, which needs no Temporal to accept), decay over the half-life, the cap,
 * attribute rules counted once, and a change written once.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import pino from 'pino';
import { evaluateCondition } from '../../definitions/cel';
import { parseScoring, type Scoring, ScoringError, scoreNow } from '../../definitions/scoring';
import { migrate, openDatabase, type OpenDatabase } from '../../activities/db/database';
import { getCustomer, upsertCustomer } from '../../activities/store/customers';
import { customerFacts } from '../../activities/store/facts';
import { scoreEvent } from '../../activities/store/scores';
import { listTimeline } from '../../activities/store/timeline';
import { readScoringFile } from '../../client/server/journeys/load';
import { buildApi } from '../../client/server/api/server';
import { EventIntake } from '../../client/server/events/intake';
import { createDataProtection } from '../../client/server/protection';
import type { CustomerDetail } from '../../client/sdk';
import type { ParsedEvent } from '../../client/server/events/schema';
import { builtinScoringFile } from '../../paths';

const DAY = 86_400_000;
const T0 = new Date('2026-03-01T12:00:00.000Z');
const at = (days: number) => new Date(T0.getTime() + days * DAY);

const RULES = `
halfLife: 30d
cap: 100
rules:
  - event: page.viewed
    points: 2
  - event: demo.requested
    points: 30
  - event: demo.requested
    name: enterprise demo
    points: 10
    when: 'event.data.plan == "enterprise"'
  - name: large company
    when: 'has(customer.attributes.company_size) && customer.attributes.company_size >= 200'
    points: 15
`;

let database: OpenDatabase;
let queries = 0;
const scoring = parseScoring(RULES, 'scoring.yaml');

beforeAll(async () => {
  database = await openDatabase({ onQuery: () => queries++ });
  await migrate(database.db);
});

afterAll(async () => {
  await database?.close();
});

function intakeWith(rules: Scoring | undefined): EventIntake {
  // Accepting an event answered at once (no wait) never reaches Temporal.
  return new EventIntake({
    db: database.db,
    temporal: {} as Client,
    taskQueue: 'scores-test',
    logger: pino({ level: 'silent' }),
    scoring: rules,
  });
}

async function customerRow(email: string, attributes: Record<string, unknown> = {}) {
  return (await upsertCustomer(database.db, { email }, { attributes })).customer;
}

async function changes(customerId: string) {
  return (await listTimeline(database.db, customerId)).filter((t) => t.ref?.startsWith('score:'));
}

function problemsOf(source: string): string[] {
  try {
    parseScoring(source, 'definitions/scoring.yaml');
  } catch (err) {
    if (err instanceof ScoringError) return err.problems;
    throw err;
  }
  throw new Error('expected the file to be refused');
}

test('a scoring file with mistakes is refused, each mistake named by file, line, rule and field', () => {
  expect(
    problemsOf(`halfLife: 30days
cap: 100
rules:
  - event: page.viewed
    points: two
  - event: demo.requested
    points: 30
    colour: red
  - points: 5
  - when: 'customer.attributes.size >'
    points: 5
`),
  ).toEqual([
    expect.stringMatching(/^definitions\/scoring\.yaml:1: halfLife: expected a duration such as 90m/),
    'definitions/scoring.yaml:5: rules[0].points: expected a number of points',
    'definitions/scoring.yaml:6: rules[1]: unknown field "colour"',
    expect.stringMatching(/^definitions\/scoring\.yaml:9: rules\[2\]: a rule needs an "event"/),
  ]);
  // Conditions are checked once the shape is right, against what each kind of rule may read.
  expect(
    problemsOf(`rules:
  - when: 'event.type == "x"'
    points: 5
  - event: demo.requested
    when: 'customer.attributes.size >'
    points: 5
`),
  ).toEqual([
    expect.stringMatching(/^definitions\/scoring\.yaml:2: rules\[0\]\.when: .*event/),
    expect.stringMatching(/^definitions\/scoring\.yaml:5: rules\[1\]\.when: /),
  ]);
  expect(() => parseScoring('cap: 0\n', 'mine.yaml')).toThrow(/^mine\.yaml has a problem:\nmine\.yaml:1: cap: /);
});

test('the shipped scoring file is valid, and a missing file means no scoring', () => {
  const shipped = readScoringFile(builtinScoringFile)!;
  expect(shipped.halfLifeMs).toBe(30 * DAY);
  expect(shipped.byEvent.get('demo.requested')).toHaveLength(2);
  expect(readScoringFile(path.join(os.tmpdir(), 'no-such-dir', 'scoring.yaml'))).toBeUndefined();
  const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'scoring-')), 'scoring.yaml');
  fs.writeFileSync(bad, 'rules: 3\n');
  expect(() => readScoringFile(bad)).toThrow(`${bad}:1: rules: expected a list of rules`);
});

test('accepted events score their points once; a condition on the event; no rules: no extra query', async () => {
  const scored = intakeWith(scoring);
  const event = (id: string, type: string, data: Record<string, unknown> = {}): ParsedEvent => ({
    id,
    type,
    customer: { email: 'lead@example.com' },
    data,
  });
  await scored.accept(event('s-1', 'page.viewed'), undefined, 0);
  await scored.accept(event('s-2', 'page.viewed'), undefined, 0);
  await scored.accept(event('s-3', 'demo.requested', { plan: 'starter' }), undefined, 0);
  // A replayed event is answered as before and scores nothing more.
  const replay = await scored.accept(event('s-3', 'demo.requested', { plan: 'starter' }), undefined, 0);
  expect(replay.replayed).toBe(true);
  await scored.accept(event('s-4', 'demo.requested', { plan: 'enterprise' }), undefined, 0);
  const row = (await upsertCustomer(database.db, { email: 'lead@example.com' })).customer;
  // Seconds pass between the events: the decay in between is a hair, not a point.
  expect(scoreNow(row, new Date())).toBeCloseTo(2 + 2 + 30 + 40, 1);
  expect((await changes(row.id)).map((c) => c.summary)).toEqual([
    'score 0 → 2 (page.viewed +2)',
    'score 2 → 4 (page.viewed +2)',
    'score 4 → 34 (demo.requested +30)',
    'score 34 → 74 (demo.requested +30, enterprise demo +10)',
  ]);
  // The API's view of the customer shows the score now.
  const api = buildApi({
    db: database.db,
    intake: scored,
    temporal: {} as Client,
    protection: createDataProtection(database.db, randomBytes(32)),
    outboxDir: os.tmpdir(),
    logger: pino({ level: 'silent' }),
  });
  const shown = await api.inject({ method: 'GET', url: '/v1/customers/lead@example.com' });
  await api.close();
  expect(shown.json<CustomerDetail>().customer.score).toBeCloseTo(74, 1);
  const facts = await customerFacts(database.db, row);
  expect(facts.score).toBeCloseTo(74, 1);
  expect(
    evaluateCondition('customer.score >= 50.0', 'segment', { customer: facts, now: new Date().toISOString() }),
  ).toBe(true);

  // An event no rule concerns costs no query more than it would without a scoring file.
  const counted = async (intake: EventIntake, id: string) => {
    const before = queries;
    await intake.accept({ ...event(id, 'newsletter.opened'), customer: { email: `${id}@example.com` } }, undefined, 0);
    return queries - before;
  };
  const eventOnly = parseScoring('rules:\n  - event: page.viewed\n    points: 2\n', 'scoring.yaml');
  expect(await counted(intakeWith(eventOnly), 'q-1')).toBe(await counted(intakeWith(undefined), 'q-2'));
});

test('the score halves every half-life, and never passes the cap', async () => {
  const row = await customerRow('decay@example.com');
  const demo = (id: string, days: number) => ({ id, type: 'demo.requested', occurredAt: at(days), data: {} });
  expect(await scoreEvent(database.db, scoring, row, demo('d-1', 0), at(0))).toMatchObject({ from: 0, to: 30 });
  const later = (await getCustomer(database.db, row.id))!;
  expect(scoreNow(later, at(30))).toBe(15);
  expect(scoreNow(later, at(60))).toBe(7.5);
  // Points are added to the decayed score, and decay from then on.
  expect(await scoreEvent(database.db, scoring, later, demo('d-2', 30), at(30))).toMatchObject({ from: 15, to: 45 });
  const after = (await getCustomer(database.db, row.id))!;
  expect(scoreNow(after, at(60))).toBe(22.5);
  // An event that occurred a half-life ago (sent late) adds what its points are worth now.
  expect(await scoreEvent(database.db, scoring, after, demo('d-3', 30), at(60))).toMatchObject({
    from: 22.5,
    to: 37.5,
  });

  const capped = await customerRow('cap@example.com');
  for (let i = 1; i <= 4; i++) {
    await scoreEvent(database.db, scoring, (await getCustomer(database.db, capped.id))!, demo(`c-${i}`, 0), at(0));
  }
  expect(scoreNow((await getCustomer(database.db, capped.id))!, at(0))).toBe(100);
  expect((await changes(capped.id)).at(-1)!.summary).toBe('score 90 → 100 (demo.requested +30)');
});

test('an attribute rule adds its points once, the first time it holds', async () => {
  const row = await customerRow('big@example.com', { company_size: 120 });
  const visit = (id: string) => ({ id, type: 'page.viewed', occurredAt: at(0), data: {} });
  await scoreEvent(database.db, scoring, row, visit('a-1'), at(0));
  expect(scoreNow((await getCustomer(database.db, row.id))!, at(0))).toBe(2);
  // The company grows: the next event counts the rule.
  await upsertCustomer(database.db, { id: row.id }, { attributes: { company_size: 250 } });
  await scoreEvent(database.db, scoring, (await getCustomer(database.db, row.id))!, visit('a-2'), at(0));
  await scoreEvent(database.db, scoring, (await getCustomer(database.db, row.id))!, visit('a-3'), at(0));
  const last = (await getCustomer(database.db, row.id))!;
  expect(scoreNow(last, at(0))).toBe(2 + 2 + 15 + 2);
  expect(last.scored_rules).toEqual(['large company']);
  expect((await changes(row.id)).map((c) => c.summary)).toEqual([
    'score 0 → 2 (page.viewed +2)',
    'score 2 → 19 (page.viewed +2, large company +15)',
    'score 19 → 21 (page.viewed +2)',
  ]);
});

test('an event scored again (a retried write) changes the score and the timeline once', async () => {
  const row = await customerRow('retry@example.com');
  const demo = { id: 'r-1', type: 'demo.requested', occurredAt: at(0), data: { plan: 'enterprise' } };
  expect(await scoreEvent(database.db, scoring, row, demo, at(0))).toMatchObject({ from: 0, to: 40 });
  expect(
    await scoreEvent(database.db, scoring, (await getCustomer(database.db, row.id))!, demo, at(0)),
  ).toBeUndefined();
  expect(scoreNow((await getCustomer(database.db, row.id))!, at(0))).toBe(40);
  const written = await changes(row.id);
  expect(written).toHaveLength(1);
  expect(written[0]).toMatchObject({
    kind: 'change',
    ref: 'score:r-1',
    data: {
      score: { from: 0, to: 40 },
      rules: [
        { rule: 'demo.requested', points: 30 },
        { rule: 'enterprise demo', points: 10 },
      ],
    },
  });
});
