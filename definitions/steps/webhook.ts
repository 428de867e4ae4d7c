import type { StepSpec } from './spec';
import { noArms, noEvents } from './spec';

export const webhook: StepSpec<'webhook'> = {
  label: (s) => `webhook ${new URL(s.url).host}`,
  shape: 'action',
  arms: noArms,
  events: noEvents,
};
