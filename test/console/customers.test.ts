/**
 * The customers pages in Chromium: searching (as you type, and as a plain form) by email, phone,
 * external id and name; a customer's page with their profile, identities, consent and its evidence,
 * enrollment and current step, and a timeline paged 50 at a time; why a message went or did not;
 * erasure behind a confirmation that names what goes. A support key reads, and is offered no erasure.
 */
import type { Page } from 'playwright-core';
import { appendTimeline } from '../../activities/store/timeline';
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
let ada: string;
let grace: string;

const api = <T>(method: 'GET' | 'POST', url: string) => cs.api<T>(method, url);
const sendEvent = (event: Record<string, unknown>) => cs.sendEvent(event);

beforeAll(async () => {
  cs = await startConsoleStack();
  // Ada signs up (the welcome journey greets her, then waits three days), giving marketing consent.
  const signup = await sendEvent({
    id: 'ada-signup',
    type: 'signup.completed',
    customer: {
      email: 'Ada.Lovelace@example.com',
      phone: '+447700900123',
      externalId: { system: 'shop', id: 'SHOP-1001' },
    },
    profile: { firstName: 'Ada', lastName: 'Lovelace', consent: { email: { marketing: true } } },
  });
  ada = signup.customerId;
  grace = (
    await sendEvent({
      id: 'grace-visit',
      type: 'page.viewed',
      customer: { email: 'grace@example.com', phone: '+14155550199', externalId: { system: 'crm', id: 'G-77' } },
      profile: { firstName: 'Grace', lastName: 'Hopper' },
    })
  ).customerId;
  await sendEvent({
    id: 'alan-visit',
    type: 'page.viewed',
    customer: { email: 'alan@example.com' },
    profile: { firstName: 'Alan', lastName: 'Turing' },
  });
  // A long history: 55 notes from before she signed up, so her timeline has more than one page.
  const start = Date.now() - 100 * 86_400_000;
  for (let i = 1; i <= 55; i++) {
    await appendTimeline(cs.stack.db, {
      customerId: ada,
      at: new Date(start + i * 3_600_000),
      kind: 'change',
      summary: `support note ${String(i).padStart(2, '0')}`,
      ref: `note:${i}`,
    });
  }
  await eventually(
    'Ada to wait in the welcome journey after its first email',
    async () => (await api<{ enrollments: { currentStep: string }[] }>('GET', `/v1/customers/${ada}`)).body,
    { until: (d) => d.enrollments[0]?.currentStep === 'settle-in' },
  );
});

afterAll(async () => {
  await cs?.close();
});

/** axe on the page, a screenshot at 1280 and at 390 px, and no sideways scrolling at 390. */
async function check(page: Page, name: string): Promise<void> {
  expect(await accessibilityProblems(page)).toEqual([]);
  await page.setViewportSize(WIDE);
  await screenshot(page, name);
  await page.setViewportSize(NARROW);
  expect(await overflowsSideways(page)).toBe(false);
  await screenshot(page, `${name}-narrow`);
  await page.setViewportSize(WIDE);
}

/** The results' status line once it speaks of this search, and the customers' names listed. */
async function resultsFor(page: Page, q: string): Promise<string[]> {
  await page.locator('#results [role=status]', { hasText: `“${q}”` }).waitFor();
  return page.locator('#results tbody tr td:first-child').allTextContents();
}

test('the API searches by email, phone, external id and name', async () => {
  const names = async (q: string) =>
    (await api<{ customers: { id: string }[] }>('GET', `/v1/customers?q=${encodeURIComponent(q)}`)).body.customers.map(
      (c) => c.id,
    );
  expect(await names('ADA.LOVELACE@EXAMPLE.COM')).toEqual([ada]);
  expect(await names('+44 7700-900123')).toEqual([ada]);
  expect(await names('0044 7700 900123')).toEqual([ada]);
  expect(await names('SHOP-1001')).toEqual([ada]);
  expect(await names('shop:SHOP-1001')).toEqual([ada]);
  expect(await names('crm:G-77')).toEqual([grace]);
  expect(await names('hop')).toEqual([grace]);
  expect(await names('grace h')).toEqual([grace]);
  expect(await names('lovelace')).toEqual([ada]);
  // A pattern's wildcards are taken as they are; an unknown address finds nobody.
  expect(await names('%')).toEqual([]);
  expect(await names('nobody@example.com')).toEqual([]);
  // A brief page, newest first: the profile and order totals, nothing predicted.
  const brief = await api<{ customers: { id: string; metrics: Record<string, unknown>; predicted?: unknown }[] }>(
    'GET',
    '/v1/customers?sort=created&fields=brief',
  );
  expect(brief.body.customers.map((c) => c.id).slice(-2)).toEqual([grace, ada]);
  expect(brief.body.customers[0]!.metrics).toEqual({
    orderCount: 0,
    lifetimeValue: 0,
    firstOrderAt: null,
    lastOrderAt: null,
  });
  expect(brief.body.customers[0]!.predicted).toBeUndefined();
  // A timeline page asks for entries before a place it was given, or a time.
  expect((await api('GET', `/v1/customers/${ada}/timeline?before=yesterday`)).status).toBe(422);
  // The parameter is documented.
  const doc = (await cs.stack.api.inject({ method: 'GET', url: '/openapi.json' })).body;
  expect(doc).toContain('the start of a first, last or full name');
});

