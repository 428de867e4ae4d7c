import type { ExitStep } from '../../definitions/steps/exit';
import type { StepContext, StepResult } from './context';

export function runExit(step: ExitStep, ctx: StepContext): Promise<StepResult> {
  const reason = step.reason ?? `exit step ${step.id}`;
  ctx.record(step.id, { kind: 'exit', reason }, reason);
  return Promise.resolve({ exit: reason });
}
