/**
 * Publishing a new version of a journey from the console, in Chromium: the YAML is checked by the
 * API, each problem is shown at its line with the line itself; once it is right, the impact on the
 * customers inside, then a confirmation that publishes exactly the YAML checked. A key without
 * journeys:write is refused by the console and, when it posts anyway, by the API.
 */
import fs from 'node:fs';
import path from 'node:path';
import { builtinJourneysDir } from '../../paths';
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

const welcome = fs.readFileSync(path.join(builtinJourneysDir, 'welcome.yaml'), 'utf8');

beforeAll(async () => {
  cs = await startConsoleStack();
});

afterAll(async () => {
  await cs?.close();
});

/** What the API says of the journey, with the admin key. */
async function journey(id: string): Promise<{ latestVersion: number; versions: { version: number }[] }> {
  const res = await cs.stack.api.inject({
    method: 'GET',
    url: `/v1/journeys/${id}`,
    headers: { authorization: `Bearer ${cs.keys.admin}` },
  });
  return res.json();
}

test('a YAML with a mistake shows it at its line; fixed, the impact shows, and the confirmation publishes it', async () => {
  // A customer waits in the welcome journey's 3-day wait, so the impact has someone to speak of.
  const sent = await cs.stack.api.inject({
    method: 'POST',
    url: '/v1/events?wait=routed',
    headers: { authorization: `Bearer ${cs.keys.admin}` },
    payload: { id: 'publish-waiting-1', type: 'signup.completed', customer: { email: 'waiting@example.com' } },
  });
  expect(sent.json()).toMatchObject({ enrolled: [{ journey: 'welcome' }] });
  expect((await journey('welcome')).latestVersion).toBe(1);

  const context = await cs.browser.newContext({ viewport: WIDE });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.admin);
  await page.goto(`${cs.baseUrl}/console/journeys/welcome/publish`);
  await page.getByRole('heading', { level: 1, name: 'Publish a new version of welcome' }).waitFor();
  // Prefilled with the published source.
  expect(await page.getByLabel('Journey YAML').inputValue()).toBe(welcome);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'publish-form');

  // Line 18 is `    duration: 3d`.
  expect(welcome.split('\n')[17]).toBe('    duration: 3d');
  const broken = welcome.replace('duration: 3d', 'duration: soon');
  await page.getByLabel('Journey YAML').fill(broken);
  await page.getByRole('button', { name: 'Check' }).click();
  const problems = page.getByRole('heading', { name: /problem.*nothing was published/ });
  await problems.waitFor();
  const list = page.locator('.yaml-problems');
  expect(await list.textContent()).toContain('Line 18, column 15');
  expect(await list.textContent()).toContain('steps[1].duration');
  expect(await list.textContent()).toMatch(/expected a duration/);
  // The offending line itself, with a caret under the column.
  expect(await list.locator('pre').first().textContent()).toBe(`18     duration: soon\n                 ^`);
  // What was typed stays in the box, to be fixed.
  expect(await page.getByLabel('Journey YAML').inputValue()).toBe(broken);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'publish-problems');
  expect((await journey('welcome')).latestVersion).toBe(1);

  const fixed = welcome.replace('duration: 3d', 'duration: 2d');
  await page.getByLabel('Journey YAML').fill(fixed);
  await page.getByRole('button', { name: 'Check' }).click();
  await page.getByRole('heading', { name: 'What publishing welcome would change' }).waitFor();
  const impact = page.getByRole('region', { name: 'Customers inside, by version and step' });
  expect(await impact.locator('tbody tr').first().textContent()).toMatch(/1\s*settle-in\s*1\s*yes/);
  expect(await page.getByText('stay on the version they started with').count()).toBe(1);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'publish-impact');
  // Checking published nothing.
  expect((await journey('welcome')).latestVersion).toBe(1);

  await page.getByRole('button', { name: 'Publish version 2' }).click();
  await page.waitForURL(`${cs.baseUrl}/console/journeys/welcome`);
  const after = await journey('welcome');
  expect(after.latestVersion).toBe(2);
  expect(after.versions.map((v) => v.version)).toEqual([1, 2]);
  // Exactly the YAML checked, line ends and all.
  const source = await cs.stack.api.inject({
    method: 'GET',
    url: '/v1/journeys/welcome/source',
    headers: { authorization: `Bearer ${cs.keys.admin}` },
  });
  expect(source.json()).toMatchObject({ version: 2, source: fixed });
  await context.close();
});

