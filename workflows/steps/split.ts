import { unitHash } from '../../definitions/holdout';
import type { SplitStep } from '../../definitions/steps/split';
import { takeArm, type StepContext, type StepResult } from './context';

function choosePath(paths: SplitStep['paths'], key: string): number {
  const total = paths.reduce((sum, p) => sum + p.weight, 0);
  let point = unitHash(key) * total;
  for (const [i, p] of paths.entries()) {
    point -= p.weight;
    if (point < 0) return i;
  }
  return paths.length - 1;
}

export async function runSplit(step: SplitStep, ctx: StepContext): Promise<StepResult> {
  const i = choosePath(step.paths, `${ctx.input.enrollmentId}:${step.id}:${ctx.visits(step.id)}`);
  const path = step.paths[i]!;
  ctx.memory.splits[step.id] = path.name;
  await ctx.acts.recordSplit({
    enrollmentId: ctx.input.enrollmentId,
    customerId: ctx.input.customerId,
    journeyId: ctx.def.journey,
    version: ctx.input.version,
    stepId: step.id,
    path: path.name,
    holdout: !path.steps?.length,
    at: new Date().toISOString(),
  });
  ctx.record(step.id, { kind: 'split', path: path.name }, path.name);
  return takeArm(step, `path ${path.name}`);
}
