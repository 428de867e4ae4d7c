/** Tasks for people: the list, and completing one (which signals the enrollment that waits for it). */
import { z } from 'zod';
import { recordAudit } from '../../../../activities/store/audit';
import { completeTask, getTask, listTasks, openTaskTeams } from '../../../../activities/store/tasks';
import type { TaskSignal } from '../../../../workflows/types';
import type { App } from '../app';
import { actorOf } from '../auth';
import { sendProblem } from '../problems';
import type { ApiDeps } from '../server';
import { taskCompletedSignal } from '../../../../workflows/messages';

export function taskRoutes(app: App, deps: ApiDeps): void {
  app.get(
    '/v1/tasks',
    {
      schema: {
        summary: 'Tasks: the open ones by default, by team or customer, the soonest due first',
        description:
          'Up to 500 tasks, ordered by due time (overdue first, those without a due time last), each with its customer’s name; and `teams`, the teams that have open tasks with how many.',
        tags: ['tasks'],
        querystring: z.object({
          team: z.string().optional(),
          status: z.enum(['open', 'completed', 'timed_out', 'cancelled']).optional(),
          customer: z.string().optional(),
        }),
      },
    },
    async (req) => {
      const [tasks, teams] = await Promise.all([
        listTasks(deps.db, {
          team: req.query.team,
          status: req.query.status ?? 'open',
          customerId: req.query.customer,
        }),
        openTaskTeams(deps.db),
      ]);
      return { tasks, teams };
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
