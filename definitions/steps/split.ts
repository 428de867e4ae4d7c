import { z } from 'zod';
import type { Step } from '../schema/registry';
import { stepId } from '../schema/common';
import type { StepSpec } from './spec';
import { noEvents, noExpressions, noTexts } from './spec';

export interface SplitStep {
  id: string;
  type: 'split';
  paths: { name: string; weight: number; steps?: Step[] | undefined }[];
}

export function splitStep(steps: z.ZodType<Step[]>) {
  return z
    .object({
      id: stepId,
      type: z.literal('split'),
      paths: z
        .array(
          z
            .object({
              name: z
                .string()
                .regex(/^[a-z0-9][a-z0-9_-]*$/, 'expected a path name: lowercase letters, digits, "-", "_"'),
              weight: z.number({ error: 'expected a number' }).positive('expected a weight greater than 0'),
              steps: steps.optional(),
            })
            .strict(),
        )
        .min(2, 'expected at least two paths'),
    })
    .strict()
    .describe('Random weighted assignment, the same on replay; a path without steps is a holdout.');
}

export const split: StepSpec<'split'> = {
  label: (s) => `split ${s.paths.map((p) => `${p.name} ${p.weight}`).join(' / ')}`,
  shape: 'decision',
  // A path without steps is a holdout: its customers go straight on.
  arms: (s) =>
    s.paths.map((p, i) => ({
      name: `path ${p.name}`,
      path: ['paths', i, 'steps'],
      steps: p.steps ?? [],
      edge: p.steps?.length ? p.name : `${p.name} (holdout)`,
      lane: `${p.name} (weight ${p.weight})`,
    })),
  events: noEvents,
  expressions: noExpressions,
  texts: noTexts,
};
