/**
 * Simulating a published journey from the console, in Chromium: a made-up customer with events at
 * offsets, and a copy of a customer from the database, each played out by the real workflow on a
 * time-skipping server of the simulator's own (client/tools/simulate/service.ts, as `rapport start`
 * wires it); the page shows the timeline, the messages with their subjects and the end. Nothing
 * reaches the live customer.
 */
import { listOutbox } from '../../activities/channels/outbox';
import { simulationService, type SimulationService } from '../../client/tools/simulate/service';
import {
  accessibilityProblems,
  type ConsoleStack,
  NARROW,
  overflowsSideways,
  screenshot,
  signIn,
  startConsoleStack,
  WIDE,
} from '../helpers/browser';

let cs: ConsoleStack;
let simulator: SimulationService;

beforeAll(async () => {
  simulator = simulationService({});
  cs = await startConsoleStack({ simulate: simulator.simulate });
});

afterAll(async () => {
  await cs?.close();
  await simulator?.close();
});

test('a made-up customer with events at offsets goes through complaint-recovery; the timeline shows each message', async () => {
  const context = await cs.browser.newContext({ viewport: WIDE });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.admin);
  await page.goto(`${cs.baseUrl}/console/journeys/complaint-recovery/simulate`);
  await page.getByRole('heading', { level: 1, name: 'Simulate Recover an unhappy customer' }).waitFor();
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'simulate-form');

  // An event line that is not right is shown at its line, and nothing is simulated.
  await page.getByLabel('Email', { exact: true }).fill('bo@example.com');
  await page.getByLabel('Events after enrolling').fill('+2h complete resolve resolved\n+3d survey.answered {score: 2}');
  await page.getByRole('button', { name: 'Simulate' }).click();
  await page.locator('.yaml-problems').waitFor();
  expect(await page.locator('.yaml-problems').textContent()).toContain('Line 2');
  expect(await page.locator('.yaml-problems').textContent()).toContain('is not JSON');
  expect(await page.getByLabel('Email', { exact: true }).inputValue()).toBe('bo@example.com');
  expect(await accessibilityProblems(page)).toEqual([]);

  await page.getByLabel('First name').fill('Bo');
  await page.getByLabel('Past orders').fill('2');
  await page.getByLabel('Total spent').fill('80');
  await page
    .getByLabel('Events after enrolling')
    .fill('+2h complete resolve resolved\n+3d survey.answered {"score": 2}');
  await page.getByLabel('Data of the enrolling event (JSON, optional)').fill('{"subject": "Late delivery"}');
  await page.getByRole('button', { name: 'Simulate' }).click();
  await page.getByRole('heading', { name: 'Timeline' }).waitFor();
  const timeline = page.getByRole('region', { name: 'Simulated timeline' });
  const text = await timeline.textContent();
  expect(text).toContain('sent email: We received your message: Late delivery');
  expect(text).toContain('task resolve completed: resolved');
  expect(text).toContain('survey.answered arrived');
  expect(text).toContain('sent email: Did we put it right?');
  expect(text).toContain('sent email: We would like to make it up to you');
  expect(text).toContain('End: completed');
  // In the order they happened: the acknowledgement at once, the survey two days after the fix.
  const rows = await timeline.locator('tbody tr').allTextContents();
  const at = (s: string) => rows.findIndex((r) => r.includes(s));
  expect(at('We received your message')).toBeLessThan(at('Did we put it right?'));
  expect(at('Did we put it right?')).toBeLessThan(at('We would like to make it up to you'));
  expect(await page.getByText('3 messages sent').count()).toBe(1);
  // Each message as it was written, under its subject.
  const messages = page.locator('details.message');
  expect(await messages.locator('summary').allTextContents()).toEqual([
    expect.stringContaining('We received your message: Late delivery'),
    expect.stringContaining('Did we put it right?'),
    expect.stringContaining('We would like to make it up to you'),
  ]);
  await messages.first().locator('summary').click();
  expect(await messages.first().locator('pre').textContent()).toContain('Bo');
  // What was given stays in the form, to run again with a change.
  expect(await page.getByLabel('First name').inputValue()).toBe('Bo');
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'simulate-made-up');
  await context.close();
});

