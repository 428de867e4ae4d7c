/**
 * The console's publish and simulate pages for journeys.
 *
 * Publishing: the journey's YAML in a text box; "Check" asks the API for a dry run (POST
 * /v1/journeys/publish with `dryRun`), which compiles it with every check `rapport validate` makes,
 * and the page shows each problem at its line and column with the line itself, or else the impact
 * on the customers inside and a button that publishes the very YAML checked.
 *
 * Simulating: a made-up customer, or a copy of one from the database, played through the published
 * journey on the time-skipping server (POST /v1/journeys/:id/simulate), and the timeline it gives.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { PublishImpact } from '../../../activities/store/versions';
import type { SimulationView } from '../journeys/simulation';
import type { ConsoleDeps } from './console';
import { ApiFailure, type Page, pageOf } from './core';

type Req<P = { id: string }, B = Record<string, string | undefined>> = FastifyRequest<{ Params: P; Body: B }>;

interface ApiError {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

/** A problem of the YAML as the page shows it: where, what, and the line it is on. */
interface Shown {
  line: number;
  column: number;
  path: string;
  message: string;
  text: string;
  /** As wide as the line number, under it. */
  gutter: string;
  caret: string;
}

/** What a publish (or its dry run) answers: the impact, and the compiler's warnings. */
type Impact = PublishImpact & { warnings?: string[] };

/** A refusal the page cannot show in place (a scope the key lacks, a journey that is not there). */
function failure(answer: { status: number; body: Record<string, unknown> }): ApiFailure {
  const b = answer.body as { title?: string; detail?: string; errors?: ApiError[] };
  return new ApiFailure(answer.status, b.title ?? 'Error', b.detail ?? `the API answered ${answer.status}`, b.errors);
}

/** What a browser sends from a text box has CRLF line ends; the journey is published as written in a file. */
function normalized(text: string | undefined): string {
  return (text ?? '').replace(/\r\n?/g, '\n');
}

/** The problems at their lines, in the order of the file, each with its line of text and a caret under the column. */
function shown(errors: ApiError[], source: string): Shown[] {
  const lines = source.split('\n');
  return errors
    .map((e) => {
      const line = e.line ?? 1;
      const column = e.column ?? 1;
      return {
        line,
        column,
        path: e.path,
        // The API's message starts with its place (`18:15: `), which the page shows apart.
        message: e.message.replace(/^\d+:\d+: /, ''),
        text: lines[line - 1] ?? '',
        gutter: ' '.repeat(String(line).length),
        caret: `${' '.repeat(Math.max(0, column - 1))}^`,
      };
    })
    .sort((a, b) => a.line - b.line || a.column - b.column);
}

/** The line that names the journey (`journey: welcome`), for a YAML that names another one than the page's. */
function journeyLine(source: string): { line: number; column: number } {
  const i = source.split('\n').findIndex((l) => /^journey\s*:/.test(l));
  return i < 0 ? { line: 1, column: 1 } : { line: i + 1, column: 1 };
}

/** Checks or publishes: renders the page (problems, or the impact), or returns the journey published. */
async function publishPage(
  page: Page,
  id: string | undefined,
  yaml: string,
  action: string,
): Promise<string | undefined> {
  const base = {
    journeyId: id,
    yaml,
    action: id ? `/console/journeys/${id}/publish` : '/console/journeys/new/publish',
  };
  const dryRun = action !== 'publish';
  const answer = await page.api.call('POST', '/v1/journeys/publish', { source: yaml, dryRun });
  if (answer.status === 422 && Array.isArray(answer.body.errors)) {
    const errors = answer.body.errors as ApiError[];
    // A body the API could not take at all (not a problem of the YAML) is the error page's.
    if (!errors.every((e) => e.line !== undefined)) throw failure(answer);
    await page.render('publish', { ...base, problems: shown(errors, yaml) }, 422);
    return undefined;
  }
  if (answer.status >= 400) throw failure(answer);
  const impact = answer.body as unknown as Impact & { version?: number };
  if (id && impact.journey !== id) {
    const at = journeyLine(yaml);
    const message = `this page publishes ${id}, and the YAML names the journey ${impact.journey}: publish it from /console/journeys/new/publish`;
    await page.render('publish', { ...base, problems: shown([{ path: 'journey', message, ...at }], yaml) }, 422);
    return undefined;
  }
  if (!dryRun) return impact.journey;
  await page.render('publish', {
    ...base,
    impact,
    nextVersion: (impact.currentVersion ?? 0) + 1,
    inside: impact.waiting.reduce((n, w) => n + w.customers, 0),
  });
  return undefined;
}

