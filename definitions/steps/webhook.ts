import { z } from 'zod';
import { duration, liquidText, stepId } from '../schema/common';
import type { StepSpec } from './spec';
import { noArms, noEvents, noExpressions } from './spec';

export const webhookStep = z
  .object({
    id: stepId,
    type: z.literal('webhook'),
    url: z.url({ protocol: /^https?$/, error: 'expected an https:// URL' }),
    method: z.enum(['POST', 'PUT', 'PATCH']).optional(),
    body: liquidText.optional(),
    timeout: duration.optional(),
  })
  .strict()
  .describe('Calls another system (host on the allow-list), retried on failure, with an Idempotency-Key header.');

export type WebhookStep = z.infer<typeof webhookStep>;

export const webhook: StepSpec<'webhook'> = {
  label: (s) => `webhook ${new URL(s.url).host}`,
  shape: 'action',
  arms: noArms,
  events: noEvents,
  expressions: noExpressions,
  texts: () => [['body']],
  check(s, path, context) {
    // By the URL's scheme as parsed, whatever its case (`HTTP://` is http too).
    if (!context.allowHttpWebhooks && typeof s.url === 'string' && URL.parse(s.url)?.protocol === 'http:') {
      context.problem(
        [...path, 'url'],
        'expected an https:// URL (http is allowed only where configured for private networks)',
      );
    }
  },
};
