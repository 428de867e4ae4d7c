import { z } from 'zod';
import type { Step } from '../schema/registry';
import { celExpression, duration, stepId } from '../schema/common';
import { eventTypeName } from '../schema/event-type';
import type { StepSpec } from './spec';
import { noTexts } from './spec';

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

export const waitFor: StepSpec<'wait_for'> = {
  label: (s) => `wait for ${s.event} (at most ${s.timeout})`,
  shape: 'wait',
  arms: (s) => [
    { name: 'on_event', path: ['on_event'], steps: s.on_event ?? [], edge: 'event', lane: `on ${s.event}` },
    {
      name: 'on_timeout',
      path: ['on_timeout'],
      steps: s.on_timeout ?? [],
      edge: 'timeout',
      lane: `after ${s.timeout}`,
    },
  ],
  events: (s) => [s.event],
  // Evaluated against each event of the type, which it reads as `event`.
  expressions: (s) => (s.when !== undefined ? [{ at: ['when'], place: 'wait_for', expect: 'bool' }] : []),
  texts: noTexts,
  exposes: 'events',
};
