/**
 * The console in a real browser: Chromium (Debian's `chromium`, or RAPPORT_CHROMIUM) driven by
 * playwright-core against a test stack whose API listens on loopback. Each flow checks its pages with
 * axe-core and saves screenshots under test/artifacts/console/ (git-ignored) for a person to look at.
 */
import fs from 'node:fs';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { createApiKey, type Scope } from '../../activities/store/api-keys';
import { projectRoot } from '../../paths';
import { startTestStack, type TestStack, type TestStackOptions } from './stack';
import { timeSkippingEnv } from './temporal';

const ARTIFACTS_DIR = path.join(projectRoot, 'test', 'artifacts', 'console');

/** Debian's package puts it here; `.ci/run` installs it when missing. */
function chromiumPath(): string {
  const candidates = [process.env.RAPPORT_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(
    (p): p is string => !!p,
  );
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) {
    throw new Error(
      `no Chromium at ${candidates.join(' or ')}: install Debian's chromium package (.ci/run does) or set RAPPORT_CHROMIUM`,
    );
  }
  return found;
}

async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Chromium refuses to sandbox itself as root (CI runs as root).
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}

export interface ConsoleStack {
  /** The time-skipping server the stack runs on (its own, closed with it). */
  env: TestWorkflowEnvironment;
  /** Chromium, closed with the stack. */
  browser: Browser;
  stack: TestStack;
  /** http://127.0.0.1:<port> */
  baseUrl: string;
  /** Keys made for the test: an admin, and a support agent's (tasks and customers:read). */
  keys: { admin: string; support: string };
  newKey(name: string, scopes: Scope[]): Promise<string>;
  /** Posts an event with the admin key (keys exist, so the API wants one) and waits for it to be routed. */
  sendEvent(event: Record<string, unknown>): ReturnType<TestStack['sendEvent']>;
  /** Calls the API with a key (the admin's by default): its status and parsed body. */
  api<T = Record<string, unknown>>(
    method: 'GET' | 'POST',
    url: string,
    options?: { key?: string; body?: unknown },
  ): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

/**
 * What a console test file runs on: a time-skipping server, a test stack whose API (and so the
 * console) listens on a loopback port, and Chromium. `close()` stops all three.
 */
export async function startConsoleStack(options: TestStackOptions = {}): Promise<ConsoleStack> {
  // Chromium first: without it nothing else is started, and the error says how to install it.
  const browser = await launchBrowser();
  const env = await timeSkippingEnv().catch(async (err: unknown) => {
    await browser.close();
    throw err;
  });
  const stack = await startTestStack(env, options).catch(async (err: unknown) => {
    await browser.close();
    await env.teardown();
    throw err;
  });
  const address = await stack.api.listen({ host: '127.0.0.1', port: 0 });
  const newKey = async (name: string, scopes: Scope[]) => (await createApiKey(stack.db, name, scopes)).key;
  const keys = {
    admin: await newKey('ops', ['admin']),
    support: await newKey('support agent', ['tasks:read', 'tasks:write', 'customers:read']),
  };
  const api = async <T>(method: 'GET' | 'POST', url: string, options: { key?: string; body?: unknown } = {}) => {
    const res = await stack.api.inject({
      method,
      url,
      headers: { authorization: `Bearer ${options.key ?? keys.admin}` },
      ...(options.body === undefined ? {} : { payload: options.body as Record<string, unknown> }),
    });
    return { status: res.statusCode, body: (res.body ? res.json() : {}) as T };
  };
  return {
    env,
    browser,
    stack,
    baseUrl: address,
    keys,
    newKey,
    api,
    async sendEvent(event) {
      const res = await api<Awaited<ReturnType<TestStack['sendEvent']>>>('POST', '/v1/events?wait=routed', {
        body: event,
      });
      if (res.status !== 202) throw new Error(`POST /v1/events answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body;
    },
    async close() {
      await browser.close();
      await stack.close();
      await env.teardown();
    },
  };
}

/** Signs in through the sign-in page; the browser keeps the session cookie. */
export async function signIn(page: Page, baseUrl: string, key: string): Promise<void> {
  await page.goto(`${baseUrl}/console/sign-in`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => !url.pathname.startsWith('/console/sign-in'));
}

/** The page's serious and critical accessibility violations (axe-core), as readable lines. */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
}

/** Saves what the page shows, at its full height, as test/artifacts/console/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS_DIR, `${name}.png`), fullPage: true });
}

/** The two widths the console is built for. */
export const WIDE = { width: 1280, height: 900 };
export const NARROW = { width: 390, height: 844 };

/** Whether the page scrolls sideways as a whole (a table may scroll inside its own box). */
export async function overflowsSideways(page: Page): Promise<boolean> {
  // Runs in the page, where `document` is the page's.
  const widths = await page.evaluate('[document.documentElement.scrollWidth, document.documentElement.clientWidth]');
  const [scroll, client] = widths as [number, number];
  return scroll > client + 1;
}
