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

export async function listTasks(
  db: Db,
  filter: { team?: string | undefined; status?: TaskStatus | undefined; customerId?: string | undefined },
): Promise<TaskView[]> {
  let q = db.selectFrom('tasks').selectAll();
  if (filter.team) q = q.where('team', '=', filter.team);
  if (filter.status) q = q.where('status', '=', filter.status);
  if (filter.customerId) q = q.where('customer_id', '=', filter.customerId);
  const rows = await q.orderBy('due_at').orderBy('created_at').limit(500).execute();
  return rows.map(toTaskView);
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
