/** The HTTP API: events in, customers and journeys out, and the local outbox for people to read. */
import Fastify from 'fastify';
import formbody from '@fastify/formbody';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Db } from '../../activities/db/database';
import { listOutbox, readOutboxEml } from '../../activities/channels/outbox';
import { findCustomer, getCustomer, mergeCustomers, toCustomerView } from '../../activities/store/customers';
import { customerFacts } from '../../activities/store/facts';
import { explainCustomer } from '../../activities/store/explain';
import { listEnrollments } from '../../activities/store/enrollments';
import { listTimeline } from '../../activities/store/timeline';
import type { Client } from '@temporalio/client';
import { stringify } from 'yaml';
import { compileJourney } from '../../definitions/compile';
import { liquidChecker } from '../../activities/render';
import { toPlan } from '../journeys/load';
import { completeTask, listTasks } from '../../activities/store/tasks';
import { listJourneys, publishVersion, setJourneyStatus } from '../../activities/store/journeys';
import { journeyVersions, publishImpact } from '../../activities/store/versions';
import type { JourneyState, TaskSignal } from '../../workflows/types';
import { type EventIntake, IntakeError } from '../events/intake';
import { EVENT_BATCH_MAX, incomingEvent } from '../events/schema';
import { IMPORT_BATCH_MAX, importCustomers, importOrders } from '../../activities/store/imports';
import { sendProblem, zodErrors } from './problems';
import { outboxPage } from './outbox-page';
import { type ChannelSettings, channelRoutes } from './channels';

const eventBatch = z
  .object({
    events: z
      .array(incomingEvent)
      .min(1, 'expected at least one event')
      .max(EVENT_BATCH_MAX, `expected at most ${EVENT_BATCH_MAX} events in one batch`),
  })
  .strict()
  .superRefine((b, ctx) => {
    b.events.forEach((e, i) => {
      if (!e.id)
        ctx.addIssue({ code: 'custom', path: ['events', i, 'id'], message: 'an event in a batch needs an id' });
    });
  });

const importBatch = z
  .object({
    rows: z
      .array(z.object({ line: z.number().int().positive(), fields: z.record(z.string(), z.unknown()) }).strict())
      .max(IMPORT_BATCH_MAX, `expected at most ${IMPORT_BATCH_MAX} rows in one request`),
  })
  .strict();

export interface ApiDeps {
  db: Db;
  intake: EventIntake;
  temporal: Client;
  outboxDir: string;
  /** Accept http:// webhook URLs in journeys published through the API. */
  allowHttpWebhooks?: boolean;
  /** Unsubscribe links and Twilio webhooks; without it those routes are absent. */
  channels?: ChannelSettings;
  logger: Logger;
}

