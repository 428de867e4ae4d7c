import { durationMs } from '../../definitions/duration';
import type { TaskStep } from '../../definitions/steps/task';
import { NEXT, takeArm, type StepContext, type StepResult } from './context';

export async function runTask(step: TaskStep, ctx: StepContext): Promise<StepResult> {
  const facts = ctx.facts();
  const now = Date.now();
  const taskId = await ctx.acts.createTask({
    taskKey: `task:${ctx.input.enrollmentId}:${step.id}:${ctx.visits(step.id)}`,
    customerId: ctx.input.customerId,
    enrollmentId: ctx.input.enrollmentId,
    journeyId: ctx.def.journey,
    stepId: step.id,
    ...(step.team ? { team: step.team } : {}),
    ...(step.assignee ? { assignee: step.assignee } : {}),
    title: step.title,
    ...(step.description ? { description: step.description } : {}),
    ...(step.due ? { dueAt: new Date(now + durationMs(step.due)).toISOString() } : {}),
    facts: { ...facts, journey: facts.journey! },
    at: facts.now,
  });
  const early = ctx.memory.completions[taskId];
  delete ctx.memory.completions[taskId];
  ctx.memory.tasks[step.id] = early
    ? { id: taskId, status: 'completed', ...early }
    : { id: taskId, status: 'open', outcome: null, note: null, completedAt: null };
  if (!step.wait) {
    ctx.record(step.id, { kind: 'task', status: 'created', taskId, outcome: null }, `created ${taskId}`);
    return NEXT;
  }
  const done = await ctx.waitUntil(
    `task ${taskId} to be completed`,
    () => ctx.memory.tasks[step.id]?.status === 'completed',
    durationMs(step.wait.timeout),
  );
  if (ctx.interrupted()) return NEXT;
  if (done) {
    const outcome = ctx.memory.tasks[step.id]?.outcome ?? null;
    ctx.record(step.id, { kind: 'task', status: 'completed', taskId, outcome }, `completed: ${outcome ?? ''}`);
    return NEXT;
  }
  await ctx.acts.markTaskTimedOut({ taskId, customerId: ctx.input.customerId, at: new Date().toISOString() });
  ctx.memory.tasks[step.id] = { id: taskId, status: 'timed_out', outcome: null, note: null, completedAt: null };
  ctx.record(
    step.id,
    { kind: 'task', status: 'timeout', taskId, outcome: null },
    `not completed within ${step.wait.timeout}`,
  );
  return takeArm(step, 'on_timeout');
}
