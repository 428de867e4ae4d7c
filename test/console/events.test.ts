/**
 * Events in the console, in Chromium: the recent ones with their receipts, an event's page with the
 * journeys it enrolled and why others did not, a parked event's error and its retry, which routes it,
 * the router's backlog; and the API's list (GET /v1/events) behind them: newest first, paged by
 * cursor, never the data.
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

let cs: ConsoleStack;

beforeAll(async () => {
  cs = await startConsoleStack();
});

afterAll(async () => {
  await cs?.close();
});

interface ListedEvent {
  eventId: string;
  type: string;
  customerId: string;
  status: string;
  error?: string;
  enrolled: string[];
}

const listed = (url: string, key = cs.keys.admin) =>
  cs.api<{ events: ListedEvent[]; next: string | null }>('GET', url, { key });

/** Posts an event with the admin key, waiting for it to be routed: its receipt. */
const send = async (event: Record<string, unknown>) =>
  (await cs.sendEvent(event)) as Awaited<ReturnType<ConsoleStack['sendEvent']>> & { status: string };

/** A customer's event whose routing was given up after its attempts, as the router leaves one. */
async function parkedEvent(id: string, email: string): Promise<string> {
  const customer = await cs.stack.api.inject({
    method: 'POST',
    url: '/v1/customers',
    headers: { authorization: `Bearer ${cs.keys.admin}` },
    payload: { customer: { email }, profile: { firstName: 'Pat' } },
  });
  const customerId = customer.json<{ customer: { id: string } }>().customer.id;
  await cs.stack.db
    .insertInto('events')
    .values({
      id,
      customer_id: customerId,
      type: 'signup.completed',
      occurred_at: new Date(),
      data: JSON.stringify({ plan: 'secret-plan-name' }),
      request_hash: 'parked',
      route_attempts: 5,
      route_error: 'journey welcome: its published version could not be read',
      parked_at: new Date(),
    })
    .execute();
  return customerId;
}

test('the recent events show their receipts; an event’s page lists its enrollments and why other journeys did not enroll', async () => {
  const first = await send({
    id: 'evt-signup-1',
    type: 'signup.completed',
    customer: { email: 'ann@example.com' },
    data: { plan: 'private-plan' },
  });
  expect(first.enrolled.map((e) => e.journey)).toEqual(['welcome']);
  const again = await send({
    id: 'evt-signup-2',
    type: 'signup.completed',
    customer: { email: 'ann@example.com' },
  });
  expect(again.notEnrolled).toEqual([{ journey: 'welcome', reason: 'already in this journey' }]);

  const context = await cs.browser.newContext({ viewport: WIDE });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.admin);
  await page.goto(`${cs.baseUrl}/console/events`);
  const table = page.getByRole('region', { name: 'Recent events' });
  const rows = table.getByRole('row');
  // Newest first: the second sign-up, then the first.
  await expect(rows.nth(1).textContent()).resolves.toContain('evt-signup-2');
  expect(await rows.nth(1).textContent()).toMatch(/signup\.completed\s*routed/);
  expect(await rows.nth(1).textContent()).toContain('1 not enrolled');
  expect(await rows.nth(2).textContent()).toContain('enrolled in welcome');
  expect(await rows.nth(2).getByRole('link', { name: first.customerId }).getAttribute('href')).toBe(
    `/console/customers/${first.customerId}`,
  );
  // The event's data (what a customer may have written) is not on the page.
  expect(await page.content()).not.toContain('private-plan');
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'events');

  await table.getByRole('link', { name: 'evt-signup-2' }).click();
  await page.waitForURL(`${cs.baseUrl}/console/events/evt-signup-2`);
  expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Event evt-signup-2');
  const notEnrolled = page.getByRole('region', { name: 'Journeys that did not enroll the customer, and why' });
  expect(await notEnrolled.getByRole('row').nth(1).textContent()).toMatch(/welcome\s*already in this journey/);
  expect(await page.getByRole('button', { name: 'Retry' }).count()).toBe(0);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'event-not-enrolled');

  await page.goto(`${cs.baseUrl}/console/events/evt-signup-1`);
  const enrolled = page.getByRole('region', { name: 'Journeys it enrolled the customer in' });
  expect(await enrolled.getByRole('row').nth(1).textContent()).toContain(first.enrolled[0]!.workflowId);
  expect(await page.getByRole('link', { name: 'welcome' }).first().getAttribute('href')).toBe(
    '/console/journeys/welcome',
  );
  expect(await accessibilityProblems(page)).toEqual([]);

  await page.setViewportSize(NARROW);
  expect(await overflowsSideways(page)).toBe(false);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'event-narrow');
  await page.goto(`${cs.baseUrl}/console/events`);
  expect(await overflowsSideways(page)).toBe(false);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'events-narrow');
  await context.close();
});