export function buildApi(deps: ApiDeps) {
  const app = Fastify({
    // Requests are not logged one by one; failures are.
    loggerInstance: deps.logger.child({ component: 'api' }, { level: 'warn' }),
    bodyLimit: 5 * 1024 * 1024,
    // Unsubscribe tokens travel in the path.
    routerOptions: { maxParamLength: 1000 },
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

  // Twilio's webhooks and one-click unsubscribe post forms.
  void app.register(formbody, { bodyLimit: 64 * 1024 });
  if (deps.channels) void app.register(channelRoutes(deps.db, deps.channels, deps.logger));

  app.get('/health', () => ({ status: 'ok' }));

  const problemOf = (err: unknown) => {
    if (err instanceof IntakeError) {
      return {
        status: err.status,
        title: err.status === 409 ? 'Conflict' : 'Invalid event',
        detail: err.message,
        ...(err.path ? { errors: [{ path: err.path, message: err.message }] } : {}),
      };
    }
    throw err;
  };

  // One event, or a batch: {"events": [...]}, up to EVENT_BATCH_MAX. A batch is validated whole
  // first (a bad event anywhere accepts none, and every problem is listed with its place); then each
  // event is accepted in order, and the answer says what became of each.
  app.post('/v1/events', async (req, reply) => {
    const body = req.body as { events?: unknown } | undefined;
    if (body && typeof body === 'object' && !Array.isArray(body) && 'events' in body) {
      const parsed = eventBatch.safeParse(body);
      if (!parsed.success) {
        return sendProblem(
          reply,
          422,
          'Invalid batch',
          'the batch does not match the event schema; no event of it was accepted',
          zodErrors(parsed.error),
        );
      }
      const results = [];
      for (const [index, event] of parsed.data.events.entries()) {
        try {
          const { receipt, replayed } = await deps.intake.accept(event);
          results.push({ index, status: 202, replayed, receipt });
        } catch (err) {
          const problem = problemOf(err);
          results.push({ index, status: problem.status, problem });
        }
      }
      const accepted = results.filter((r) => r.status === 202).length;
      return reply.code(accepted === results.length ? 202 : 207).send({ accepted, results });
    }
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
      const p = problemOf(err);
      return sendProblem(reply, p.status, p.title, p.detail, p.errors);
    }
  });

  // A customer base, in batches of rows from a file (`rapport import`): history, which enrolls nobody.
  for (const kind of ['customers', 'orders'] as const) {
    app.post(`/v1/imports/${kind}`, async (req, reply) => {
      const parsed = importBatch.safeParse(req.body);
      if (!parsed.success) {
        return sendProblem(
          reply,
          422,
          'Invalid import',
          'expected {"rows": [{"line", "fields"}]}',
          zodErrors(parsed.error),
        );
      }
      const rows = parsed.data.rows;
      return kind === 'customers' ? importCustomers(deps.db, rows) : importOrders(deps.db, rows);
    });
  }

  /** A customer by id, email or phone (E.164). */
  const resolveRef = async (ref: string) =>
    ref.includes('@')
      ? findCustomer(deps.db, { email: ref })
      : ref.startsWith('+')
        ? findCustomer(deps.db, { phone: ref })
        : getCustomer(deps.db, ref);

  app.get('/v1/customers/:ref', async (req, reply) => {
    const { ref } = z.object({ ref: z.string().min(1) }).parse(req.params);
    const row = await resolveRef(ref);
    if (!row) return sendProblem(reply, 404, 'Not found', `no customer ${ref}`);
    const [facts, identities, enrollments, timeline] = await Promise.all([
      customerFacts(deps.db, row),
      deps.db
        .selectFrom('identities')
        .select(['kind', 'value', 'created_at'])
        .where('customer_id', '=', row.id)
        .orderBy('created_at')
        .execute(),
      listEnrollments(deps.db, row.id),
      listTimeline(deps.db, row.id),
    ]);
    return {
      customer: { ...toCustomerView(row), metrics: facts.metrics, consent: facts.consent },
      identities: identities.map((i) => ({ kind: i.kind, value: i.value, since: i.created_at.toISOString() })),
      enrollments,
      timeline,
    };
  });

  app.get('/v1/customers/:ref/explain', async (req, reply) => {
    const { ref } = z.object({ ref: z.string().min(1) }).parse(req.params);
    const { journey } = z.object({ journey: z.string().optional() }).parse(req.query);
    const row = await resolveRef(ref);
    if (!row) return sendProblem(reply, 404, 'Not found', `no customer ${ref}`);
    const enrollments = await explainCustomer(deps.db, row.id, journey);
    const live = await Promise.all(
      enrollments.map(async (e) => {
        if (e.status !== 'active') return { ...e, waitingFor: null };
        try {
          const state = await deps.temporal.workflow.getHandle(e.workflowId).query<JourneyState>('journeyState');
          return { ...e, currentStep: state.currentStep, waitingFor: state.waitingFor };
        } catch {
          return { ...e, waitingFor: null };
        }
      }),
    );
    return { customerId: row.id, enrollments: live };
  });

  app.post('/v1/customers/merge', async (req, reply) => {
    const body = z
      .object({ into: z.string().min(1), from: z.string().min(1), reason: z.string().max(500).optional() })
      .strict()
      .safeParse(req.body);
    if (!body.success)
      return sendProblem(reply, 422, 'Invalid merge', 'the body does not match', zodErrors(body.error));
    const into = await getCustomer(deps.db, body.data.into);
    const from = await getCustomer(deps.db, body.data.from);
    if (!into || !from)
      return sendProblem(reply, 404, 'Not found', `no customer ${!into ? body.data.into : body.data.from}`);
    if (into.id === from.id) return sendProblem(reply, 409, 'Conflict', 'these are already one customer');
    await deps.db
      .transaction()
      .execute((tx) => mergeCustomers(tx, into.id, from.id, body.data.reason ?? 'merged through the API'));
    return { customer: into.id, merged: from.id };
  });

  app.get('/v1/journeys', async () => ({ journeys: await listJourneys(deps.db) }));

  app.get('/v1/journeys/:id', async (req, reply) => {
    const { id } = z.object({ id: z.string() }).parse(req.params);
    const summary = (await listJourneys(deps.db)).find((j) => j.id === id);
    if (!summary) return sendProblem(reply, 404, 'Not found', `no journey ${id}`);
    const enrollments = await deps.db
      .selectFrom('enrollments')
      .select(['version', 'status', 'current_step', (eb) => eb.fn.countAll<string>().as('n')])
      .where('journey_id', '=', id)
      .groupBy(['version', 'status', 'current_step'])
      .orderBy('version')
      .execute();
    return {
      ...summary,
      versions: await journeyVersions(deps.db, id),
      enrollments: enrollments.map((e) => ({
        version: e.version,
        status: e.status,
        step: e.current_step,
        customers: Number(e.n),
      })),
    };
  });

  const publishBody = z
    .object({
      plan: z.object({
        definition: z.unknown(),
        templates: z.record(z.string(), z.unknown()),
        contentHash: z.string().regex(/^[0-9a-f]{64}$/),
      }),
      source: z.string(),
      sourcePath: z.string().nullable().optional(),
      dryRun: z.boolean().optional(),
    })
    .strict();

  /** Publishes a compiled plan (the command line compiles and validates first); a dry run only shows the impact. */
  app.post('/v1/journeys/publish', async (req, reply) => {
    const body = publishBody.safeParse(req.body);
    if (!body.success)
      return sendProblem(reply, 422, 'Invalid journey', 'the body does not match', zodErrors(body.error));
    // The server compiles the source itself, with every check `rapport validate` makes; the templates
    // come with the request (the command line read them from its templates folder).
    const templates = body.data.plan.templates;
    const compiled = compileJourney(body.data.source, body.data.sourcePath ?? 'journey.yaml', {
      readTemplate: (name, channel) => {
        const t = templates[`${channel}:${name}`];
        return t === undefined ? undefined : stringify(t);
      },
      liquid: liquidChecker,
      ...(deps.allowHttpWebhooks ? { allowHttpWebhooks: true } : {}),
    });
    if (!compiled.ok) {
      return sendProblem(
        reply,
        422,
        'Invalid journey',
        `the journey has ${compiled.problems.length} problem(s)`,
        compiled.problems.map((p) => ({ path: p.path, message: `${p.line}:${p.column}: ${p.message}` })),
      );
    }
    const plan = toPlan(compiled.journey);
    const impact = await publishImpact(deps.db, plan);
    if (body.data.dryRun) return { dryRun: true, ...impact };
    const { version, created } = await publishVersion(deps.db, plan, body.data.source, body.data.sourcePath ?? null);
    return reply.code(created ? 201 : 200).send({ dryRun: false, version, created, ...impact });
  });

  for (const [action, status] of [
    ['pause', 'paused'],
    ['resume', 'active'],
  ] as const) {
    app.post(`/v1/journeys/:id/${action}`, async (req, reply) => {
      const { id } = z.object({ id: z.string() }).parse(req.params);
      if (!(await setJourneyStatus(deps.db, id, status)))
        return sendProblem(reply, 404, 'Not found', `no journey ${id}`);
      return { journey: id, status };
    });
  }

  app.get('/v1/tasks', async (req) => {
    const q = z
      .object({
        team: z.string().optional(),
        status: z.enum(['open', 'completed', 'timed_out', 'cancelled']).optional(),
        customer: z.string().optional(),
      })
      .parse(req.query);
    return { tasks: await listTasks(deps.db, { team: q.team, status: q.status ?? 'open', customerId: q.customer }) };
  });

  app.post('/v1/tasks/:id/complete', async (req, reply) => {
    const { id } = z.object({ id: z.string() }).parse(req.params);
    const body = z
      .object({
        outcome: z.string().min(1, 'expected an outcome, such as resolved').max(200),
        note: z.string().max(5000).optional(),
      })
      .strict()
      .safeParse(req.body);
    if (!body.success)
      return sendProblem(reply, 422, 'Invalid completion', 'the body does not match', zodErrors(body.error));
    const result = await completeTask(deps.db, id, body.data.outcome, body.data.note ?? null);
    if ('error' in result) {
      return result.error === 'not_found'
        ? sendProblem(reply, 404, 'Not found', `no task ${id}`)
        : sendProblem(reply, 409, 'Conflict', `task ${id} is ${result.task?.status ?? 'not open'}`);
    }
    const { task } = result;
    if (task.workflowId && task.stepId) {
      const signal: TaskSignal = {
        stepId: task.stepId,
        taskId: task.id,
        outcome: task.outcome ?? '',
        note: task.note,
        completedAt: task.completedAt ?? new Date().toISOString(),
      };
      await deps.temporal.workflow
        .getHandle(task.workflowId)
        .signal('taskCompleted', signal)
        .catch((err: unknown) =>
          req.log.info({ err, taskId: task.id }, 'the journey of this task no longer waits for it'),
        );
    }
    return { task };
  });

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
