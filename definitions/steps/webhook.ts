import type { StepSpec } from './spec';
import { noArms, noEvents, noExpressions } from './spec';

export const webhook: StepSpec<'webhook'> = {
  label: (s) => `webhook ${new URL(s.url).host}`,
  shape: 'action',
  arms: noArms,
  events: noEvents,
  expressions: noExpressions,
  texts: () => [['body']],
  check(s, path, context) {
    if (!context.allowHttpWebhooks && typeof s.url === 'string' && s.url.startsWith('http://')) {
      context.problem(
        [...path, 'url'],
        'expected an https:// URL (http is allowed only where configured for private networks)',
      );
    }
  },
};
