import { log } from '@temporalio/workflow';
import { evaluateTimestamp } from '../../definitions/cel';
import { durationMs, formatDuration } from '../../definitions/duration';
import type { WaitStep } from '../../definitions/steps/wait';
import { nextLocalTime } from '../../definitions/local-time';
import { NEXT, type StepContext, type StepResult } from './context';

export async function runWait(step: WaitStep, ctx: StepContext): Promise<StepResult> {
  const now = Date.now();
  let until: number;
  if (step.duration) {
    until = now + durationMs(step.duration);
  } else if (step.until) {
    const customer = await ctx.loadCustomer();
    until = nextLocalTime(Date.now(), customer.timezone, step.until.time, step.until.days);
  } else {
    const customer = await ctx.loadCustomer();
    try {
      until = evaluateTimestamp(step.until_expr!, 'step', ctx.facts(customer));
    } catch (err) {
      // A customer without the attribute the expression reads does not wait.
      log.warn('until_expr could not be evaluated; not waiting', { step: step.id, error: (err as Error).message });
      ctx.record(step.id, { kind: 'wait', status: 'skipped', until: null }, (err as Error).message);
      return NEXT;
    }
  }
  const ms = Math.max(0, until - Date.now());
  const untilIso = new Date(until).toISOString();
  if (ms > 0) await ctx.waitUntil(`until ${untilIso}`, () => false, ms);
  if (ctx.interrupted()) return NEXT;
  ctx.record(
    step.id,
    { kind: 'wait', status: 'waited', until: untilIso },
    ms > 0 ? `${formatDuration(ms)}, until ${untilIso}` : `until ${untilIso} (already past)`,
  );
  return NEXT;
}

export { nextLocalTime };