test('searching as you type and with the plain form finds a customer by email, phone, external id or name', async () => {
  const context = await cs.browser.newContext({ viewport: WIDE });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.admin);
  await page.goto(`${cs.baseUrl}/console/customers`);
  // Without a search: every customer, a page at a time.
  const all = await page.locator('#results tbody tr td:first-child').allTextContents();
  expect(all.map((n) => n.trim()).sort()).toEqual(['Ada Lovelace', 'Alan Turing', 'Grace Hopper']);
  await check(page, 'customers');

  const box = page.getByLabel('Search customers');
  // Typed: htmx asks for the results as the text changes, and the address follows.
  await box.fill('ada.lovelace@EXAMPLE.com');
  expect((await resultsFor(page, 'ada.lovelace@EXAMPLE.com')).map((n) => n.trim())).toEqual(['Ada Lovelace']);
  await page.waitForURL(/q=ada\.lovelace/);
  await box.fill('+44 7700 900123');
  expect((await resultsFor(page, '+44 7700 900123')).map((n) => n.trim())).toEqual(['Ada Lovelace']);
  await box.fill('G-77');
  expect((await resultsFor(page, 'G-77')).map((n) => n.trim())).toEqual(['Grace Hopper']);
  await box.fill('turi');
  expect((await resultsFor(page, 'turi')).map((n) => n.trim())).toEqual(['Alan Turing']);
  await check(page, 'customers-search');

  // The plain form (no script needed): a GET of the same page.
  await page.goto(`${cs.baseUrl}/console/customers?q=${encodeURIComponent('Grace Hop')}`);
  expect((await resultsFor(page, 'Grace Hop')).map((n) => n.trim())).toEqual(['Grace Hopper']);
  await page.goto(`${cs.baseUrl}/console/customers?q=nobody`);
  expect(await resultsFor(page, 'nobody')).toEqual([]);
  expect(await page.locator('#results').textContent()).toContain('No customer matches');
  await context.close();
});

test("a customer's page shows profile, identities, consent evidence, enrollment, a paged timeline, and explains a message", async () => {
  const context = await cs.browser.newContext({ viewport: WIDE });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.admin);
  await page.goto(`${cs.baseUrl}/console/customers?q=SHOP-1001`);
  await page.getByRole('link', { name: 'Ada Lovelace' }).click();
  await page.waitForURL(`${cs.baseUrl}/console/customers/${ada}`);
  expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Ada Lovelace');

  const identities = await page.getByRole('region', { name: 'Identities by kind' }).textContent();
  expect(identities).toContain('ada.lovelace@example.com');
  expect(identities).toContain('+447700900123');
  expect(identities).toContain('ext:shop');
  expect(identities).toContain('SHOP-1001');
  // Consent with its evidence: how (the API), where (the event), when.
  const consent = page.getByRole('region', { name: 'Consent and its evidence' }).locator('tbody tr').first();
  const cells = (await consent.locator('td').allTextContents()).map((t) => t.trim());
  expect(cells.slice(0, 5)).toEqual(['email', 'marketing', 'given', 'api', 'event:ada-signup']);
  expect(cells[5]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
  expect(cells[6]).toContain('signup.completed');
  // The enrollment and the step it is at.
  const enrollment = (
    await page.getByRole('region', { name: 'Enrollments' }).locator('tbody tr').first().locator('td').allTextContents()
  ).map((t) => t.trim());
  expect(enrollment[0]).toContain('welcome');
  expect(enrollment[1]).toBe('active');
  expect(enrollment[2]).toBe('settle-in');
  expect(await page.getByRole('heading', { name: 'Orders and predicted value' }).count()).toBe(1);

  // The timeline: the newest 50, then the older ones.
  const timeline = page.getByRole('region', { name: 'Timeline entries' });
  expect(await timeline.locator('tbody tr').count()).toBe(50);
  expect(await timeline.textContent()).not.toContain('support note 01');
  await check(page, 'customer');
  await page.getByRole('link', { name: 'Older entries' }).click();
  await page.waitForURL(/before=/);
  const older = await page
    .getByRole('region', { name: 'Timeline entries' })
    .locator('tbody tr td:nth-child(3)')
    .allTextContents();
  expect(older.length).toBeGreaterThan(0);
  expect(older.length).toBeLessThan(50);
  expect(older.at(-1)).toBe('support note 01');
  expect(await page.getByRole('link', { name: 'Older entries' }).count()).toBe(0);
  expect(await page.getByRole('link', { name: 'Newest entries' }).count()).toBe(1);
  // A smaller page, as the address asks for.
  await page.goto(`${cs.baseUrl}/console/customers/${ada}?limit=5`);
  expect(await page.getByRole('region', { name: 'Timeline entries' }).locator('tbody tr').count()).toBe(5);

  // Why: the first email went, the second is not reached yet; answered in place.
  await page.getByLabel('Journey', { exact: true }).selectOption('welcome');
  await page.getByLabel('Message step (optional)').fill('hello');
  await page.getByRole('button', { name: 'Explain' }).click();
  const answer = page.locator('#explain-answer');
  await answer.getByText('sent by email').waitFor();
  expect(await answer.textContent()).toContain('hello');
  expect(await page.getByRole('heading', { level: 1 }).count()).toBe(1);
  await page.getByLabel('Message step (optional)').fill('check-in');
  await page.getByRole('button', { name: 'Explain' }).click();
  await answer.getByText('not reached yet').waitFor();
  expect(await answer.textContent()).not.toContain('sent by email');
  await check(page, 'customer-explain-in-place');
  // Without script: the same answer on a page of its own.
  await page.goto(`${cs.baseUrl}/console/customers/${ada}/explain?journey=welcome&step=hello`);
  expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain('Ada Lovelace');
  expect(await page.locator('main').textContent()).toContain('sent by email');
  await check(page, 'customer-explain');
  await context.close();
});

