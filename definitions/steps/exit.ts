import { z } from 'zod';
import { stepId } from '../schema/common';
import type { StepSpec } from './spec';
import { noArms, noEvents, noExpressions, noTexts } from './spec';

export const exitStep = z
  .object({ id: stepId, type: z.literal('exit'), reason: z.string().min(1).optional() })
  .strict()
  .describe('Ends the enrollment here.');

export type ExitStep = z.infer<typeof exitStep>;

export const exit: StepSpec<'exit'> = {
  label: (s) => `exit${s.reason ? `: ${s.reason}` : ''}`,
  shape: 'end',
  arms: noArms,
  events: noEvents,
  expressions: noExpressions,
  texts: noTexts,
};
