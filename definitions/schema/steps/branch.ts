import { z } from 'zod';
import type { Step } from '../registry';
import { celExpression, stepId } from '../common';

export interface BranchStep {
  id: string;
  type: 'branch';
  cases: { when: string; steps: Step[] }[];
  otherwise?: Step[] | undefined;
}

export function branchStep(steps: z.ZodType<Step[]>) {
  return z
    .object({
      id: stepId,
      type: z.literal('branch'),
      cases: z.array(z.object({ when: celExpression, steps }).strict()).min(1, 'expected at least one case'),
      otherwise: steps.optional(),
    })
    .strict()
    .describe("Runs the first case whose condition holds, after reading the customer's record afresh.");
}
