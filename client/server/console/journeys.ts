/**
 * The console's journeys: the list (versions, status, customers inside), and each journey's page: its
 * graph with the customers at each step now (refreshed in place), its report (the funnel, messages,
 * goal, exits, experiments with their intervals), pause and resume. Publishing and simulating are in
 * publish.ts.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { flowHtml } from '../../../definitions/graph';
import type { JourneyDefinition } from '../../../definitions/schema/journey';
import { funnelSvg } from '../journeys/report-svg';
import type { JourneyReport } from '../journeys/report';
import type { ConsoleDeps } from './console';
import { type Page, pageOf } from './core';

type IdRequest = FastifyRequest<{ Params: { id: string } }>;

interface JourneyDetail {
  id: string;
  name: string;
  status: string;
  latestVersion: number;
  category: string;
  trigger: JourneyDefinition['trigger'];
  definition: JourneyDefinition | null;
  versions: { version: number; publishedAt: string; sourcePath: string | null }[];
  enrollments: { version: number; status: string; step: string | null; customers: number }[];
}

/** The journey's graph with the customers waiting at each step now (every version together). */
async function graphOf(page: Page, id: string) {
  const journey = await page.api.get<JourneyDetail>(`/v1/journeys/${encodeURIComponent(id)}`);
  const counts = new Map<string, number>();
  let inside = 0;
  for (const e of journey.enrollments) {
    if (e.status !== 'active') continue;
    inside += e.customers;
    if (e.step) counts.set(e.step, (counts.get(e.step) ?? 0) + e.customers);
  }
  return {
    journey,
    inside,
    graph: journey.definition ? flowHtml(journey.definition, counts) : '',
    updatedAt: new Date().toISOString(),
  };
}

/** What a trigger says, in a few words. */
function triggerText(trigger: JourneyDefinition['trigger']): string {
  const t = trigger as { event?: string; schedule?: string; segment?: string; when?: string };
  const what = t.event
    ? `event ${t.event}`
    : t.schedule
      ? `schedule ${t.schedule}`
      : t.segment
        ? `segment ${t.segment}`
        : '';
  return t.when ? `${what} when ${t.when}` : what;
}

export function journeyPages(scope: FastifyInstance, inject: ConsoleDeps['inject']): void {
  scope.get('/console/journeys', async (req, reply) => {
    const page = pageOf(req, reply, inject);
    const { journeys } = await page.api.get<{
      journeys: (Omit<JourneyDetail, 'definition' | 'versions' | 'enrollments'> & { inside: number })[];
    }>('/v1/journeys');
    return page.render('journeys', {
      journeys: journeys.map((j) => ({ ...j, triggerText: triggerText(j.trigger) })),
      inside: journeys.reduce((n, j) => n + j.inside, 0),
    });
  });

  scope.get('/console/journeys/:id', async (req: IdRequest, reply) => {
    const page = pageOf(req, reply, inject);
    const { id } = req.params;
    const [live, report] = await Promise.all([
      graphOf(page, id),
      page.api.get<JourneyReport>(`/v1/journeys/${encodeURIComponent(id)}/report`),
    ]);
    const def = live.journey.definition;
    return page.render('journey', {
      ...live,
      triggerText: triggerText(live.journey.trigger),
      facts: def
        ? {
            goal: def.goal
              ? `${def.goal.event}${def.goal.when ? ` when ${def.goal.when}` : ''}${def.goal.within ? ` within ${def.goal.within}` : ''}`
              : null,
            exit: def.exit
              ? [...(def.exit.events ?? []), ...(def.exit.segment === 'leave' ? ['leaving the segment'] : [])].join(
                  ', ',
                )
              : null,
            reentry: def.entry?.reentry ?? 'never',
            topic: (def as { topic?: string }).topic ?? null,
            description: def.description ?? null,
          }
        : null,
      report,
      funnel: funnelSvg(report),
      ended: Object.entries(report.ended).map(([outcome, count]) => ({ outcome, count })),
      paused: live.journey.status === 'paused',
      notice: (req.query as { done?: string }).done,
    });
  });

  // The graph alone: the journey page asks for it again every 10 s (htmx), so its counts stay live.
  scope.get('/console/journeys/:id/graph', async (req: IdRequest, reply) => {
    const page = pageOf(req, reply, inject);
    return page.render('journey-graph', await graphOf(page, req.params.id));
  });

  for (const action of ['pause', 'resume'] as const) {
    scope.post(`/console/journeys/:id/${action}`, async (req: IdRequest, reply) => {
      const page = pageOf(req, reply, inject);
      const { id } = req.params;
      await page.api.post(`/v1/journeys/${encodeURIComponent(id)}/${action}`);
      return reply.redirect(`/console/journeys/${encodeURIComponent(id)}?done=${action}`, 303);
    });
  }
}
