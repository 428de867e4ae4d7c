import { z } from 'zod';
import { celExpression, duration, localTime, stepId, weekday } from '../schema/common';
import { durationMs, formatDuration } from '../duration';
import type { StepSpec } from './spec';
import { noArms, noEvents, noTexts } from './spec';

const waitUntil = z
  .object({
    time: localTime,
    days: z.array(weekday).min(1, 'expected at least one day').optional(),
  })
  .strict()
  .describe("The next such local time in the customer's time zone (on one of the days, when given).");

export const waitStep = z
  .object({
    id: stepId,
    type: z.literal('wait'),
    duration: duration.optional(),
    until: waitUntil.optional(),
    until_expr: celExpression.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const given = (['duration', 'until', 'until_expr'] as const).filter((k) => s[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          given.length === 0
            ? 'a wait needs one of duration, until or until_expr'
            : `a wait takes exactly one of duration, until or until_expr; got ${given.join(' and ')}`,
      });
    }
  })
  .describe('A durable timer.');

export type WaitStep = z.infer<typeof waitStep>;

export const wait: StepSpec<'wait'> = {
  label: (s) =>
    s.duration
      ? `wait ${formatDuration(durationMs(s.duration))}`
      : s.until
        ? `wait until ${s.until.time}${s.until.days ? ` (${s.until.days.join(', ')})` : ''}`
        : `wait until ${s.until_expr ?? ''}`,
  shape: 'wait',
  arms: noArms,
  events: noEvents,
  // A computed time: evaluated when the step starts, with the customer's and the event's facts.
  expressions: (s) => (s.until_expr !== undefined ? [{ at: ['until_expr'], place: 'step', expect: 'timestamp' }] : []),
  texts: noTexts,
};