test('a new journey is published from the new-journey page, at 390 px', async () => {
  const context = await cs.browser.newContext({ viewport: NARROW });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.admin);
  await page.goto(`${cs.baseUrl}/console/journeys/new/publish`);
  expect(await page.getByLabel('Journey YAML').inputValue()).toBe('');
  expect(await overflowsSideways(page)).toBe(false);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'publish-new-narrow');

  const yaml = [
    'journey: thanks',
    'name: Thank a buyer',
    'category: transactional',
    'trigger:',
    '  event: order.placed',
    'steps:',
    '  - id: thank',
    '    type: send',
    '    channel: email',
    '    template: welcome/no-such-template',
    '',
  ].join('\n');
  await page.getByLabel('Journey YAML').fill(yaml);
  await page.getByRole('button', { name: 'Check' }).click();
  await page.locator('.yaml-problems').waitFor();
  // The template is looked for in the server's templates folder, and reported at its line.
  expect(await page.locator('.yaml-problems').textContent()).toContain('Line 10');
  expect(await overflowsSideways(page)).toBe(false);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'publish-new-problems-narrow');

  await page.getByLabel('Journey YAML').fill(yaml.replace('welcome/no-such-template', 'welcome/hello'));
  await page.getByRole('button', { name: 'Check' }).click();
  await page.getByRole('heading', { name: 'What publishing thanks would change' }).waitFor();
  expect(await page.getByText('No customer is inside this journey.').count()).toBe(1);
  expect(await overflowsSideways(page)).toBe(false);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'publish-new-impact-narrow');
  await page.getByRole('button', { name: 'Publish version 1' }).click();
  await page.waitForURL(`${cs.baseUrl}/console/journeys/thanks`);
  expect((await journey('thanks')).latestVersion).toBe(1);
  await context.close();
});

test('a key without journeys:write cannot publish: the console refuses the page, the API the form', async () => {
  const context = await cs.browser.newContext({ viewport: WIDE });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.support);
  const res = await page.goto(`${cs.baseUrl}/console/journeys/welcome/publish`);
  expect(res?.status()).toBe(403);
  expect(await page.getByRole('alert').textContent()).toContain('journeys:write');
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'publish-refused');
  await context.close();

  // A key that reads journeys, posting the form with its own CSRF token: the API's refusal.
  const viewer = await cs.browser.newContext({ viewport: WIDE });
  const p = await viewer.newPage();
  await signIn(p, cs.baseUrl, await cs.newKey('viewer', ['journeys:read']));
  const csrf = await p.locator('input[name="_csrf"]').first().getAttribute('value');
  const posted = await p.request.post(`${cs.baseUrl}/console/journeys/welcome/publish`, {
    form: { _csrf: csrf!, action: 'publish', yaml: welcome.replace('duration: 3d', 'duration: 5d') },
    maxRedirects: 0,
  });
  expect(posted.status()).toBe(403);
  expect(await posted.text()).toContain('lacks the scope journeys:write');
  expect((await journey('welcome')).versions.map((v) => v.version)).not.toContain(3);
  await viewer.close();
});

test('without a simulator (this stack has none), the simulate route answers 503', async () => {
  const res = await cs.stack.api.inject({
    method: 'POST',
    url: '/v1/journeys/welcome/simulate',
    headers: { authorization: `Bearer ${cs.keys.admin}` },
    payload: { customer: { email: 'x@example.com' } },
  });
  expect(res.statusCode).toBe(503);
});
