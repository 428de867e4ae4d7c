import { z } from 'zod';
import { celExpression, duration, stepId } from '../schema/common';
import { eventTypeName } from '../schema/event-type';
import type { StepSpec } from './spec';
import { noArms, noTexts } from './spec';

/**
 * The most events one digest keeps. They travel in the workflow's state (and its history, at every
 * continue-as-new), so the list stays short enough never to weigh on it.
 */
const DIGEST_MAX_ITEMS = 100;

export interface DigestStep {
  id: string;
  type: 'digest';
  event: string;
  when?: string | undefined;
  window: string;
  max: number;
}

export const digestStep = z
  .object({
    id: stepId,
    type: z.literal('digest'),
    event: eventTypeName,
    when: celExpression.optional(),
    window: duration,
    max: z
      .number()
      .int('expected a whole number of events')
      .min(1, 'expected at least 1 event')
      .max(DIGEST_MAX_ITEMS, `expected at most ${DIGEST_MAX_ITEMS} events (they are kept in the journey's state)`),
  })
  .strict()
  .describe(
    "Gathers the customer's events of one type for at most `window`, ending early once `max` are in; readable as events.<id>.items (id, type, occurredAt, data, oldest first) and events.<id>.count.",
  );

export const digest: StepSpec<'digest'> = {
  label: (s) => `digest ${s.event} (up to ${s.window}, at most ${s.max})`,
  shape: 'wait',
  arms: noArms,
  events: (s) => [s.event],
  // Evaluated against each event of the type, which it reads as `event`, as a wait_for's is.
  expressions: (s) => (s.when !== undefined ? [{ at: ['when'], place: 'wait_for', expect: 'bool' }] : []),
  texts: noTexts,
  exposes: 'digests',
};
