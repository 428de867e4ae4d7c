import { ActivityFailure } from '@temporalio/workflow';
import { durationMs } from '../../definitions/duration';
import type { WebhookStep } from '../../definitions/schema/steps/webhook';
import { NEXT, type StepContext, type StepResult } from './context';

export async function runWebhook(step: WebhookStep, ctx: StepContext): Promise<StepResult> {
  const facts = ctx.facts();
  let result;
  try {
    result = await ctx.acts.callWebhook({
      key: `webhook:${ctx.input.enrollmentId}:${step.id}:${ctx.visits(step.id)}`,
      customerId: ctx.input.customerId,
      journeyId: ctx.def.journey,
      stepId: step.id,
      url: step.url,
      method: step.method ?? 'POST',
      ...(step.body ? { body: step.body } : {}),
      timeoutMs: step.timeout ? durationMs(step.timeout) : 10_000,
      facts: { ...facts, journey: facts.journey! },
      at: facts.now,
    });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    ctx.record(step.id, 'webhook', 'failed', err.cause?.message ?? err.message);
    return NEXT;
  }
  ctx.record(step.id, 'webhook', result.ok ? 'called' : 'failed', result.detail);
  return NEXT;
}
