/**
 * Journeys in the console, in Chromium: the list with versions, status and customers inside; a
 * journey's page with its graph counting the customers at each step (and counting again in place as
 * more arrive), its report (the funnel, messages, the goal, the split's paths with their intervals);
 * pausing and resuming it, which the API then reports.
 */
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
import { eventually } from '../helpers/eventually';

let cs: ConsoleStack;

const TRIAL = `
journey: trial
name: Trial nurture
description: Greets a new trial, tries two follow-ups, and waits for the first order.
category: transactional
trigger: { event: trial.started }
goal: { event: order.placed, within: 30d }
steps:
  - id: hello
    type: send
    channel: email
    subject: "Your trial has started"
    text: "Hi {{ customer.firstName | default: 'there' }}, welcome aboard."
  - id: ab
    type: split
    paths:
      - name: short
        weight: 1
        steps:
          - id: wait-short
            type: wait
            duration: 3d
      - name: long
        weight: 1
        steps:
          - id: wait-long
            type: wait
            duration: 5d
  - id: last-call
    type: send
    channel: email
    subject: "Your trial ends soon"
    text: "Last days of your trial."
`;

/** Customers of the trial journey waiting at one of its two waits, as the enrollments record them. */
async function waiting(): Promise<number> {
  const { body } = await cs.api<{ enrollments: { status: string; step: string | null; customers: number }[] }>(
    'GET',
    '/v1/journeys/trial',
  );
  return body.enrollments
    .filter((e) => e.status === 'active' && (e.step === 'wait-short' || e.step === 'wait-long'))
    .reduce((n, e) => n + e.customers, 0);
}

async function startTrials(from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    await cs.sendEvent({
      id: `trial-${i}`,
      type: 'trial.started',
      customer: { email: `trial${i}@example.com` },
      profile: { firstName: `Trial${i}` },
    });
  }
  await eventually(`${to} trial customers at a wait`, waiting, { until: (n) => n === to });
}

beforeAll(async () => {
  cs = await startConsoleStack({ journeysDirs: [] });
  await cs.stack.publish({ 'trial.yaml': TRIAL });
});

afterAll(async () => {
  await cs?.close();
});

test("the list and a journey's page: customers inside, the live graph, the report; pause and resume", async () => {
  await startTrials(0, 4);
  const context = await cs.browser.newContext({ viewport: WIDE });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.admin);
  expect(new URL(page.url()).pathname).toBe('/console/journeys');
  const row = page.getByRole('row').filter({ hasText: 'Trial nurture' });
  expect(await row.textContent()).toContain('active');
  expect(await row.locator('[data-journey="trial"]').textContent()).toBe('4');
  // The number is the API's: the journey list counts the customers inside each journey.
  const { body: list } = await cs.api<{ journeys: { id: string; inside: number }[] }>('GET', '/v1/journeys');
  expect(list.journeys.find((j) => j.id === 'trial')?.inside).toBe(4);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'journeys');

  await page.getByRole('link', { name: 'Trial nurture' }).click();
  await page.waitForURL(`${cs.baseUrl}/console/journeys/trial`);
  expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Trial nurture');
  // The graph: each step with the customers at it now; the two waits hold all four between them.
  const graph = page.locator('#graph');
  const countAt = async (step: string) =>
    Number(await graph.locator(`li.step:has(> .box:has-text("${step}")) > .box .count`).textContent());
  expect((await countAt('wait-short')) + (await countAt('wait-long'))).toBe(4);
  expect(await countAt('hello')).toBe(0);
  expect(await page.locator('#inside-now').textContent()).toBe('4');
  // The report: the funnel (an SVG named for a screen reader), the messages, the goal, the split's paths.
  const funnel = page.locator('.chart svg');
  expect(await funnel.getAttribute('role')).toBe('img');
  expect(await funnel.locator('title').textContent()).toBe('Funnel of trial');
  expect(await funnel.locator('desc').textContent()).toContain('entered: 4');
  const messages = page.getByRole('region', { name: 'Messages' });
  expect(await messages.getByRole('row').filter({ hasText: 'sent' }).textContent()).toContain('4');
  expect(await page.locator('section', { hasText: 'Report' }).textContent()).toContain('order.placed: 0 met');
  const split = page.getByRole('region', { name: 'Split ab' });
  expect(await split.getByRole('row').count()).toBe(3);
  expect(await split.textContent()).toMatch(/short[\s\S]*long/);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'journey');

  // Two more arrive: the graph counts them again in place, without a reload (htmx, every 10 s).
  await startTrials(4, 6);
  await page.locator('#inside-now', { hasText: '6' }).waitFor({ timeout: 60_000 });
  expect((await countAt('wait-short')) + (await countAt('wait-long'))).toBe(6);

  // Pause: the page says so and the API agrees; then resume.
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.waitForURL(/\/console\/journeys\/trial\?done=pause$/);
  expect(await page.getByRole('status').textContent()).toContain('Paused');
  expect(await page.locator('.actions .badge').textContent()).toBe('paused');
  expect(await accessibilityProblems(page)).toEqual([]);
  expect((await cs.api<{ status: string }>('GET', '/v1/journeys/trial')).body.status).toBe('paused');
  await page.getByRole('button', { name: 'Resume' }).click();
  await page.waitForURL(/\/console\/journeys\/trial\?done=resume$/);
  expect(await page.locator('.actions .badge').textContent()).toBe('active');
  expect((await cs.api<{ status: string }>('GET', '/v1/journeys/trial')).body.status).toBe('active');
  await context.close();
});

test('at 390 px the pages fit the screen; a key that only reads journeys sees no pause or publish', async () => {
  const reader = await cs.newKey('journey reader', ['journeys:read']);
  const context = await cs.browser.newContext({ viewport: NARROW });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, reader);
  expect(await overflowsSideways(page)).toBe(false);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'journeys-narrow');
  await page.goto(`${cs.baseUrl}/console/journeys/trial`);
  expect(await page.getByRole('button', { name: 'Pause' }).count()).toBe(0);
  expect(await page.getByRole('link', { name: 'Publish a new version' }).count()).toBe(0);
  expect(await page.getByRole('link', { name: 'Simulate' }).count()).toBe(1);
  expect(await overflowsSideways(page)).toBe(false);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'journey-narrow');
  // Its pause, forced with a valid form token, is refused by the API: the journey stays active.
  const token = await page.locator('body').getAttribute('hx-headers');
  const csrf = (JSON.parse(token!) as Record<string, string>)['x-csrf-token']!;
  const forced = await context.request.post(`${cs.baseUrl}/console/journeys/trial/pause`, {
    form: { _csrf: csrf },
    maxRedirects: 0,
  });
  expect(forced.status()).toBe(403);
  expect((await cs.api<{ status: string }>('GET', '/v1/journeys/trial')).body.status).toBe('active');
  await context.close();
});
