/** The console's customers pages. */
import type { FastifyInstance } from 'fastify';
import type { ConsoleDeps } from './console';
import { pageOf } from './core';

export function customerPages(scope: FastifyInstance, inject: ConsoleDeps['inject']): void {
  scope.get('/console/customers', async (req, reply) => {
    const page = pageOf(req, reply, inject);
    return page.render('customers', {});
  });
}
