/**
 * The support inbox: open tasks by team, the overdue first, then those due within four hours, then the
 * rest by due time; a task's page, where an agent completes it with an outcome and a note (the API
 * signals the journey waiting for it, which goes on).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TaskView } from '../../../activities/store/tasks';
import type { ConsoleDeps } from './console';
import { pageOf, query } from './core';
import { DUE_SOON_MS } from '../api/routes/tasks';

/** A task due within this long is "due soon", as the API counts them. */
const SOON_MS = DUE_SOON_MS;
/** The inbox lists this many, the soonest due (overdue first); the counts cover them all. */
const INBOX_PAGE = 100;

type Urgency = 'overdue' | 'soon' | 'later' | 'none';

function urgencyOf(task: TaskView, now: number): Urgency {
  if (!task.dueAt) return 'none';
  const due = Date.parse(task.dueAt);
  if (due < now) return 'overdue';
  if (due - now <= SOON_MS) return 'soon';
  return 'later';
}

const RANK: Record<Urgency, number> = { overdue: 0, soon: 1, later: 2, none: 3 };

/** The open tasks as the inbox lists them: by urgency, then by due time (the API's order), stable. */
function inboxOrder(tasks: TaskView[], now: number): (TaskView & { urgency: Urgency })[] {
  return tasks
    .map((t, i) => ({ ...t, urgency: urgencyOf(t, now), i }))
    .sort((a, b) => RANK[a.urgency] - RANK[b.urgency] || a.i - b.i)
    .map(({ i: _i, ...t }) => t);
}

interface Teams {
  teams: { team: string; open: number }[];
}

export function inboxPages(scope: FastifyInstance, inject: ConsoleDeps['inject']): void {
  scope.get(
    '/console/inbox',
    async (req: FastifyRequest<{ Querystring: { team?: string; completed?: string } }>, reply) => {
      const page = pageOf(req, reply, inject);
      const team = typeof req.query.team === 'string' && req.query.team ? req.query.team : undefined;
      const list = await page.api.get<
        { tasks: TaskView[]; counts: { open: number; overdue: number; dueSoon: number } } & Teams
      >(`/v1/tasks${query({ team, status: 'open', limit: INBOX_PAGE })}`);
      // A task just completed here: its confirmation (the redirect after the form names it).
      const completedId = typeof req.query.completed === 'string' ? req.query.completed : undefined;
      const completed = completedId
        ? await page.api
            .get<{ task: TaskView }>(`/v1/tasks/${encodeURIComponent(completedId)}`)
            .then((r) => (r.task.status === 'completed' ? r.task : undefined))
            .catch(() => undefined)
        : undefined;
      const tasks = inboxOrder(list.tasks, Date.now());
      return page.render('inbox', {
        tasks,
        teams: list.teams,
        team,
        completed,
        counts: { open: list.counts.open, overdue: list.counts.overdue, soon: list.counts.dueSoon },
        more: list.counts.open > tasks.length,
      });
    },
  );

  scope.get('/console/inbox/:taskId', async (req: FastifyRequest<{ Params: { taskId: string } }>, reply) => {
    const page = pageOf(req, reply, inject);
    const { task } = await page.api.get<{ task: TaskView }>(`/v1/tasks/${encodeURIComponent(req.params.taskId)}`);
    return page.render('inbox-task', { task, urgency: task.status === 'open' ? urgencyOf(task, Date.now()) : null });
  });

  scope.post(
    '/console/inbox/:taskId/complete',
    async (req: FastifyRequest<{ Params: { taskId: string }; Body: { outcome?: unknown; note?: unknown } }>, reply) => {
      const page = pageOf(req, reply, inject);
      const id = req.params.taskId;
      const outcome = typeof req.body?.outcome === 'string' ? req.body.outcome.trim() : '';
      const note = typeof req.body?.note === 'string' ? req.body.note.trim() : '';
      const answer = await page.api.call('POST', `/v1/tasks/${encodeURIComponent(id)}/complete`, {
        outcome,
        ...(note ? { note } : {}),
      });
      if (answer.status >= 400) {
        // Refused (no outcome, too long, no longer open, no scope): the task's page again, with why,
        // and what the agent typed.
        const { task } = await page.api.get<{ task: TaskView }>(`/v1/tasks/${encodeURIComponent(id)}`);
        const problem = answer.body as { detail?: string; errors?: { path: string; message: string }[] };
        return page.render(
          'inbox-task',
          {
            task,
            urgency: task.status === 'open' ? urgencyOf(task, Date.now()) : null,
            error: problem.detail ?? `the API answered ${answer.status}`,
            errors: problem.errors ?? [],
            typed: { outcome, note },
          },
          answer.status,
        );
      }
      const done = (answer.body as { task: TaskView }).task;
      return reply.redirect(`/console/inbox${query({ team: done.team, completed: done.id })}`, 303);
    },
  );
}
