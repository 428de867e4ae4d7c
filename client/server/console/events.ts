/** The console's events pages. */
import type { FastifyInstance } from 'fastify';
import type { ConsoleDeps } from './console';
import { pageOf } from './core';

export function eventPages(scope: FastifyInstance, inject: ConsoleDeps['inject']): void {
  scope.get('/console/events', async (req, reply) => {
    const page = pageOf(req, reply, inject);
    return page.render('events', {});
  });
}
