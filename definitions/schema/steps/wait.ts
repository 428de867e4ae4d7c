import { z } from 'zod';
import { duration, stepId } from '../common';

export const waitStep = z
  .object({
    id: stepId,
    type: z.literal('wait'),
    duration: duration,
  })
  .strict()
  .describe('A durable timer.');

export type WaitStep = z.infer<typeof waitStep>;
