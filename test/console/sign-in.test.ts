/**
 * Signing in to the console in Chromium: an API key opens a session held in an HttpOnly,
 * SameSite=Strict cookie; the pages follow the key's scopes; a form without its CSRF token is refused;
 * signing out ends the session for good; a revoked key's session ends with it.
 */
import { revokeApiKey } from '../../activities/store/api-keys';
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
  cs = await startConsoleStack({ journeysDirs: [] });
});

afterAll(async () => {
  await cs?.close();
});

test('an API key signs in; the session cookie is HttpOnly and SameSite=Strict; signing out ends it', async () => {
  const context = await cs.browser.newContext({ viewport: WIDE });
  const page = await context.newPage();
  await page.goto(`${cs.baseUrl}/console/customers`);
  // Not signed in: the sign-in page, which comes back to the page asked for.
  expect(new URL(page.url()).pathname).toBe('/console/sign-in');
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'sign-in');

  await page.getByLabel('API key').fill('rk_000000000000_not-a-real-key-not-a-real-key-not-a-real-k');
  await page.getByRole('button', { name: 'Sign in' }).click();
  expect(await page.getByRole('alert').textContent()).toContain('unknown or revoked');

  await page.getByLabel('API key').fill(cs.keys.admin);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${cs.baseUrl}/console/customers`);

  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'rapport_session')!;
  // Secure: the stack's public address (RAPPORT_PUBLIC_URL) is https, as behind a proxy that ends TLS.
  expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console', secure: true });
  expect(session.value).toMatch(/^cs_/);
  // An admin key sees every part of the console.
  const nav = page.getByRole('navigation', { name: 'Console' });
  for (const name of ['Journeys', 'Customers', 'Inbox', 'Events']) {
    expect(await nav.getByRole('link', { name }).count()).toBe(1);
  }

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${cs.baseUrl}/console/sign-in`);
  expect((await context.cookies()).find((c) => c.name === 'rapport_session')).toBeUndefined();
  // The old cookie, sent again, no longer works: the session is gone from the database.
  await context.addCookies([{ ...session }]);
  await page.goto(`${cs.baseUrl}/console/customers`);
  expect(new URL(page.url()).pathname).toBe('/console/sign-in');
  await context.close();
});

test("a support agent's key sees the inbox and customers, not journeys or events, and cannot call what it lacks", async () => {
  const context = await cs.browser.newContext({ viewport: NARROW });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.support);
  // Lands on the first page its scopes open.
  expect(new URL(page.url()).pathname).toBe('/console/inbox');
  const nav = page.getByRole('navigation', { name: 'Console' });
  expect(await nav.getByRole('link', { name: 'Inbox' }).count()).toBe(1);
  expect(await nav.getByRole('link', { name: 'Customers' }).count()).toBe(1);
  expect(await nav.getByRole('link', { name: 'Journeys' }).count()).toBe(0);
  expect(await nav.getByRole('link', { name: 'Events' }).count()).toBe(0);
  expect(await overflowsSideways(page)).toBe(false);
  await screenshot(page, 'sign-in-support-narrow');

  // Typing the address of a page it may not read: refused by the API's own scope check.
  const res = await page.goto(`${cs.baseUrl}/console/journeys`);
  expect(res?.status()).toBe(403);
  expect(await page.getByRole('alert').textContent()).toContain('journeys:read');
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'refused-narrow');
  await context.close();
});

test('a key whose scopes open no page of the console says so, and signs out', async () => {
  const writer = await cs.newKey('profile writer', ['customers:write']);
  const context = await cs.browser.newContext({ viewport: WIDE });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, writer);
  expect(new URL(page.url()).pathname).toBe('/console/none');
  expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Nothing to show');
  expect(await page.getByRole('navigation', { name: 'Console' }).getByRole('link').count()).toBe(0);
  expect(await accessibilityProblems(page)).toEqual([]);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${cs.baseUrl}/console/sign-in`);
  await context.close();
});

test('a form posted without its CSRF token, or from a session whose key was revoked, changes nothing', async () => {
  const context = await cs.browser.newContext({ viewport: WIDE });
  const page = await context.newPage();
  const key = await cs.newKey('short-lived', ['admin']);
  await signIn(page, cs.baseUrl, key);
  // The session cookie goes with the request (as a forged form from this site would send it), the token does not.
  const forged = await context.request.post(`${cs.baseUrl}/console/sign-out`, { form: {}, maxRedirects: 0 });
  expect(forged.status()).toBe(403);
  await page.goto(`${cs.baseUrl}/console/customers`);
  expect(new URL(page.url()).pathname).toBe('/console/customers');

  const id = /^rk_([0-9a-f]{12})_/.exec(key)![1]!;
  await revokeApiKey(cs.stack.db, id);
  await page.goto(`${cs.baseUrl}/console/customers`);
  expect(new URL(page.url()).pathname).toBe('/console/sign-in');
  await context.close();
});