test('a parked event shows its error; retrying it routes it', async () => {
  const customerId = await parkedEvent('evt-parked-1', 'pat@example.com');
  const context = await cs.browser.newContext({ viewport: WIDE });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.admin);
  await page.goto(`${cs.baseUrl}/console/events`);
  // The router's backlog heads the page: nothing waits, and the parked event is counted.
  const routing = page.getByRole('status', { name: 'Routing' });
  expect(await routing.textContent()).toContain('Routing is up to date: no event waits to be routed.');
  expect(await routing.getByRole('link', { name: '1 parked' }).getAttribute('href')).toBe(
    '/console/events?status=parked',
  );
  await page.getByRole('navigation', { name: 'Event status' }).getByRole('link', { name: 'Parked' }).click();
  await page.waitForURL(`${cs.baseUrl}/console/events?status=parked`);
  const parked = page.getByRole('list', { name: 'Parked events' });
  const row = parked.getByRole('listitem').filter({ hasText: 'evt-parked-1' });
  expect(await row.textContent()).toContain('journey welcome: its published version could not be read');
  expect(await row.textContent()).toContain(customerId);
  expect(await page.content()).not.toContain('secret-plan-name');
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'events-parked');
  await page.setViewportSize(NARROW);
  expect(await overflowsSideways(page)).toBe(false);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'events-parked-narrow');
  await page.setViewportSize(WIDE);

  await row.getByRole('button', { name: 'Retry evt-parked-1' }).click();
  await page.waitForURL(`${cs.baseUrl}/console/events/evt-parked-1?retried=1`);
  expect(await page.getByRole('status').textContent()).toContain('routed now');
  expect(await page.locator('dl.facts').textContent()).toMatch(/Status\s*routed/);
  const enrolled = page.getByRole('region', { name: 'Journeys it enrolled the customer in' });
  expect(await enrolled.getByRole('row').nth(1).textContent()).toContain('welcome');
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'event-retried');

  // The API agrees, and the parked view no longer lists it.
  const receipt = await cs.stack.api.inject({
    method: 'GET',
    url: '/v1/events/evt-parked-1',
    headers: { authorization: `Bearer ${cs.keys.admin}` },
  });
  expect(receipt.json()).toMatchObject({
    status: 'routed',
    enrolled: [expect.objectContaining({ journey: 'welcome' })],
  });
  await page.goto(`${cs.baseUrl}/console/events?status=parked`);
  expect(await page.getByText('No parked events.').count()).toBe(1);
  expect(await page.getByRole('status', { name: 'Routing' }).getByRole('link').count()).toBe(0);
  await context.close();
});

test('a support agent’s key has no Events in its nav and is refused the events pages', async () => {
  const context = await cs.browser.newContext({ viewport: NARROW });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.support);
  expect(await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Events' }).count()).toBe(0);
  const res = await page.goto(`${cs.baseUrl}/console/events`);
  expect(res?.status()).toBe(403);
  expect(await page.getByRole('alert').textContent()).toContain('events:write');
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'events-refused-support');
  // Nor can it retry one by posting the form itself (with a valid CSRF token from its own page).
  await page.goto(`${cs.baseUrl}/console/inbox`);
  const token = await page.locator('input[name=_csrf]').first().inputValue();
  const retry = await context.request.post(`${cs.baseUrl}/console/events/evt-signup-1/retry`, {
    form: { _csrf: token },
    maxRedirects: 0,
  });
  expect(retry.status()).toBe(403);
  await context.close();
});

test('GET /v1/events: newest first, filtered by status, paged by cursor; receipts without the data', async () => {
  await send({ id: 'evt-page-1', type: 'visit.recorded', customer: { email: 'vi@example.com' } });
  await send({ id: 'evt-page-2', type: 'visit.recorded', customer: { email: 'vi@example.com' } });
  await parkedEvent('evt-parked-2', 'quinn@example.com');

  const top = await listed('/v1/events?limit=2');
  expect(top.status).toBe(200);
  expect(top.body.events.map((e) => e.eventId)).toEqual(['evt-parked-2', 'evt-page-2']);
  expect(top.body.next).toMatch(/^\d+$/);
  const older = await listed(`/v1/events?limit=2&before=${top.body.next}`);
  expect(older.body.events.map((e) => e.eventId)).toEqual(['evt-page-1', expect.any(String)]);
  for (const e of [...top.body.events, ...older.body.events]) expect(e).not.toHaveProperty('data');

  const parked = await listed('/v1/events?status=parked');
  expect(parked.body.events[0]).toMatchObject({
    eventId: 'evt-parked-2',
    status: 'parked',
    error: expect.stringContaining('welcome'),
  });
  expect(parked.body.events.every((e) => e.status === 'parked')).toBe(true);
  expect(parked.body.next).toBeNull();
  const routed = await listed('/v1/events?status=routed&limit=200');
  expect(routed.body.events.every((e) => e.status === 'routed')).toBe(true);
  expect(routed.body.events.map((e) => e.eventId)).toEqual(expect.arrayContaining(['evt-page-1', 'evt-page-2']));
  expect(routed.body.events.map((e) => e.eventId)).not.toContain('evt-parked-2');

  expect((await listed('/v1/events?status=lost')).status).toBe(422);
  expect((await listed('/v1/events?before=abc')).status).toBe(422);
  expect((await listed('/v1/events?limit=1000')).status).toBe(422);
  expect((await listed('/v1/events', cs.keys.support)).status).toBe(403);

  // The router's backlog: evt-parked-2 is parked; the others are routed.
  const backlog = await cs.api<{ waiting: number; retrying: number; parked: number }>('GET', '/v1/routing', {
    key: cs.keys.admin,
  });
  expect(backlog.status).toBe(200);
  expect(backlog.body).toMatchObject({ waiting: 0, retrying: 0, parked: 1 });
  expect((await cs.api('GET', '/v1/routing', { key: cs.keys.support })).status).toBe(403);
});
