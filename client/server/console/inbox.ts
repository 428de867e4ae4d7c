/** The console's inbox pages. */
import type { FastifyInstance } from 'fastify';
import type { ConsoleDeps } from './console';
import { pageOf } from './core';

export function inboxPages(scope: FastifyInstance, inject: ConsoleDeps['inject']): void {
  scope.get('/console/inbox', async (req, reply) => {
    const page = pageOf(req, reply, inject);
    return page.render('inbox', {});
  });
}
