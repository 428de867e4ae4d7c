import { z } from 'zod';
import type { Step } from '../registry';
import { celExpression, duration, stepId } from '../common';
import { eventTypeName } from '../event-type';

export interface WaitForStep {
  id: string;
  type: 'wait_for';
  event: string;
  when?: string | undefined;
  timeout: string;
  on_event?: Step[] | undefined;
  on_timeout?: Step[] | undefined;
}

export function waitForStep(steps: z.ZodType<Step[]>) {
  return z
    .object({
      id: stepId,
      type: z.literal('wait_for'),
      event: eventTypeName,
      when: celExpression.optional(),
      timeout: duration,
      on_event: steps.optional(),
      on_timeout: steps.optional(),
    })
    .strict()
    .describe("Waits for the customer's next matching event, at most `timeout`; the event is readable as events.<id>.");
}
