import type { StepSpec } from './spec';
import { noTexts } from './spec';

export const waitFor: StepSpec<'wait_for'> = {
  label: (s) => `wait for ${s.event} (at most ${s.timeout})`,
  shape: 'wait',
  arms: (s) => [
    { name: 'on_event', path: ['on_event'], steps: s.on_event ?? [], edge: 'event', lane: `on ${s.event}` },
    {
      name: 'on_timeout',
      path: ['on_timeout'],
      steps: s.on_timeout ?? [],
      edge: 'timeout',
      lane: `after ${s.timeout}`,
    },
  ],
  events: (s) => [s.event],
  // Evaluated against each event of the type, which it reads as `event`.
  expressions: (s) => (s.when !== undefined ? [{ at: ['when'], place: 'wait_for', expect: 'bool' }] : []),
  texts: noTexts,
  exposes: 'events',
};
