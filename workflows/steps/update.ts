import type { UpdateStep } from '../../definitions/steps/update';
import { NEXT, type StepContext, type StepResult } from './context';

export async function runUpdate(step: UpdateStep, ctx: StepContext): Promise<StepResult> {
  const facts = ctx.facts();
  const summary = await ctx.acts.updateCustomer({
    customerId: ctx.input.customerId,
    journeyId: ctx.def.journey,
    stepId: step.id,
    changeKey: `update:${ctx.input.enrollmentId}:${step.id}:${ctx.visits(step.id)}`,
    ...(step.set ? { set: step.set } : {}),
    ...(step.tags ? { tags: step.tags } : {}),
    facts: { ...facts, journey: facts.journey! },
    at: facts.now,
  });
  ctx.record(step.id, { kind: 'update' }, summary);
  return NEXT;
}
