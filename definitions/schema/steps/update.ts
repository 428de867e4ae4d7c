import { z } from 'zod';
import { stepId } from '../common';

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
