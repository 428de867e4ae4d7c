import { log } from '@temporalio/workflow';
import { evaluateCondition } from '../../definitions/cel';
import type { BranchStep } from '../../definitions/steps/branch';
import { takeArm, type StepContext, type StepResult } from './context';

export async function runBranch(step: BranchStep, ctx: StepContext): Promise<StepResult> {
  // The record is read afresh: conditions see the customer as they are now.
  const facts = ctx.facts(await ctx.loadCustomer());
  for (const [i, c] of step.cases.entries()) {
    let holds = false;
    try {
      holds = evaluateCondition(c.when, 'step', facts);
    } catch (err) {
      log.warn('branch condition failed; taken as false', { step: step.id, case: i, error: (err as Error).message });
    }
    if (holds) {
      ctx.record(step.id, { kind: 'branch', case: i + 1 }, `case ${i + 1}: ${c.when}`);
      return takeArm(step, `case ${i + 1}`);
    }
  }
  ctx.record(step.id, { kind: 'branch', case: null }, step.otherwise ? 'otherwise' : 'no case held');
  return takeArm(step, 'otherwise');
}
