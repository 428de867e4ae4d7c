import { z } from 'zod';
import type { Step } from '../schema/registry';
import { celExpression, stepId } from '../schema/common';
import type { StepSpec } from './spec';
import { list, noEvents, noTexts } from './spec';

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

export const branch: StepSpec<'branch'> = {
  label: () => 'branch',
  shape: 'decision',
  arms: (s) => [
    ...s.cases.map((c, i) => ({
      name: `case ${i + 1}`,
      path: ['cases', i, 'steps'],
      steps: c.steps,
      edge: c.when,
      lane: `when ${c.when}`,
    })),
    // Taken when no case holds, with steps or without.
    { name: 'otherwise', path: ['otherwise'], steps: s.otherwise ?? [], edge: 'otherwise', lane: 'otherwise' },
  ],
  events: noEvents,
  expressions: (s) => list(s.cases).map((_, i) => ({ at: ['cases', i, 'when'], place: 'step', expect: 'bool' })),
  texts: noTexts,
};
