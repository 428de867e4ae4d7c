/**
 * The console's customers pages: search (by email, phone, external id or name; as you type with
 * htmx, or as a plain form), a customer's page (profile, identities, consent with its evidence,
 * predicted values, enrollments, the timeline a page at a time, and why a message went or did not),
 * and erasure behind a confirmation that names what goes. Everything comes from the HTTP API.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ConsoleDeps } from './console';
import { pageOf, query } from './core';

/** Customers per page of the list, and timeline entries per page of a customer's. */
const LIST_PAGE = 50;
const TIMELINE_PAGE = 50;

/** The orders the list offers (the API's sorts); newest first by default, as it adds up no orders. */
const SORTS = [
  { value: 'created', label: 'Newest first' },
  { value: 'revenue', label: 'Highest lifetime value' },
  { value: 'orders', label: 'Most orders' },
  { value: 'lastOrder', label: 'Most recent order' },
] as const;

type Req<Q> = FastifyRequest<{ Params: { id: string }; Querystring: Q }>;

const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
/** Whether htmx asks for the part of the page with this id (the rest stays). */
const wants = (req: FastifyRequest, target: string) =>
  req.headers['hx-request'] === 'true' && req.headers['hx-target'] === target;

interface Detail {
  customer: Record<string, unknown> & {
    id: string;
    firstName: string | null;
    lastName: string | null;
    email: string | null;
    phone: string | null;
  };
  enrollments: { journeyId: string; status: string; currentStep: string | null }[];
  [k: string]: unknown;
}

interface Explanation {
  customerId: string;
  enrollments: { journey: string; messages: { step: string }[]; [k: string]: unknown }[];
}

/** The name a page calls a customer by: their name, else their email or phone, else their id. */
function nameOf(c: Detail['customer']): string {
  const name = [c.firstName, c.lastName].filter((p) => !!p).join(' ');
  return name || c.email || c.phone || c.id;
}

/** The counts an erasure reports, carried to the page that shows them (post/redirect/get). */
const ERASED_COUNTS = [
  'identities',
  'timelineEntries',
  'events',
  'tasks',
  'consentRecords',
  'topicChoices',
  'dataKeys',
  'outboxMessages',
  'mergedRecords',
] as const;

export function customerPages(scope: FastifyInstance, inject: ConsoleDeps['inject']): void {
  const path = (id: string, rest = '') => `/v1/customers/${encodeURIComponent(id)}${rest}`;

  scope.get('/console/customers', async (req: Req<{ q?: string; cursor?: string; sort?: string }>, reply) => {
    const page = pageOf(req, reply, inject);
    const q = text(req.query.q);
    const cursor = text(req.query.cursor);
    const sort = SORTS.find((s) => s.value === req.query.sort) ?? SORTS[0];
    // The default order stays out of the address.
    const sortParam = sort === SORTS[0] ? undefined : sort.value;
    const list = await page.api.get<{ customers: unknown[]; next: string | null }>(
      `/v1/customers${query({ q, sort: sort.value, cursor, limit: LIST_PAGE, fields: 'brief' })}`,
    );
    const data = {
      q,
      sort: sort.value,
      sortLabel: sort.label,
      sorts: SORTS,
      paged: !!cursor,
      customers: list.customers,
      nextUrl: list.next ? `/console/customers${query({ q, sort: sortParam, cursor: list.next })}` : null,
      firstUrl: `/console/customers${query({ q, sort: sortParam })}`,
    };
    return page.render(wants(req, 'results') ? 'customer-results' : 'customers', data);
  });

  scope.get('/console/customers/:id', async (req: Req<{ before?: string; limit?: string }>, reply) => {
    const page = pageOf(req, reply, inject);
    const before = text(req.query.before);
    const limit = Math.min(500, Math.max(1, Math.trunc(Number(req.query.limit)) || TIMELINE_PAGE));
    const detail = await page.api.get<Detail>(path(req.params.id));
    const id = detail.customer.id;
    const timeline = await page.api.get<{ entries: unknown[]; next: string | null }>(
      path(id, `/timeline${query({ before, limit })}`),
    );
    const keep = limit === TIMELINE_PAGE ? undefined : limit;
    return page.render('customer', {
      ...detail,
      name: nameOf(detail.customer),
      timeline: timeline.entries,
      olderUrl: timeline.next
        ? `/console/customers/${encodeURIComponent(id)}${query({ before: timeline.next, limit: keep })}#timeline`
        : null,
      newestUrl: before ? `/console/customers/${encodeURIComponent(id)}${query({ limit: keep })}#timeline` : null,
      journeys: [...new Set(detail.enrollments.map((e) => e.journeyId))],
    });
  });

  scope.get('/console/customers/:id/explain', async (req: Req<{ journey?: string; step?: string }>, reply) => {
    const page = pageOf(req, reply, inject);
    const journey = text(req.query.journey);
    const step = text(req.query.step);
    const answer = await page.api.get<Explanation>(path(req.params.id, `/explain${query({ journey })}`));
    // A step asked about: only its message, in the journeys that have it.
    const enrollments = answer.enrollments
      .map((e) => ({ ...e, messages: step ? e.messages.filter((m) => m.step === step) : e.messages }))
      .filter((e) => !step || e.messages.length > 0);
    const data = { customerId: answer.customerId, journey, step, enrollments };
    if (wants(req, 'explain-answer')) return page.render('customer-explain-answer', data);
    const detail = await page.api.get<Detail>(path(answer.customerId));
    return page.render('customer-explain', { ...data, name: nameOf(detail.customer) });
  });

  scope.get('/console/customers/:id/erase', async (req: Req<unknown>, reply) => {
    const page = pageOf(req, reply, inject);
    // The API's dry run: what an erasure would remove, changing nothing (customers:write, as erasing).
    const preview = await page.api.post(path(req.params.id, '/erase?dryRun=true'));
    const detail = await page.api.get<Detail>(path(String(preview.customer)));
    return page.render('customer-erase', { ...preview, customer: detail.customer, name: nameOf(detail.customer) });
  });

  scope.post('/console/customers/:id/erase', async (req: Req<unknown>, reply) => {
    const page = pageOf(req, reply, inject);
    const done = await page.api.post<{
      customer: string;
      cancelled: string[];
      mergedRecords: number;
      removed: Record<string, unknown>;
    }>(path(req.params.id, '/erase'));
    const counts = Object.fromEntries(
      ERASED_COUNTS.map((k) => [k, Number(k === 'mergedRecords' ? done.mergedRecords : done.removed[k]) || 0]),
    );
    return reply.redirect(
      `/console/customers/${encodeURIComponent(done.customer)}/erased${query({
        ...counts,
        cancelled: done.cancelled.join(','),
      })}`,
      303,
    );
  });

  scope.get('/console/customers/:id/erased', async (req: Req<Record<string, string | undefined>>, reply) => {
    const page = pageOf(req, reply, inject);
    const detail = await page.api.get<Detail>(path(req.params.id));
    const counts = Object.fromEntries(ERASED_COUNTS.map((k) => [k, Math.max(0, Number(req.query[k]) || 0)]));
    const cancelled = text(req.query.cancelled)
      .split(',')
      .filter((j) => /^[a-z0-9][a-z0-9_-]*$/.test(j));
    return page.render('customer-erased', { ...detail, counts, cancelled });
  });
}
