import { log } from '@temporalio/workflow';
import { evaluateCondition } from '../../definitions/cel';
import { durationMs } from '../../definitions/duration';
import type { WaitForStep } from '../../definitions/steps/wait-for';
import { NEXT, takeArm, type StepContext, type StepResult } from './context';

/**
 * Matches the earliest event received since enrollment that no earlier wait_for consumed: a
 * customer who activated while an earlier wait ran has activated, and the step goes on at once.
 */
export async function runWaitFor(step: WaitForStep, ctx: StepContext): Promise<StepResult> {
  const { memory } = ctx;
  let matched: (typeof memory.inbox)[number] | undefined;
  const matches = (entry: (typeof memory.inbox)[number]): boolean => {
    if (entry.event.type !== step.event) return false;
    if (!step.when) return true;
    try {
      return evaluateCondition(step.when, 'wait_for', { ...ctx.facts(entry.customer), event: entry.event });
    } catch (err) {
      log.warn('wait_for condition failed; the event does not match', { step: step.id, error: (err as Error).message });
      return false;
    }
  };
  const arrived = await ctx.waitUntil(
    `event ${step.event}`,
    () => {
      matched = memory.inbox.find(matches);
      return matched !== undefined;
    },
    durationMs(step.timeout),
  );
  if (ctx.interrupted()) return NEXT;
  if (arrived && matched) {
    memory.events[step.id] = matched.event;
    memory.inbox = memory.inbox.filter((e) => e !== matched);
    ctx.record(step.id, { kind: 'wait_for', status: 'event', event: step.event }, step.event);
    return takeArm(step, 'on_event');
  }
  ctx.record(
    step.id,
    { kind: 'wait_for', status: 'timeout', event: step.event },
    `no ${step.event} within ${step.timeout}`,
  );
  return takeArm(step, 'on_timeout');
}
