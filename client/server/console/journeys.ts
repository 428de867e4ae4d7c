/** The console's journeys pages. */
import type { FastifyInstance } from 'fastify';
import type { ConsoleDeps } from './console';
import { pageOf } from './core';

export function journeyPages(scope: FastifyInstance, inject: ConsoleDeps['inject']): void {
  scope.get('/console/journeys', async (req, reply) => {
    const page = pageOf(req, reply, inject);
    return page.render('journeys', await page.api.get('/v1/journeys'));
  });
}
