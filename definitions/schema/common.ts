/** Field types shared by the journey's top level and its step kinds. */
import { z } from 'zod';
import { DURATION_HINT, parseDuration } from '../duration';

export const stepId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected a step id: lowercase letters, digits and "-", at most 63 characters')
  .describe('Unique within the journey; names the step in analytics, graphs, errors and idempotency keys.');

export const duration = z
  .string()
  .refine((s) => parseDuration(s) !== undefined, { message: `expected ${DURATION_HINT}` })
  .describe(DURATION_HINT);

export const templateName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]*(\/[a-z0-9][a-z0-9_-]*)*$/,
    'expected a template name such as onboarding/welcome (lowercase letters, digits, "-", "_", "/")',
  )
  .describe('Names definitions/templates/<name>.email.yaml or .sms.yaml');

/** Liquid text: rendered with the customer, the event and the journey as variables. */
export const liquidText = z.string().min(1, 'expected text');

export const category = z.enum(['marketing', 'transactional', 'service']);
export type Category = z.infer<typeof category>;

/** A CEL expression; parsed and type-checked by the compiler against the variables it may read. */
export const celExpression = z.string().min(1, 'expected a CEL expression').describe('A CEL expression');

export const localTime = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a local time HH:MM, such as 09:30 (24-hour clock)');

export const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
export type Weekday = z.infer<typeof weekday>;
