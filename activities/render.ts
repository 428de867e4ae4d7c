/**
 * Liquid rendering of message text. Templates see only the variables they are given: no file
 * system, no prototype properties, bounded work.
 */
import { Liquid, type LiquidOptions } from 'liquidjs';

export const limits: LiquidOptions = {
  ownPropertyOnly: true,
  strictFilters: true,
  strictVariables: false,
  relativeReference: false,
  root: [],
  partials: [],
  parseLimit: 200_000,
  renderLimit: 1_000,
  memoryLimit: 10_000_000,
};

/** For HTML parts: every value is escaped, so a customer's name cannot inject markup. */
const htmlEngine = new Liquid({ ...limits, outputEscape: 'escape' });

export function renderHtml(source: string, variables: Record<string, unknown>): Promise<string> {
  return htmlEngine.parseAndRender(source, variables) as Promise<string>;
}

const engine = new Liquid(limits);

/**
 * For JSON bodies (webhooks): every value is escaped as the inside of a JSON string, so a customer's
 * name cannot close its string and add or rewrite fields. `| json` writes a whole JSON value (quotes
 * included) and is not escaped again.
 */
const jsonEngine = new Liquid({
  ...limits,
  outputEscape: (value: unknown) => {
    const text =
      typeof value === 'string'
        ? value
        : value !== null && typeof value === 'object'
          ? JSON.stringify(value)
          : String((value as number | boolean | undefined) ?? '');
    return JSON.stringify(text).slice(1, -1);
  },
});
jsonEngine.registerFilter('json', {
  handler: (value: unknown, space?: number) => JSON.stringify(value ?? null, null, space),
  raw: true,
});

export function renderJson(source: string, variables: Record<string, unknown>): Promise<string> {
  return jsonEngine.parseAndRender(source, variables) as Promise<string>;
}

export function renderText(source: string, variables: Record<string, unknown>): Promise<string> {
  return engine.parseAndRender(source, variables) as Promise<string>;
}

/** Parses a template without rendering it; returns the problem, or undefined when it parses. */
function checkLiquid(source: string): string | undefined {
  try {
    engine.parse(source);
    return undefined;
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

/** The variable paths a template reads, such as ['customer', 'firstName']. */
function liquidVariables(source: string): (string | number)[][] {
  return engine.globalVariableSegmentsSync(source) as (string | number)[][];
}

/** Liquid for the journey compiler. */
export const liquidChecker = { check: checkLiquid, variables: liquidVariables };

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/**
 * The HTML part of an email whose template has none: the rendered text, escaped, one paragraph per
 * blank-line-separated block, with web addresses as links.
 */
export function textToHtml(text: string): string {
  const paragraphs = text
    .trim()
    .split(/\n\s*\n/)
    .map((block) =>
      escapeHtml(block)
        .replace(/https?:\/\/[^\s<>"]+/g, (url) => `<a href="${url}">${url}</a>`)
        .replace(/\n/g, '<br>\n'),
    )
    .map((p) => `<p>${p}</p>`)
    .join('\n');
  return `<!doctype html>\n<html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#222">\n${paragraphs}\n</body></html>\n`;
}
