/**
 * `rapport simulate`: each built-in journey played out for a sample customer. The printed timeline
 * shows every step in simulated time, UTC and local; the JSON of the run agrees with what the
 * captured channels received and with the customer's timeline.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { CustomerDetail } from '../../client/sdk';
import {
  customerFromLive,
  formatSimulation,
  simulate,
  type SimulationInput,
} from '../../client/tools/simulate/simulate';
import { createHarness } from '../../client/tools/testing/harness';
import { projectRoot } from '../../paths';
import { timeSkippingEnv } from '../helpers/temporal';

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await timeSkippingEnv();
});

afterAll(async () => {
  await env?.teardown();
});

const journey = (name: string) => path.join(projectRoot, 'definitions', 'journeys', `${name}.yaml`);
const customer = {
  email: 'ada@example.com',
  phone: '+447700900123',
  firstName: 'Ada',
  lastName: 'Byron',
  timezone: 'Europe/Paris',
  consent: { email: { marketing: true }, sms: { marketing: true } },
  attributes: { segment: 'business', interest: 'analytics', leadScore: 85 },
};

const runs: [string, Partial<SimulationInput>][] = [
  ['welcome', {}],
  ['onboarding', { triggerData: { orderId: 'A-1', total: 30 } }],
  [
    'cross-sell',
    {
      triggerData: { orderId: 'A-1', total: 20, lines: [{ product: 'Rock album', category: 'rock' }] },
      population: [
        {
          email: 'bob@example.com',
          orders: [
            { orderId: 'P-1', total: 10, product: 'Rock album', category: 'rock' },
            { orderId: 'P-2', total: 12, product: 'Jazz album', category: 'jazz' },
          ],
        },
      ],
    },
  ],
  [
    'complaint-recovery',
    {
      triggerData: { subject: 'Broken CD' },
      events: [
        { at: '+3h', complete: 'resolve', outcome: 'resolved' },
        { at: '+3d', type: 'survey.answered', data: { score: 2 } },
      ],
    },
  ],
  ['prospect-conversion', {}],
];

test.each(runs)(
  '%s: the timeline, and JSON that agrees with the captured channels and the timeline',
  async (name, extra) => {
    const r = await simulate({ journeyFile: journey(name), customer, env, ...extra });
    expect(r.journey).toBe(name);
    expect(r.outcome).toBe('completed');

    // The printed timeline: a line per step, in simulated time, UTC and the customer's local time.
    const text = formatSimulation(r);
    expect(text).toContain(`${name} (version ${r.version}), customer ${r.customer.id}`);
    expect(text).toContain('local (Europe/Paris)');
    for (const s of r.steps) {
      const line = text.split('\n').find((l) => l.includes(` ${s.step} `) && l.includes(s.local));
      expect(line).toBeDefined();
    }
    expect(text).toMatch(/^outcome: completed(, goal met)?; \d+ message\(s\) sent$/m);

    // Every message of the run is what the channels received, and what the timeline says was sent.
    expect(r.messages.length).toBeGreaterThan(0);
    expect(r.messages.map((m) => [m.channel, m.subject ?? null, m.text])).toEqual(
      r.captured.map((c) => [c.channel, c.channel === 'email' ? c.subject : null, c.text]),
    );
    const sentEntries = r.timeline.filter(
      (t) => t.kind === 'message' && (t.data as { status?: string }).status === 'sent',
    );
    expect(r.messages.map((m) => [m.at, m.step])).toEqual(
      sentEntries.map((t) => [t.at, (t.data as { step: string }).step]),
    );
    // Each message is a send step that sent, at the time of its message: after the step before it
    // ended, and no later than its own step, which is recorded when it ends. (Not within a fixed
    // time of it: the send's own time passes in real time, longer on a busy machine.)
    for (const m of r.messages) {
      const index = r.steps.findIndex((s) => s.step === m.step && s.outcome === 'sent');
      expect(index).toBeGreaterThanOrEqual(0);
      const sentAt = Date.parse(m.at);
      expect(sentAt).toBeLessThanOrEqual(Date.parse(r.steps[index]!.at));
      if (index > 0) expect(sentAt).toBeGreaterThanOrEqual(Date.parse(r.steps[index - 1]!.at));
    }
    // Local times are the customer's.
    const first = r.steps[0]!;
    const utcHour = Number(first.at.slice(11, 13));
    const localHour = Number(first.local.slice(11, 13));
    const offsetHours = (localHour - utcHour + 24) % 24;
    expect([1, 2]).toContain(offsetHours); // Paris: UTC+1 in winter, UTC+2 in summer
  },
);

test('rapport simulate prints the timeline, or JSON, and needs no running instance', async () => {
  const args = [
    '--import',
    'tsx',
    path.join(projectRoot, 'client/tools/cli/main.ts'),
    'simulate',
    journey('welcome'),
    '--customer',
    '{"email": "ada@example.com", "firstName": "Ada", "timezone": "America/New_York"}',
  ];
  const run = (extra: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [...args, ...extra],
        { cwd: projectRoot, env: { ...process.env, RAPPORT_URL: 'http://127.0.0.1:9' }, timeout: 120_000 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const human = await run([]);
  expect(human.code).toBe(0);
  expect(human.stdout).toMatch(/local \(America\/New_York\) +step +what happened/);
  expect(human.stdout).toMatch(/\+0d .* hello +sent email: /);
  expect(human.stdout).toMatch(/\+3d .* settle-in +waited 3d/);
  expect(human.stdout).toMatch(/\+3d .* check-in +sent email: /);
  expect(human.stderr).toMatch(/^start-up [\d.]+ s, simulation [\d.]+ s$/m);

  const json = await run(['--json']);
  const r = JSON.parse(json.stdout) as { steps: { step: string }[]; messages: unknown[]; outcome: string };
  expect(r.steps.map((s) => s.step)).toEqual(['hello', 'settle-in', 'check-in']);
  expect(r.messages).toHaveLength(2);
  expect(r.outcome).toBe('completed');

  const bad = await run(['--events', '[{"at": "soon", "type": "x.y"}]']);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain('expected an offset from the enrollment such as +2d or +36h');
});

/** A journey for returning customers only: its trigger needs two past orders and the vip tag. */
function returningJourney(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-simulate-'));
  const file = path.join(dir, 'returning.yaml');
  fs.writeFileSync(
    file,
    [
      'journey: returning',
      'name: Thank a returning customer',
      'category: transactional',
      'trigger:',
      '  event: visit.returned',
      `  when: 'customer.metrics.orderCount >= 2 && "vip" in customer.tags'`,
      'steps:',
      '  - id: hello',
      '    type: send',
      '    channel: email',
      '    template: welcome/hello',
      '',
    ].join('\n'),
  );
  return file;
}

