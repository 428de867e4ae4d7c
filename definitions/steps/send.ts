import type { StepSpec } from './spec';
import { noArms, noEvents } from './spec';

export const send: StepSpec<'send'> = {
  label: (s) => `send ${s.channel}${s.template ? `: ${s.template}` : s.subject ? `: ${s.subject}` : ''}`,
  shape: 'action',
  arms: noArms,
  events: noEvents,
};
