import type { StepSpec } from './spec';
import { noArms, noEvents } from './spec';

export const update: StepSpec<'update'> = {
  label: (s) =>
    `update ${[
      ...Object.keys(s.set ?? {}).filter((k) => k !== 'attributes'),
      ...Object.keys(s.set?.attributes ?? {}),
      ...(s.tags?.add ?? []).map((t) => `+${t}`),
      ...(s.tags?.remove ?? []).map((t) => `-${t}`),
    ].join(', ')}`,
  shape: 'action',
  arms: noArms,
  events: noEvents,
};
