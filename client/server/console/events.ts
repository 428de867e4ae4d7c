/**
 * Events: the router's backlog, the recent ones with their receipts (accepted, routed or parked), a
 * filter for each status, an event's page (its enrollments and signals, the journeys that did not
 * enroll it and why, its error), and retrying a parked one. Only what a receipt holds: never the
 * event's data.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { EventListItem, EventPage, RoutingBacklog } from '../events/list';
import type { EventReceipt } from '../events/schema';
import type { ConsoleDeps } from './console';
import { pageOf, query } from './core';

const STATUSES = ['accepted', 'routed', 'parked'] as const;
const PAGE_SIZE = 50;

type Receipt = EventReceipt & { type: string; receivedAt: string; routedAt: string | null; attempts: number };

export function eventPages(scope: FastifyInstance, inject: ConsoleDeps['inject']): void {
  scope.get(
    '/console/events',
    async (req: FastifyRequest<{ Querystring: { status?: string; before?: string } }>, reply) => {
      const page = pageOf(req, reply, inject);
      const status = STATUSES.find((s) => s === req.query.status);
      const before =
        typeof req.query.before === 'string' && /^\d{1,18}$/.test(req.query.before) ? req.query.before : undefined;
      const [list, backlog] = await Promise.all([
        page.api.get<EventPage>(`/v1/events${query({ status, limit: PAGE_SIZE, before })}`),
        page.api.get<RoutingBacklog>('/v1/routing'),
      ]);
      return page.render('events', {
        events: list.events satisfies EventListItem[],
        backlog,
        status,
        before,
        next: list.next ? `/console/events${query({ status, before: list.next })}` : undefined,
        first: before ? `/console/events${query({ status })}` : undefined,
        filters: [
          { label: 'All', href: '/console/events', current: !status },
          ...STATUSES.map((s) => ({
            label: s[0]!.toUpperCase() + s.slice(1),
            href: `/console/events?status=${s}`,
            current: status === s,
          })),
        ],
      });
    },
  );

  scope.get(
    '/console/events/:id',
    async (req: FastifyRequest<{ Params: { id: string }; Querystring: { retried?: string } }>, reply) => {
      const page = pageOf(req, reply, inject);
      const receipt = await page.api.get<Receipt>(`/v1/events/${encodeURIComponent(req.params.id)}`);
      return page.render('event', { event: receipt, retried: req.query.retried === '1' });
    },
  );

  scope.post('/console/events/:id/retry', async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const page = pageOf(req, reply, inject);
    await page.api.post(`/v1/events/${encodeURIComponent(req.params.id)}/retry`);
    return reply.redirect(`/console/events/${encodeURIComponent(req.params.id)}?retried=1`, 303);
  });
}
