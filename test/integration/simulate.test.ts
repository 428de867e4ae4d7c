/**
 * `rapport simulate`: each built-in journey played out for a sample customer. The printed timeline
 * shows every step in simulated time, UTC and local; the JSON of the run agrees with what the
 * captured channels received and with the customer's timeline.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { formatSimulation, simulate, type SimulationInput } from '../../client/tools/simulate/simulate';
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
    // Each message is a send step that sent, at the time of its message (the step is recorded when it ends).
    for (const m of r.messages) {
      const step = r.steps.find((s) => s.step === m.step && s.outcome === 'sent');
      expect(step).toBeDefined();
      expect(Math.abs(Date.parse(step!.at) - Date.parse(m.at))).toBeLessThan(1000);
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
