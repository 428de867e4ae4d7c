import { ActivityFailure } from '@temporalio/workflow';
import { durationMs } from '../../definitions/duration';
import type { WebhookStep } from '../../definitions/steps/webhook';
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
    const reason = err.cause?.message ?? err.message;
    ctx.record(step.id, { kind: 'webhook', status: 'failed', httpStatus: null, reason }, reason);
    return NEXT;
  }
  ctx.record(
    step.id,
    {
      kind: 'webhook',
      status: result.ok ? 'called' : 'failed',
      httpStatus: result.status ?? null,
      reason: result.ok ? null : result.detail,
    },
    result.detail,
  );
  return NEXT;
}
