import { log } from '@temporalio/workflow';
import { DateTime } from 'luxon';
import { evaluateTimestamp } from '../../definitions/cel';
import { durationMs, formatDuration } from '../../definitions/duration';
import type { WaitStep } from '../../definitions/schema/steps/wait';
import type { Weekday } from '../../definitions/schema/common';
import { NEXT, type StepContext, type StepResult } from './context';

const WEEKDAYS: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/**
 * The next instant, strictly after `fromMs`, at local time `time` on one of `days` in `zone`.
 * Daylight-saving changes are the time zone database's: a local time that does not exist that day
 * (spring forward) moves forward by the gap, one that exists twice (fall back) is the first.
 */
export function nextLocalTime(fromMs: number, zone: string, time: string, days?: Weekday[]): number {
  const [hour, minute] = time.split(':').map(Number) as [number, number];
  let local = DateTime.fromMillis(fromMs, { zone });
  if (!local.isValid) local = DateTime.fromMillis(fromMs, { zone: 'UTC' });
  for (let i = 0; i <= 7; i++) {
    const day = local.plus({ days: i }).set({ hour, minute, second: 0, millisecond: 0 });
    const weekday = WEEKDAYS[day.weekday - 1]!;
    if (day.toMillis() > fromMs && (!days || days.includes(weekday))) return day.toMillis();
  }
  throw new Error(`no ${time} on ${days?.join(',') ?? 'any day'} within a week`);
}

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
      ctx.record(step.id, 'wait', 'skipped', (err as Error).message);
      return NEXT;
    }
  }
  const ms = Math.max(0, until - Date.now());
  const untilIso = new Date(until).toISOString();
  if (ms > 0) await ctx.waitUntil(`until ${untilIso}`, () => false, ms);
  if (ctx.interrupted()) return NEXT;
  ctx.record(
    step.id,
    'wait',
    'waited',
    ms > 0 ? `${formatDuration(ms)}, until ${untilIso}` : `until ${untilIso} (already past)`,
  );
  return NEXT;
}
