import { durationMs, formatDuration } from '../duration';
import type { StepSpec } from './spec';
import { noArms, noEvents, noTexts } from './spec';

export const wait: StepSpec<'wait'> = {
  label: (s) =>
    s.duration
      ? `wait ${formatDuration(durationMs(s.duration))}`
      : s.until
        ? `wait until ${s.until.time}${s.until.days ? ` (${s.until.days.join(', ')})` : ''}`
        : `wait until ${s.until_expr ?? ''}`,
  shape: 'wait',
  arms: noArms,
  events: noEvents,
  // A computed time: evaluated when the step starts, with the customer's and the event's facts.
  expressions: (s) => (s.until_expr !== undefined ? [{ at: ['until_expr'], place: 'step', expect: 'timestamp' }] : []),
  texts: noTexts,
};