/** `+3d survey.answered {"score": 2}`, or `+1d complete resolve resolved [note]`: one a line. */
function parseEvents(text: string): { events: Record<string, unknown>[]; problems: Shown[] } {
  const events: Record<string, unknown>[] = [];
  const problems: Shown[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const l = raw.trim();
    if (!l || l.startsWith('#')) return;
    const problem = (message: string) =>
      problems.push({
        line: i + 1,
        column: 1,
        path: '',
        message,
        text: raw,
        gutter: ' '.repeat(String(i + 1).length),
        caret: '^',
      });
    const m = /^(\+?\d+[wdhms](?:\d+[wdhms])*)\s+(\S+)\s*(.*)$/.exec(l);
    if (!m) {
      problem('expected an offset and an event, such as +3d survey.answered {"score": 2}');
      return;
    }
    const [, at, what, rest] = m as unknown as [string, string, string, string];
    if (what === 'complete') {
      const c = /^(\S+)\s+(\S+)\s*(.*)$/.exec(rest);
      if (!c) {
        problem('expected the task step and its outcome, such as +1d complete resolve resolved');
        return;
      }
      events.push({ at, complete: c[1], outcome: c[2], ...(c[3] ? { note: c[3] } : {}) });
      return;
    }
    let data: unknown = {};
    if (rest) {
      try {
        data = JSON.parse(rest);
      } catch {
        problem(`the data after ${what} is not JSON: write it as {"key": "value"}`);
        return;
      }
      if (!data || typeof data !== 'object' || Array.isArray(data)) {
        problem(`the data after ${what} must be a JSON object: {"key": "value"}`);
        return;
      }
    }
    events.push({ at, type: what, data });
  });
  return { events, problems };
}

/** A number from a form field: undefined when empty, NaN when not a number. */
function numberOf(value: string | undefined): number | undefined {
  const v = (value ?? '').trim();
  return v === '' ? undefined : Number(v);
}

/** The made-up customer from the form: who they are, their profile, and past orders that make their history. */
function madeUpCustomer(form: Record<string, string | undefined>): {
  customer?: Record<string, unknown>;
  error?: string;
} {
  const email = form.email?.trim();
  const phone = form.phone?.trim();
  if (!email && !phone) return { error: 'Give the made-up customer an email or a phone number.' };
  const orders = numberOf(form.orders) ?? 0;
  const spent = numberOf(form.spent) ?? 0;
  if (!Number.isInteger(orders) || orders < 0 || orders > 100) {
    return { error: 'Past orders: a whole number from 0 to 100.' };
  }
  if (!Number.isFinite(spent) || spent < 0) return { error: 'Total spent: a number, 0 or more.' };
  if (spent > 0 && orders === 0) return { error: 'Total spent needs at least one past order.' };
  const cents = Math.round(spent * 100);
  const each = orders ? Math.floor(cents / orders) : 0;
  return {
    customer: {
      ...(email ? { email } : {}),
      ...(phone ? { phone } : {}),
      ...(form.firstName?.trim() ? { firstName: form.firstName.trim() } : {}),
      ...(form.lastName?.trim() ? { lastName: form.lastName.trim() } : {}),
      ...(form.timezone?.trim() ? { timezone: form.timezone.trim() } : {}),
      // The total shared evenly (the last order takes what is left), one a month going back.
      ...(orders
        ? {
            orders: Array.from({ length: orders }, (_, i) => ({
              total: (i === orders - 1 ? cents - each * (orders - 1) : each) / 100,
              placedAt: `-${30 * (orders - i)}d`,
            })),
          }
        : {}),
    },
  };
}

type Simulation = SimulationView;

/** A step's outcome in words, as `rapport simulate` prints it. */
function describe(s: Simulation['steps'][number]): string {
  const d = s.detail;
  switch (s.outcome) {
    case 'sent':
      return `sent ${d}`;
    case 'skipped':
      return `skipped: ${d}`;
    case 'deferred':
      return `deferred: ${d}`;
    case 'waited':
      return `waited ${d}`;
    case 'digested':
      return `gathered ${d}`;
    case 'branch':
      return `branch: ${d}`;
    case 'path':
      return `split: path ${d}`;
    case 'task':
      return `task ${d}`;
    case 'event':
      return `received ${d}`;
    case 'timeout':
      return `timed out: ${d}`;
    case 'exited':
      return `exit${d ? `: ${d}` : ''}`;
    default:
      return `${s.outcome}${d ? `: ${d}` : ''}`;
  }
}

/**
 * The timeline's rows: the steps reached and the events sent, in the order they happened. A step
 * that sent a message says so (with its subject); the messages themselves are listed apart.
 */
function timeline(r: Simulation) {
  const rows = [
    ...r.events.map((e, i) => ({
      at: e.at,
      order: 0,
      i,
      offset: e.offset,
      local: '',
      kind: 'event',
      step: '',
      // A task completed (`task resolve completed: resolved`) is not an event that arrives.
      what: `${e.type}${e.type.startsWith('task ') ? '' : ' arrived'}${
        e.enrolled.length || e.signalled.length
          ? `: ${[...e.enrolled.map((j) => `enrolled in ${j}`), ...e.signalled.map((j) => `received by ${j}`)].join(', ')}`
          : ''
      }`,
    })),
    ...r.steps.map((s, i) => ({
      at: s.at,
      order: 1,
      i,
      offset: s.offset,
      local: s.local,
      kind: s.outcome === 'sent' ? 'message' : s.type,
      step: s.step,
      what: describe(s),
    })),
  ];
  return rows.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.order - b.order || a.i - b.i));
}

