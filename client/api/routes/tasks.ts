/** Tasks for people, API keys, and the local outbox. */
import { z } from 'zod';
import { listOutbox, readOutboxEml } from '../../../activities/channels/outbox';
import { createApiKey, listApiKeys, revokeApiKey, SCOPES } from '../../../activities/store/api-keys';
import { completeTask, listTasks } from '../../../activities/store/tasks';
import type { TaskSignal } from '../../../workflows/types';
import type { App } from '../app';
import { outboxPage } from '../outbox-page';
import { sendProblem } from '../problems';
import type { ApiDeps } from '../server';
import { taskCompletedSignal } from '../../../workflows/messages';

export function taskRoutes(app: App, deps: ApiDeps): void {
  app.get(
    '/v1/tasks',
    {
      schema: {
        summary: 'Tasks: the open ones by default, by team or customer',
        tags: ['tasks'],
        querystring: z.object({
          team: z.string().optional(),
          status: z.enum(['open', 'completed', 'timed_out', 'cancelled']).optional(),
          customer: z.string().optional(),
        }),
      },
    },
    async (req) => ({
      tasks: await listTasks(deps.db, {
        team: req.query.team,
        status: req.query.status ?? 'open',
        customerId: req.query.customer,
      }),
    }),
  );

  app.post(
    '/v1/tasks/:id/complete',
    {
      schema: {
        summary: 'Complete a task with an outcome; a journey waiting for it goes on',
        tags: ['tasks'],
        params: z.object({ id: z.string().min(1) }),
        body: z
          .object({
            outcome: z.string().min(1, 'expected an outcome, such as resolved').max(200),
            note: z.string().max(5000).optional(),
          })
          .strict(),
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const result = await completeTask(deps.db, id, req.body.outcome, req.body.note ?? null);
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
          .signal(taskCompletedSignal, signal)
          .catch((err: unknown) =>
            req.log.info({ err, taskId: task.id }, 'the journey of this task no longer waits for it'),
          );
      }
      return { task };
    },
  );

  app.post(
    '/v1/keys',
    {
      schema: {
        summary: 'Create an API key; the key is shown in this answer only',
        tags: ['keys'],
        body: z
          .object({
            name: z.string().min(1, 'expected a name saying who uses the key').max(100),
            scopes: z.array(z.enum(SCOPES)).min(1, 'expected at least one scope'),
          })
          .strict(),
      },
    },
    async (req, reply) => {
      const { key, view } = await createApiKey(deps.db, req.body.name, req.body.scopes);
      deps.onKeysChanged?.();
      return reply.code(201).send({ key, ...view });
    },
  );

  app.get('/v1/keys', { schema: { summary: 'API keys (never their secrets)', tags: ['keys'] } }, async () => ({
    keys: await listApiKeys(deps.db),
  }));

  app.delete(
    '/v1/keys/:id',
    { schema: { summary: 'Revoke an API key', tags: ['keys'], params: z.object({ id: z.string().min(1) }) } },
    async (req, reply) => {
      if (!(await revokeApiKey(deps.db, req.params.id)))
        return sendProblem(reply, 404, 'Not found', `no active API key ${req.params.id}`);
      deps.onKeysChanged?.();
      return { id: req.params.id, revoked: true };
    },
  );

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
