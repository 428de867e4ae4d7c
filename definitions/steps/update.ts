import { z } from 'zod';
import { stepId } from '../schema/common';
import type { StepSpec } from './spec';
import { mapping, noArms, noEvents, noExpressions } from './spec';

const tagName = z.string().regex(/^[a-z0-9][a-z0-9_:-]*$/, 'expected a tag: lowercase letters, digits, "-", "_", ":"');

export const updateStep = z
  .object({
    id: stepId,
    type: z.literal('update'),
    set: z
      .object({
        lifecycleStage: z.enum(['prospect', 'new_customer', 'repeat_customer', 'lapsed']).optional(),
        preferredChannel: z.enum(['email', 'sms']).optional(),
        locale: z.string().min(2).optional(),
        timezone: z.string().min(1).optional(),
        attributes: z
          .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an attribute name'), z.unknown())
          .optional(),
      })
      .strict()
      .optional(),
    tags: z
      .object({ add: z.array(tagName).optional(), remove: z.array(tagName).optional() })
      .strict()
      .optional(),
  })
  .strict()
  .refine((s) => s.set !== undefined || s.tags !== undefined, { message: 'an update needs set or tags' })
  .describe("Updates the customer's record and logs it on the timeline. Text values are Liquid.");

export type UpdateStep = z.infer<typeof updateStep>;

export const update: StepSpec<'update'> = {
  label: (s) =>
    `update ${[
      ...Object.keys(s.set ?? {}).filter((k) => k !== 'attributes'),
      ...Object.keys(s.set?.attributes ?? {}),
      ...(s.tags?.add ?? []).map((t) => `+${t}`),
      ...(s.tags?.remove ?? []).map((t) => `-${t}`),
    ].join(', ')}`,
  shape: 'action',
  arms: noArms,
  events: noEvents,
  expressions: noExpressions,
  // Attribute values are Liquid, rendered with the customer's facts.
  texts: (s) => Object.keys(mapping(mapping(s.set).attributes)).map((key) => ['set', 'attributes', key]),
};
