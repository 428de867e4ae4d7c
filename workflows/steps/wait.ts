import { sleep } from '@temporalio/workflow';
import { durationMs, formatDuration } from '../../definitions/duration';
import type { WaitStep } from '../../definitions/schema/steps/wait';
import { NEXT, type StepContext, type StepResult } from './context';

export async function runWait(step: WaitStep, ctx: StepContext): Promise<StepResult> {
  const ms = durationMs(step.duration);
  await sleep(ms);
  ctx.record(step.id, 'wait', 'waited', formatDuration(ms));
  return NEXT;
}