export function publishPages(scope: FastifyInstance, inject: ConsoleDeps['inject']): void {
  /** Publishing needs journeys:write: a key without it is refused as the API would refuse it. */
  const writer = (page: Page) => {
    if (!page.can.journeysWrite) throw new ApiFailure(403, 'Forbidden', 'this API key lacks the scope journeys:write');
  };

  scope.get('/console/journeys/new/publish', async (req, reply) => {
    const page = pageOf(req, reply, inject);
    writer(page);
    return page.render('publish', { yaml: '', action: '/console/journeys/new/publish' });
  });

  scope.get('/console/journeys/:id/publish', async (req: Req, reply) => {
    const page = pageOf(req, reply, inject);
    writer(page);
    const { id } = req.params;
    const current = await page.api.get<{ version: number; source: string }>(
      `/v1/journeys/${encodeURIComponent(id)}/source`,
    );
    return page.render('publish', {
      journeyId: id,
      yaml: current.source,
      currentVersion: current.version,
      action: `/console/journeys/${id}/publish`,
    });
  });

  const post = async (req: Req<{ id?: string }>, reply: Parameters<typeof pageOf>[1]) => {
    const page = pageOf(req, reply, inject);
    const id = req.params.id;
    const yaml = normalized(req.body?.yaml);
    const action = req.body?.action === 'publish' ? 'publish' : 'check';
    const published = await publishPage(page, id, yaml, action);
    if (published === undefined) return reply;
    // Published: the journey's page, which shows the new version.
    return reply.redirect(`/console/journeys/${encodeURIComponent(published)}`, 303);
  };
  scope.post('/console/journeys/new/publish', async (req: Req<{ id?: string }>, reply) => post(req, reply));
  scope.post('/console/journeys/:id/publish', async (req: Req, reply) => post(req, reply));

  /** The journey the simulate page is for: its name and trigger, from the API (journeys:read). */
  const journeyOf = (page: Page, id: string) =>
    page.api.get<{ id: string; name: string; latestVersion: number; trigger: Record<string, unknown> }>(
      `/v1/journeys/${encodeURIComponent(id)}`,
    );

  scope.get('/console/journeys/:id/simulate', async (req: Req, reply) => {
    const page = pageOf(req, reply, inject);
    const journey = await journeyOf(page, req.params.id);
    return page.render('simulate', { journey, form: { who: 'made-up' } });
  });

  scope.post('/console/journeys/:id/simulate', async (req: Req, reply) => {
    const page = pageOf(req, reply, inject);
    const journey = await journeyOf(page, req.params.id);
    const form = Object.fromEntries(
      Object.entries(req.body ?? {}).map(([k, v]) => [k, typeof v === 'string' ? normalized(v) : undefined]),
    ) as Record<string, string | undefined>;
    const again = (data: Record<string, unknown>, status: number) =>
      page.render('simulate', { journey, form, ...data }, status);

    const parsed = parseEvents(form.events ?? '');
    if (parsed.problems.length) return again({ eventProblems: parsed.problems }, 422);
    let data: Record<string, unknown> | undefined;
    if (form.data?.trim()) {
      try {
        data = JSON.parse(form.data) as Record<string, unknown>;
      } catch {
        return again({ error: 'The data of the enrolling event is not JSON: write it as {"key": "value"}.' }, 422);
      }
      if (!data || typeof data !== 'object' || Array.isArray(data)) {
        return again({ error: 'The data of the enrolling event must be a JSON object: {"key": "value"}.' }, 422);
      }
    }
    const body: Record<string, unknown> = { events: parsed.events, ...(data ? { data } : {}) };
    if (form.who === 'live') {
      const from = form.from?.trim();
      if (!from) return again({ error: 'Enter the email, phone or id of a customer in the database.' }, 422);
      body.from = from;
    } else {
      const made = madeUpCustomer(form);
      if (made.error) return again({ error: made.error }, 422);
      body.customer = made.customer;
    }
    const answer = await page.api.call('POST', `/v1/journeys/${encodeURIComponent(req.params.id)}/simulate`, body);
    if (answer.status === 401 || answer.status === 403) throw failure(answer);
    if (answer.status >= 400) {
      const b = answer.body as { detail?: string; errors?: ApiError[] };
      const detail = [b.detail, ...(b.errors ?? []).map((e) => `${e.path}: ${e.message}`)].filter(Boolean).join('\n');
      return again({ error: detail || `the simulation failed (${answer.status})` }, answer.status);
    }
    const result = answer.body as unknown as Simulation;
    return again({ result, rows: timeline(result) }, 200);
  });
}
