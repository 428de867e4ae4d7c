/**
 * What every console page shares: who is signed in, the API called on their behalf, and rendering.
 *
 * The console is a client of Rapport's own HTTP API. A page calls the API in the process (Fastify's
 * inject) with `Authorization: Session <token>`, so it sees what the signed-in key may see, under the
 * same validation, scopes, rate limit and audit trail as any other caller. Pages are Liquid templates
 * in `views/`, every output escaped unless a template says `| raw` (the project's own SVG and graph).
 */
import type { FastifyReply, FastifyRequest, InjectOptions } from 'fastify';
import { Liquid } from 'liquidjs';
import type { Scope } from '../../../activities/store/api-keys';
import { allows } from '../../../activities/store/api-keys';
import { consoleViewsDir } from '../../../paths';

declare module 'fastify' {
  interface FastifyRequest {
    /** The console's signed-in session, on console pages behind sign-in. */
    consoleSession?: { token: string; key: { id: string; name: string; scopes: Scope[] } };
  }
}

/** A problem the API answered with: the page shows its detail, with the API's status. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors: { path: string; message: string }[] = [],
  ) {
    super(detail);
    this.name = 'ApiFailure';
  }
}

type Inject = (options: InjectOptions) => Promise<{ statusCode: number; body: string }>;

export interface ApiCaller {
  get<T = Record<string, unknown>>(url: string): Promise<T>;
  post<T = Record<string, unknown>>(url: string, body?: unknown): Promise<T>;
  /** The answer whatever its status, for pages that show a refusal in place (a publish's errors). */
  call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<ApiAnswer>;
}

interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** The API, called for the signed-in session. */
function apiFor(inject: Inject, token: string): ApiCaller {
  const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) => {
    const res = await inject({
      method,
      url,
      headers: {
        authorization: `Session ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    let parsed: Record<string, unknown> = {};
    try {
      parsed = res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {};
    } catch {
      parsed = { detail: res.body };
    }
    return { status: res.statusCode, body: parsed };
  };
  const ok = async <T>(method: 'GET' | 'POST', url: string, body?: unknown): Promise<T> => {
    const answer = await call(method, url, body);
    if (answer.status >= 400) throw failureOf(answer);
    return answer.body as T;
  };
  return {
    get: (url) => ok('GET', url),
    post: (url, body) => ok('POST', url, body ?? {}),
    call,
  };
}

/** A refusal as an ApiFailure, with the problem document's title, detail and errors. */
function failureOf(answer: ApiAnswer): ApiFailure {
  const b = answer.body as { title?: string; detail?: string; errors?: { path: string; message: string }[] };
  return new ApiFailure(answer.status, b.title ?? 'Error', b.detail ?? `the API answered ${answer.status}`, b.errors);
}

const engine = new Liquid({
  root: consoleViewsDir,
  extname: '.liquid',
  outputEscape: 'escape',
  cache: true,
  strictFilters: true,
});
// Dates as people read them, in UTC, which the page says.
engine.registerFilter('when', (value: unknown) => {
  if (typeof value !== 'string' && !(value instanceof Date)) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toISOString().slice(0, 16).replace('T', ' ');
});
engine.registerFilter('pretty', (value: unknown) => JSON.stringify(value, null, 2));
engine.registerFilter('pct', (value: unknown) =>
  typeof value === 'number' && Number.isFinite(value) ? `${(value * 100).toFixed(1)} %` : '–',
);

/** Per page, what the signed-in key can do: the nav and the forms follow it. */
export function abilities(scopes: readonly Scope[]) {
  return {
    journeysRead: allows(scopes, 'journeys:read'),
    journeysWrite: allows(scopes, 'journeys:write'),
    customersRead: allows(scopes, 'customers:read'),
    customersWrite: allows(scopes, 'customers:write'),
    tasksRead: allows(scopes, 'tasks:read'),
    tasksWrite: allows(scopes, 'tasks:write'),
    events: allows(scopes, 'events:write'),
  };
}

/** Renders a view inside the layout: the nav, the signed-in key, the CSRF token for its forms. */
export async function render(
  req: FastifyRequest,
  reply: FastifyReply,
  view: string,
  data: Record<string, unknown> = {},
  status = 200,
): Promise<FastifyReply> {
  const session = req.consoleSession;
  const html: string = await (engine.renderFile as (file: string, scope: object) => Promise<string>)(view, {
    ...data,
    key: session?.key,
    can: session ? abilities(session.key.scopes) : {},
    csrf: reply.generateCsrf(),
    path: req.url.split('?')[0],
  });
  return reply.code(status).type('text/html; charset=utf-8').send(html);
}

/** A page's context: the API for its session, what it may do, and render. */
export function pageOf(req: FastifyRequest, reply: FastifyReply, inject: Inject) {
  const session = req.consoleSession!;
  return {
    api: apiFor(inject, session.token),
    can: abilities(session.key.scopes),
    render: (view: string, data: Record<string, unknown> = {}, status = 200) => render(req, reply, view, data, status),
  };
}

export type Page = ReturnType<typeof pageOf>;

/** A query string from the parameters that have a value. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
