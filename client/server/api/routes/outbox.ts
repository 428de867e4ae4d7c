/** The local outbox (mail and SMS without a provider): as JSON, as a page, and each message as .eml. */
import { z } from 'zod';
import { listOutbox, readOutboxEml } from '../../../../activities/channels/outbox';
import type { App } from '../app';
import { outboxPage } from '../outbox-page';
import { sendProblem } from '../problems';
import type { ApiDeps } from '../server';

export function outboxRoutes(app: App, deps: ApiDeps): void {
  app.get('/v1/outbox', { schema: { summary: 'Messages in the local outbox', tags: ['outbox'] } }, async () => ({
    messages: await listOutbox(deps.outboxDir),
  }));
  app.get('/outbox', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(outboxPage(await listOutbox(deps.outboxDir))),
  );
  app.get('/outbox/:name', { schema: { hide: true, params: z.object({ name: z.string() }) } }, async (req, reply) => {
    const eml = await readOutboxEml(deps.outboxDir, req.params.name.replace(/\.eml$/, ''));
    if (!eml) return sendProblem(reply, 404, 'Not found', `no outbox message ${req.params.name}`);
    return reply.type('message/rfc822').send(eml);
  });
}
