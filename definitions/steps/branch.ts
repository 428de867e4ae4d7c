import type { StepSpec } from './spec';
import { list, noEvents, noTexts } from './spec';

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