describe('simulate with history', () => {
  const file = returningJourney();
  const base = { email: 'ada@example.com', firstName: 'Ada', tags: ['vip'] };

  test('past orders make the metrics a trigger reads; without them the customer does not enroll; metrics are refused', async () => {
    // The shared server's clock is wherever the runs before left it: times count from it.
    const tenDaysAgo = new Date((await env.currentTimeMs()) - 10 * 86_400_000).toISOString();
    const r = await simulate({
      journeyFile: file,
      env,
      customer: {
        ...base,
        lifecycleStage: 'repeat_customer',
        orders: [
          { total: 30, placedAt: '-60d', lines: [{ product: 'Rock album', category: 'rock' }] },
          { orderId: 'B-2', total: 12.5, placedAt: tenDaysAgo },
        ],
      },
    });
    expect(r.outcome).toBe('completed');
    expect(r.messages.map((m) => m.subject)).toEqual(['Welcome, Ada!']);
    expect(r.customer.metrics).toMatchObject({
      orderCount: 2,
      lifetimeValue: 42.5,
      lastOrderAt: tenDaysAgo,
      categories: ['rock'],
    });
    expect(Date.parse(r.customer.metrics!.firstOrderAt!)).toBeCloseTo(Date.parse(r.enrolledAt) - 60 * 86_400_000, -5);
    expect(formatSimulation(r)).toContain('history: 2 order(s), lifetime value 42.5');

    await expect(
      simulate({ journeyFile: file, env, customer: { ...base, orders: [{ total: 30, placedAt: '-60d' }] } }),
    ).rejects.toThrow(/the enrolling visit\.returned event: no journey enrolled the customer/);
    await expect(
      simulate({ journeyFile: file, env, customer: { ...base, metrics: { orderCount: 2 } } }),
    ).rejects.toThrow(/^customer\.metrics: metrics are worked out from the customer’s orders.*give orders instead/);
    await expect(
      simulate({ journeyFile: file, env, customer: { ...base, orders: [{ total: 30, placedAt: '+2d' }] } }),
    ).rejects.toThrow(
      'customer.orders.0.placedAt: expected an ISO 8601 time, or an offset back from the enrollment such as -30d',
    );
  });

  test('a copy of a live customer, read through the API, simulates with their metrics; the live one is untouched', async () => {
    // The live instance: a customer with two orders, as other systems would have sent them.
    const live = await createHarness({ env });
    try {
      const placed = [
        { orderId: 'L-1', total: 19.99, at: '2025-11-02T09:00:00.000Z', category: 'jazz' },
        { orderId: 'L-2', total: 25, at: '2026-01-15T18:30:00.000Z', category: 'rock' },
      ];
      for (const o of placed) {
        await live.send({
          type: 'order.placed',
          customer: { email: 'grace@example.com' },
          occurredAt: o.at,
          profile: { firstName: 'Grace', timezone: 'Europe/Paris', consent: { email: { marketing: true } } },
          data: {
            orderId: o.orderId,
            total: o.total,
            lines: [{ product: `${o.category} album`, category: o.category }],
          },
        });
      }
      await live.stack.api.inject({
        method: 'PATCH',
        url: '/v1/customers/grace@example.com',
        payload: { attributes: { plan: 'gold' } },
      });
      await live.stack.db
        .updateTable('customers')
        .set({ tags: JSON.stringify(['vip']) })
        .execute();
      const res = await live.stack.api.inject({ method: 'GET', url: '/v1/customers/grace@example.com' });
      expect(res.statusCode).toBe(200);
      const detail = res.json<CustomerDetail>();
      expect(detail.customer.metrics).toMatchObject({ orderCount: 2, lifetimeValue: 44.99 });

      const r = await simulate({ journeyFile: file, env, customer: customerFromLive(detail) });
      expect(r.outcome).toBe('completed');
      expect(r.messages.map((m) => m.subject)).toEqual(['Welcome, Grace!']);
      const { orderCount, lifetimeValue, firstOrderAt, lastOrderAt, categories } = detail.customer.metrics;
      expect(r.customer.metrics).toMatchObject({ orderCount, lifetimeValue, firstOrderAt, lastOrderAt, categories });
      expect(r.customer.timezone).toBe('Europe/Paris');
      expect(r.timeline.some((t) => t.kind === 'event' && t.summary.includes('visit.returned'))).toBe(true);

      // Nothing reached the live instance: no message, no new order, no enrollment.
      expect(await live.outbox()).toEqual([]);
      const after = (
        await live.stack.api.inject({ method: 'GET', url: '/v1/customers/grace@example.com' })
      ).json<CustomerDetail>();
      expect(after.customer.metrics.orderCount).toBe(2);
      expect(after.enrollments).toEqual([]);
    } finally {
      await live.close();
    }
  });
});
