import { recordSlaBreach } from './journey-stats';
import type { Db } from '../db/database';
import type { TaskRow, TaskStatus } from '../db/schema';
import { appendTimeline } from './timeline';

export interface TaskView {
  id: string;
  customerId: string;
  journeyId: string | null;
  stepId: string | null;
  workflowId: string | null;
  team: string | null;
  assignee: string | null;
  title: string;
  description: string | null;
  dueAt: string | null;
  status: TaskStatus;
  outcome: string | null;
  note: string | null;
  createdAt: string;
  completedAt: string | null;
  /** The customer's name, where a list or a task's page shows it (null once erased, or never given). */
  customerName?: string | null;
}

function toTaskView(t: TaskRow): TaskView {
  return {
    id: t.id,
    customerId: t.customer_id,
    journeyId: t.journey_id,
    stepId: t.step_id,
    workflowId: t.workflow_id,
    team: t.team,
    assignee: t.assignee,
    title: t.title,
    description: t.description,
    dueAt: t.due_at?.toISOString() ?? null,
    status: t.status,
    outcome: t.outcome,
    note: t.note,
    createdAt: t.created_at.toISOString(),
    completedAt: t.completed_at?.toISOString() ?? null,
  };
}

const nameOf = (first: string | null, last: string | null): string | null =>
  [first, last].filter((p) => p).join(' ') || null;

/**
 * Tasks, the soonest due first (so the overdue ones lead and those without a due time come last),
 * each with its customer's name.
 */
export async function listTasks(
  db: Db,
  filter: {
    team?: string | undefined;
    status?: TaskStatus | undefined;
    customerId?: string | undefined;
    limit?: number | undefined;
  },
): Promise<TaskView[]> {
  let q = db
    .selectFrom('tasks')
    .leftJoin('customers', 'customers.id', 'tasks.customer_id')
    .selectAll('tasks')
    .select(['customers.first_name', 'customers.last_name']);
  if (filter.team) q = q.where('tasks.team', '=', filter.team);
  if (filter.status) q = q.where('tasks.status', '=', filter.status);
  if (filter.customerId) q = q.where('tasks.customer_id', '=', filter.customerId);
  const rows = await q
    .orderBy('tasks.due_at')
    .orderBy('tasks.created_at')
    .orderBy('tasks.id')
    .limit(filter.limit ?? 500)
    .execute();
  return rows.map((r) => ({ ...toTaskView(r), customerName: nameOf(r.first_name, r.last_name) }));
}

/** One task, with its customer's name. */
export async function getTask(db: Db, id: string): Promise<TaskView | undefined> {
  const row = await db
    .selectFrom('tasks')
    .leftJoin('customers', 'customers.id', 'tasks.customer_id')
    .selectAll('tasks')
    .select(['customers.first_name', 'customers.last_name'])
    .where('tasks.id', '=', id)
    .executeTakeFirst();
  return row ? { ...toTaskView(row), customerName: nameOf(row.first_name, row.last_name) } : undefined;
}

/** Open tasks (of a team, or all), how many are overdue, and how many fall due within `soonMs`. */
export async function openTaskCounts(
  db: Db,
  team: string | undefined,
  soonMs: number,
  now = new Date(),
): Promise<{ open: number; overdue: number; dueSoon: number }> {
  const soon = new Date(now.getTime() + soonMs);
  const row = await db
    .selectFrom('tasks')
    .select((eb) => [
      eb.fn.countAll<string>().as('open'),
      eb.fn.sum<string>(eb.case().when('due_at', '<', now).then(1).else(0).end()).as('overdue'),
      eb.fn
        .sum<string>(
          eb
            .case()
            .when(eb.and([eb('due_at', '>=', now), eb('due_at', '<=', soon)]))
            .then(1)
            .else(0)
            .end(),
        )
        .as('soon'),
    ])
    .where('status', '=', 'open')
    .$if(team !== undefined, (q) => q.where('team', '=', team!))
    .executeTakeFirstOrThrow();
  return { open: Number(row.open), overdue: Number(row.overdue ?? 0), dueSoon: Number(row.soon ?? 0) };
}

/** The teams that have open tasks, with how many each has (tasks for an assignee alone have no team). */
export async function openTaskTeams(db: Db): Promise<{ team: string; open: number }[]> {
  const rows = await db
    .selectFrom('tasks')
    .select(['team', (eb) => eb.fn.countAll<string>().as('open')])
    .where('status', '=', 'open')
    .where('team', 'is not', null)
    .groupBy('team')
    .orderBy('team')
    .execute();
  return rows.map((r) => ({ team: r.team!, open: Number(r.open) }));
}

export type CompleteResult =
  { task: TaskView; changed: boolean } | { error: 'not_found' | 'not_open'; task?: TaskView };

/** Completes an open task with an outcome. Completing it again with the same outcome changes nothing. */
export async function completeTask(db: Db, id: string, outcome: string, note: string | null): Promise<CompleteResult> {
  const now = new Date();
  const updated = await db
    .updateTable('tasks')
    .set({ status: 'completed', outcome, note, completed_at: now })
    .where('id', '=', id)
    .where('status', '=', 'open')
    .returningAll()
    .executeTakeFirst();
  if (updated) {
    await appendTimeline(db, {
      customerId: updated.customer_id,
      at: now,
      kind: 'task',
      summary: `task completed: ${updated.title} (${outcome})`,
      ref: `completed:${id}`,
      data: { taskId: id, outcome, note, journey: updated.journey_id, step: updated.step_id },
    });
    await recordSlaBreach(db, updated, now);
    return { task: toTaskView(updated), changed: true };
  }
  const existing = await db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
  if (!existing) return { error: 'not_found' };
  if (existing.status === 'completed' && existing.outcome === outcome)
    return { task: toTaskView(existing), changed: false };
  return { error: 'not_open', task: toTaskView(existing) };
}
