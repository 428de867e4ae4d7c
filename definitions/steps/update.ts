import type { StepSpec } from './spec';
import { mapping, noArms, noEvents, noExpressions } from './spec';

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
  expressions: noExpressions,
  // Attribute values are Liquid, rendered with the customer's facts.
  texts: (s) => Object.keys(mapping(mapping(s.set).attributes)).map((key) => ['set', 'attributes', key]),
};
