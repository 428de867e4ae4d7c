/** `rapport audit`: who did what to what, newest first, as a table or JSON. */
import { clientFrom, type ConnectionOptions } from './connection';

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** A day (YYYY-MM-DD, from its start in UTC) or an ISO 8601 time. */
function timeArg(option: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text;
  if (Number.isNaN(Date.parse(iso))) {
    throw new Error(`${option}: expected a day (2026-11-22) or an ISO 8601 time (2026-11-22T10:00:00Z); got ${text}`);
  }
  return new Date(iso).toISOString();
}

export async function auditCommand(
  options: ConnectionOptions & {
    action?: string;
    target?: string;
    actor?: string;
    since?: string;
    until?: string;
    limit?: string;
    cursor?: string;
    json?: boolean;
  },
) {
  const limit = options.limit === undefined ? undefined : Number(options.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 500)) {
    throw new Error(`--limit: expected a whole number from 1 to 500; got ${options.limit}`);
  }
  const page = await clientFrom(options).audit({
    action: options.action,
    target: options.target,
    actor: options.actor,
    since: timeArg('--since', options.since),
    until: timeArg('--until', options.until),
    cursor: options.cursor,
    ...(limit !== undefined ? { limit } : {}),
  });
  if (options.json) return out(JSON.stringify(page, null, 2));
  if (page.entries.length === 0) return out('no audit entries');
  const rows = page.entries.map((e) => [
    e.at.replace('T', ' ').slice(0, 19),
    e.actorKeyId ? `${e.actor} (${e.actorKeyId})` : e.actor,
    e.action,
    e.target,
    Object.entries(e.detail)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' '),
  ]);
  const header = ['TIME (UTC)', 'ACTOR', 'ACTION', 'TARGET', 'DETAIL'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  out([line(header), ...rows.map(line), ...(page.next ? [`more: --cursor ${page.next}`] : [])].join('\n'));
}
