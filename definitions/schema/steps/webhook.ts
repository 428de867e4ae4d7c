import { z } from 'zod';
import { duration, liquidText, stepId } from '../common';

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
