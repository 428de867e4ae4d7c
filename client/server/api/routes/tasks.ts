/** Tasks for people: the list, and completing one (which signals the enrollment that waits for it). */
import { z } from 'zod';
import { recordAudit } from '../../../../activities/store/audit';
import { completeTask, getTask, listTasks, openTaskCounts, openTaskTeams } from '../../../../activities/store/tasks';
import type { TaskSignal } from '../../../../workflows/types';
import type { App } from '../app';
import { actorOf } from '../auth';
import { sendProblem } from '../problems';
import type { ApiDeps } from '../server';
import { taskCompletedSignal } from '../../../../workflows/messages';

/** A task due within this long is "due soon" (the counts; the console's inbox says the same). */
export const DUE_SOON_MS = 4 * 3600_000;

export function taskRoutes(app: App, deps: ApiDeps): void {
  app.get(
    '/v1/tasks',
    {
      schema: {
        summary: 'Tasks: the open ones by default, by team or customer, the soonest due first',
        description:
          'Up to `limit` tasks (500 at most), ordered by due time (overdue first, those without a due time last), each with its customer’s name; `teams`, the teams that have open tasks with how many; and for open tasks, `counts`: how many are open, overdue, and due within 4 hours, for the team asked for or all.',
        tags: ['tasks'],
        querystring: z.object({
          team: z.string().optional(),
          status: z.enum(['open', 'completed', 'timed_out', 'cancelled']).optional(),
          customer: z.string().optional(),
          limit: z.coerce.number().int().min(1).max(500, 'expected at most 500').default(500),
        }),
      },
    },
    async (req) => {
      const status = req.query.status ?? 'open';
      const [tasks, teams, counts] = await Promise.all([
        listTasks(deps.db, {
          team: req.query.team,
          status,
          customerId: req.query.customer,
          limit: req.query.limit,
        }),
        openTaskTeams(deps.db),
        status === 'open' && req.query.customer === undefined
          ? openTaskCounts(deps.db, req.query.team, DUE_SOON_MS)
          : undefined,
      ]);
      return { tasks, teams, ...(counts ? { counts } : {}) };
    },
  );

  app.get(
    '/v1/tasks/:id',
    {
      schema: {
        summary: 'A task: what it asks, for whom, when it is due, and how it was completed',
        tags: ['tasks'],
        params: z.object({ id: z.string().min(1).max(200) }),
      },
    },
    async (req, reply) => {
      const task = await getTask(deps.db, req.params.id);
      if (!task) return sendProblem(reply, 404, 'Not found', `no task ${req.params.id}`);
      return { task };
    },
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
      // A repeated completion (a retry) changed nothing, and is not noted again.
      if (result.changed) {
        await recordAudit(deps.db, {
          actor: actorOf(req),
          action: 'task.complete',
          target: `task:${task.id}`,
          detail: { outcome: task.outcome, customer: task.customerId },
        });
      }
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
}
