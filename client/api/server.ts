/** The HTTP API: events in, customers and journeys out, and the local outbox for people to read. */
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Db } from '../../activities/db/database';
import { listOutbox, readOutboxEml } from '../../activities/channels/outbox';
import { getCustomer, toCustomerView } from '../../activities/store/customers';
import { listEnrollments } from '../../activities/store/enrollments';
import { listJourneys } from '../../activities/store/journeys';
import { listTimeline } from '../../activities/store/timeline';
import { type EventIntake, IntakeError } from '../events/intake';
import { incomingEvent } from '../events/schema';
import { sendProblem, zodErrors } from './problems';
import { outboxPage } from './outbox-page';

export interface ApiDeps {
  db: Db;
  intake: EventIntake;
  outboxDir: string;
  logger: Logger;
}

export function buildApi(deps: ApiDeps) {
  const app = Fastify({
    // Requests are not logged one by one; failures are.
    loggerInstance: deps.logger.child({ component: 'api' }, { level: 'warn' }),
    bodyLimit: 5 * 1024 * 1024,
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err }, 'request failed');
    return sendProblem(
      reply,
      status,
      status === 500 ? 'Internal error' : 'Bad request',
      status === 500 ? 'the request failed; see the server log' : err.message,
    );
  });
  app.setNotFoundHandler((req, reply) => sendProblem(reply, 404, 'Not found', `no route ${req.method} ${req.url}`));

  app.get('/health', () => ({ status: 'ok' }));

  app.post('/v1/events', async (req, reply) => {
    const parsed = incomingEvent.safeParse(req.body);
    if (!parsed.success) {
      return sendProblem(
        reply,
        422,
        'Invalid event',
        'the event does not match the event schema',
        zodErrors(parsed.error),
      );
    }
    const header = req.headers['idempotency-key'];
    try {
      const { receipt, replayed } = await deps.intake.accept(
        parsed.data,
        typeof header === 'string' ? header : undefined,
      );
      if (replayed) void reply.header('Idempotent-Replayed', 'true');
      return reply.code(202).send(receipt);
    } catch (err) {
      if (err instanceof IntakeError) {
        return sendProblem(
          reply,
          err.status,
          err.status === 409 ? 'Conflict' : 'Invalid event',
          err.message,
          err.path ? [{ path: err.path, message: err.message }] : undefined,
        );
      }
      throw err;
    }
  });

  app.get('/v1/customers/:id', async (req, reply) => {
    const { id } = z.object({ id: z.string().min(1) }).parse(req.params);
    const row = await getCustomer(deps.db, id);
    if (!row) return sendProblem(reply, 404, 'Not found', `no customer with id ${id}`);
    const [enrollments, timeline] = await Promise.all([listEnrollments(deps.db, id), listTimeline(deps.db, id)]);
    return { customer: toCustomerView(row), enrollments, timeline };
  });

  app.get('/v1/journeys', async () => ({ journeys: await listJourneys(deps.db) }));

  app.get('/v1/outbox', async () => ({ messages: await listOutbox(deps.outboxDir) }));
  app.get('/outbox', async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(outboxPage(await listOutbox(deps.outboxDir))),
  );
  app.get('/outbox/:name', async (req, reply) => {
    const { name } = z.object({ name: z.string() }).parse(req.params);
    const eml = await readOutboxEml(deps.outboxDir, name.replace(/\.eml$/, ''));
    if (!eml) return sendProblem(reply, 404, 'Not found', `no outbox message ${name}`);
    return reply.type('message/rfc822').send(eml);
  });

  return app;
}

export type Api = ReturnType<typeof buildApi>;
