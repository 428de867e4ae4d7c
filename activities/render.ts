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
