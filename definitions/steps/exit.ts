import type { StepSpec } from './spec';
import { noArms, noEvents, noExpressions, noTexts } from './spec';

export const exit: StepSpec<'exit'> = {
  label: (s) => `exit${s.reason ? `: ${s.reason}` : ''}`,
  shape: 'end',
  arms: noArms,
  events: noEvents,
  expressions: noExpressions,
  texts: noTexts,
};
