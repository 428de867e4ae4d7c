import type { StepSpec } from './spec';
import { noEvents, noExpressions } from './spec';

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
