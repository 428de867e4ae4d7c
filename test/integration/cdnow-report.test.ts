/**
 * The report against real data: the first 150 customers of the CDNOW sample replayed through the
 * built-in onboarding journey on the time-skipping server, day for day. The report's goal count must
 * equal the count taken straight from the file.
 *
 * The counting rule (onboarding's goal: `order.placed` with `orderCount >= 2`, within 60 days): a
 * customer converts when their second order comes at most 60 days after their first. A second order
 * on the same day as the first counts (it is a second order, placed after the enrollment began); the
 * replay places each day's orders at the same simulated instant, so 60 days to the day counts too.
 * Orders after the second change nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { JourneyReport } from '../../client/server/journeys/report';
import { startTestStack, type TestStack } from '../../client/tools/testing/stack';
import { timeSkippingEnv } from '../../client/tools/testing/environment';
import { projectRoot } from '../../paths';

const CUSTOMERS = 150;
const DAY = 86_400_000;
const file = path.join(projectRoot, '..', 'shared', 'data', 'cdnow', 'CDNOW_sample.txt');

/** The file's purchases of its first customers: [customer, YYYYMMDD] in file order. */
function purchases(): [string, string][] {
  const rows = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c.length >= 5 && /^\d+$/.test(c[0]!))
    .map((c): [string, string] => [c[0]!, c[2]!]);
  const first = [...new Set(rows.map(([c]) => c))].slice(0, CUSTOMERS);
  return rows.filter(([c]) => first.includes(c));
}

const utc = (d: string) => Date.UTC(Number(d.slice(0, 4)), Number(d.slice(4, 6)) - 1, Number(d.slice(6, 8)));

/** Straight from the file: customers whose second order is at most 60 days after their first. */
function convertedFromFile(rows: [string, string][]): number {
  const dates = new Map<string, number[]>();
  for (const [c, d] of rows) dates.set(c, [...(dates.get(c) ?? []), utc(d)]);
  return [...dates.values()].filter((ds) => {
    const [a, b] = ds.sort((x, y) => x - y);
    return b !== undefined && b - a! <= 60 * DAY;
  }).length;
}

let env: TestWorkflowEnvironment;
let stack: TestStack;
let scratch: string;

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-cdnow-report-'));
  fs.copyFileSync(
    path.join(projectRoot, 'definitions', 'journeys', 'onboarding.yaml'),
    path.join(scratch, 'onboarding.yaml'),
  );
  env = await timeSkippingEnv();
  stack = await startTestStack(env, { journeysDirs: [scratch] });
});

afterAll(async () => {
  await stack?.close();
  await env?.teardown();
  fs.rmSync(scratch, { recursive: true, force: true });
});

test(`the onboarding goal count of ${CUSTOMERS} CDNOW customers equals the count taken from the file`, async () => {
  const rows = purchases();
  const sorted = [...rows].sort((a, b) => a[1].localeCompare(b[1]));
  // Every onboarding window has closed 61 days after the last first order: later orders change nothing.
  const lastFirst = Math.max(...[...new Set(rows.map(([c]) => c))].map((c) => utc(rows.find(([x]) => x === c)![1])));
  const start = await env.currentTimeMs();
  const origin = utc(sorted[0]![1]);
  const rank = new Map<string, number>();
  for (const [customer, date] of sorted.filter(([, d]) => utc(d) <= lastFirst + 61 * DAY)) {
    const at = start + (utc(date) - origin);
    const now = await env.currentTimeMs();
    if (at > now) await env.sleep(at - now);
    const n = (rank.get(customer) ?? 0) + 1;
    rank.set(customer, n);
    await stack.sendEvent({
      id: `cdnow-${customer}-${n}`,
      type: 'order.placed',
      customer: { externalId: { system: 'cdnow', id: customer }, email: `cdnow${customer}@example.com` },
      occurredAt: new Date(Math.max(at, now)).toISOString(),
      data: {
        orderId: `cdnow-${customer}-${n}`,
        total: 10,
        lines: [{ product: 'CDs', category: 'music', quantity: 1 }],
      },
    });
  }
  // Past every window: each enrollment has met its goal or ended without it.
  await env.sleep(61 * DAY);

  const report = (
    await stack.api.inject({ method: 'GET', url: '/v1/journeys/onboarding/report' })
  ).json<JourneyReport>();
  const expected = convertedFromFile(rows);
  expect(expected).toBe(43);
  expect(report.entered).toBe(CUSTOMERS);
  expect(report.goal!.met).toBe(expected);
  // And the enrollments agree.
  const met = await stack.db
    .selectFrom('enrollments')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('journey_id', '=', 'onboarding')
    .where('goal_met', '=', true)
    .executeTakeFirstOrThrow();
  expect(Number(met.n)).toBe(expected);
  // A replay of four months of orders, one request at a time: longer than most tests on a busy machine.
}, 600_000);
