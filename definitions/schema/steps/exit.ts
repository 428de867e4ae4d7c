import { z } from 'zod';
import { stepId } from '../common';

export const exitStep = z
  .object({ id: stepId, type: z.literal('exit'), reason: z.string().min(1).optional() })
  .strict()
  .describe('Ends the enrollment here.');

export type ExitStep = z.infer<typeof exitStep>;