test('a support key reads a customer and is offered no erasure, which the API refuses it anyway', async () => {
  const context = await cs.browser.newContext({ viewport: NARROW });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.support);
  await page.goto(`${cs.baseUrl}/console/customers/${grace}`);
  expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Grace Hopper');
  expect(await page.getByRole('link', { name: 'Erase this customer' }).count()).toBe(0);
  expect(await overflowsSideways(page)).toBe(false);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'customer-support-narrow');
  const res = await page.goto(`${cs.baseUrl}/console/customers/${grace}/erase`);
  expect(res?.status()).toBe(403);
  expect(await page.getByRole('alert').textContent()).toContain('customers:write');
  // The form's POST, CSRF token and all, is refused by the API's scope check, and nothing is erased.
  const token = await page.locator('input[name=_csrf]').first().inputValue();
  const post = await context.request.post(`${cs.baseUrl}/console/customers/${grace}/erase`, {
    form: { _csrf: token },
    maxRedirects: 0,
  });
  expect(post.status()).toBe(403);
  expect((await api<{ customer: { email: string } }>('GET', `/v1/customers/${grace}`)).body.customer.email).toBe(
    'grace@example.com',
  );
  await context.close();
});

test('erasing a customer: a confirmation that names what goes, then what was erased; the API shows it done', async () => {
  const context = await cs.browser.newContext({ viewport: WIDE });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.admin);
  await page.goto(`${cs.baseUrl}/console/customers/${ada}`);
  await page.getByRole('link', { name: 'Erase this customer' }).click();
  await page.waitForURL(`${cs.baseUrl}/console/customers/${ada}/erase`);
  const removed = await page.getByRole('region', { name: 'What will be removed' }).textContent();
  for (const named of [
    'firstName, lastName, email, phone',
    'ada.lovelace@example.com',
    '+447700900123',
    'SHOP-1001',
    '3 identities',
    'timeline entries',
    'data key',
    'welcome',
    'settle-in',
  ]) {
    expect(removed).toContain(named);
  }
  // Nothing has changed yet: the dry run only counted.
  expect((await api<{ customer: { email: string } }>('GET', `/v1/customers/${ada}`)).body.customer.email).toBe(
    'ada.lovelace@example.com',
  );
  await check(page, 'customer-erase');

  await page.getByRole('button', { name: 'Erase Ada Lovelace for good' }).click();
  await page.waitForURL(new RegExp(`/console/customers/${ada}/erased`));
  expect(await page.getByRole('status').textContent()).toContain('was erased');
  const done = await page.getByRole('region', { name: 'What was removed' }).textContent();
  expect(done).toContain('3 identities');
  expect(done).toContain('Journeys cancelled: welcome');
  await check(page, 'customer-erased');

  const after = await api<{
    customer: { email: string | null; phone: string | null; firstName: string | null; lastName: string | null };
    identities: unknown[];
    enrollments: { status: string }[];
    timeline: { summary: string }[];
  }>('GET', `/v1/customers/${ada}`);
  expect(after.status).toBe(200);
  expect(after.body.customer).toMatchObject({ email: null, phone: null, firstName: null, lastName: null });
  expect(after.body.identities).toEqual([]);
  expect(after.body.enrollments.map((e) => e.status)).not.toContain('active');
  expect(after.body.timeline.map((t) => t.summary)).toContain('personal data erased on request');
  // Nobody finds her by what she was known by.
  expect((await api<{ customers: unknown[] }>('GET', '/v1/customers?q=SHOP-1001')).body.customers).toEqual([]);
  await context.close();
});
