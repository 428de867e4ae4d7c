import { z } from 'zod';
import type { Step } from '../schema/registry';
import { duration, liquidText, stepId } from '../schema/common';
import type { StepSpec } from './spec';
import { noEvents, noExpressions } from './spec';

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

export const task: StepSpec<'task'> = {
  label: (s) =>
    `task for ${s.team ?? s.assignee ?? ''}${s.due ? `, due ${s.due}` : ''}${s.wait ? `, waits ${s.wait.timeout}` : ''}`,
  shape: 'action',
  // A task that waits goes on when it is completed, or runs on_timeout when it is not in time.
  arms: (s) =>
    s.wait
      ? [
          { name: 'completed', path: null, steps: [], edge: 'done', lane: 'completed' },
          {
            name: 'on_timeout',
            path: ['wait', 'on_timeout'],
            steps: s.wait.on_timeout ?? [],
            edge: 'timeout',
            lane: `not completed in ${s.wait.timeout}`,
          },
        ]
      : [],
  events: noEvents,
  expressions: noExpressions,
  texts: () => [['title'], ['description']],
  exposes: 'tasks',
};
