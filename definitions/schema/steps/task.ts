import { z } from 'zod';
import type { Step } from '../registry';
import { duration, liquidText, stepId } from '../common';

export interface TaskStep {
  id: string;
  type: 'task';
  team?: string | undefined;
  assignee?: string | undefined;
  title: string;
  description?: string | undefined;
  due?: string | undefined;
  wait?: { timeout: string; on_timeout?: Step[] | undefined } | undefined;
}

export function taskStep(steps: z.ZodType<Step[]>) {
  return z
    .object({
      id: stepId,
      type: z.literal('task'),
      team: z
        .string()
        .regex(/^[a-z0-9][a-z0-9_-]*$/, 'expected a team name such as account-managers')
        .optional(),
      assignee: z.string().min(1).optional(),
      title: liquidText,
      description: liquidText.optional(),
      due: duration.optional(),
      wait: z.object({ timeout: duration, on_timeout: steps.optional() }).strict().optional(),
    })
    .strict()
    .refine((s) => s.team !== undefined || s.assignee !== undefined, {
      message: 'a task needs a team or an assignee',
    })
    .describe('Creates a task for a person; with wait, the journey waits until it is completed through the API.');
}