test('a copy of a customer in the database goes through welcome, at 390 px; the customer gets nothing', async () => {
  const created = await cs.stack.api.inject({
    method: 'POST',
    url: '/v1/customers',
    headers: { authorization: `Bearer ${cs.keys.admin}` },
    payload: { customer: { email: 'grace@example.com' }, profile: { firstName: 'Grace' } },
  });
  expect(created.statusCode).toBe(201);

  const context = await cs.browser.newContext({ viewport: NARROW });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.admin);
  await page.goto(`${cs.baseUrl}/console/journeys/welcome/simulate`);
  expect(await overflowsSideways(page)).toBe(false);
  await page.getByLabel('A copy of a customer in the database').check();
  await page.getByLabel('Email, phone or id').fill('nobody@example.com');
  await page.getByRole('button', { name: 'Simulate' }).click();
  await page.getByRole('alert').waitFor();
  expect(await page.getByRole('alert').textContent()).toContain('no customer nobody@example.com');

  await page.getByLabel('Email, phone or id').fill('grace@example.com');
  await page.getByRole('button', { name: 'Simulate' }).click();
  await page.getByRole('heading', { name: 'Timeline' }).waitFor();
  const text = await page.getByRole('region', { name: 'Simulated timeline' }).textContent();
  expect(text).toContain('sent email: Welcome, Grace!');
  expect(text).toContain('waited 3d');
  expect(text).toContain('sent email: How are your first days going, Grace?');
  expect(text).toContain('End: completed');
  expect(await overflowsSideways(page)).toBe(false);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'simulate-live-narrow');

  // The live customer was only read: no enrollment, nothing in their timeline, nothing in the outbox.
  const detail = await cs.stack.api.inject({
    method: 'GET',
    url: '/v1/customers/grace@example.com',
    headers: { authorization: `Bearer ${cs.keys.admin}` },
  });
  expect(detail.json()).toMatchObject({ enrollments: [] });
  expect(detail.json<{ timeline: { kind: string }[] }>().timeline.filter((t) => t.kind === 'message')).toEqual([]);
  expect(await listOutbox(cs.stack.outboxDir, 100)).toEqual([]);
  await context.close();
});

test("a key that cannot read journeys gets the API's refusal", async () => {
  const context = await cs.browser.newContext({ viewport: WIDE });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.support);
  const res = await page.goto(`${cs.baseUrl}/console/journeys/welcome/simulate`);
  expect(res?.status()).toBe(403);
  expect(await page.getByRole('alert').textContent()).toContain('journeys:read');
  await context.close();
});

test('the API simulates for journeys:read, and copies a live customer only for a key that reads customers', async () => {
  const key = await cs.newKey('journeys reader', ['journeys:read']);
  const simulate = (body: unknown) =>
    cs.stack.api.inject({
      method: 'POST',
      url: '/v1/journeys/welcome/simulate',
      headers: { authorization: `Bearer ${key}` },
      payload: body as Record<string, unknown>,
    });
  const refused = await simulate({ from: 'grace@example.com' });
  expect(refused.statusCode).toBe(403);
  expect(refused.json()).toMatchObject({ detail: expect.stringContaining('customers:read') });
  const made = await simulate({ customer: { email: 'made@example.com', firstName: 'Made' } });
  expect(made.statusCode).toBe(200);
  expect(made.json()).toMatchObject({
    journey: 'welcome',
    outcome: 'completed',
    messages: [{ subject: 'Welcome, Made!' }, { subject: 'How are your first days going, Made?' }],
  });
  const wrong = await simulate({ customer: { firstName: 'Nobody' } });
  expect(wrong.statusCode).toBe(422);
  expect(wrong.json()).toMatchObject({ title: 'Cannot simulate', detail: expect.stringContaining('email') });
});
