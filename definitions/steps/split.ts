import type { StepSpec } from './spec';
import { noEvents, noExpressions, noTexts } from './spec';

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
