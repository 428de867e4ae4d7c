import { ActivityFailure } from '@temporalio/workflow';
import type { SendStep } from '../../definitions/steps/send';
import { NEXT, type StepContext, type StepResult } from './context';
import { emailContent, smsContent } from '../../definitions/steps/send-content';
import { topicOf } from '../../definitions/topics';

export async function runSend(step: SendStep, ctx: StepContext): Promise<StepResult> {
  const { input } = ctx;
  if (input.holdout) {
    // Held out: nothing is sent, and the goal is still counted (the report's lift).
    const reason = input.holdout === 'global' ? 'global holdout' : 'holdout';
    ctx.record(step.id, { kind: 'send', status: 'skipped', channel: null, reason }, reason);
    return NEXT;
  }
  const email = emailContent(step, input.plan.templates);
  const sms = smsContent(step, input.plan.templates);
  const facts = ctx.facts();
  const topic = topicOf(ctx.def, step);
  let outcome;
  // A send the contact policy defers (quiet hours, a capped customer) waits, then tries again.
  for (let attempt = 0; ; attempt++) {
    try {
      outcome = await ctx.acts.sendMessage({
        // Computed here, deterministically: the same on every retry and replay of this step.
        keyBase: `send:${input.enrollmentId}:${step.id}:${ctx.visits(step.id)}`,
        customerId: input.customerId,
        journeyId: ctx.def.journey,
        version: input.version,
        category: ctx.def.category,
        ...(topic ? { topic } : {}),
        stepId: step.id,
        channel: step.channel,
        ...(email ? { email } : {}),
        ...(sms ? { sms } : {}),
        event: input.event,
        events: facts.events ?? {},
        tasks: facts.tasks ?? {},
        enrolledAt: ctx.memory.enrolledAt,
        at: new Date().toISOString(),
        ...(ctx.def.sending ? { sending: ctx.def.sending } : {}),
      });
    } catch (err) {
      // Retries ran out: the message is recorded as failed and the journey goes on.
      if (!(err instanceof ActivityFailure)) throw err;
      const reason = err.cause?.message ?? err.message;
      ctx.record(step.id, { kind: 'send', status: 'failed', channel: null, reason }, reason);
      return NEXT;
    }
    if (outcome.status !== 'deferred' || !outcome.until || attempt >= 20) break;
    ctx.record(
      step.id,
      {
        kind: 'send',
        status: 'deferred',
        channel: outcome.channel ?? null,
        reason: outcome.detail ?? null,
        until: outcome.until,
      },
      `${outcome.channel ?? ''} until ${outcome.until}: ${outcome.detail ?? ''}`,
    );
    await ctx.waitUntil(
      `${outcome.detail ?? 'the contact policy'} (until ${outcome.until})`,
      () => false,
      Math.max(1000, Date.parse(outcome.until) - Date.now()),
    );
    if (ctx.interrupted()) return NEXT;
  }
  ctx.record(
    step.id,
    {
      kind: 'send',
      status: outcome.status,
      channel: outcome.channel ?? null,
      reason: outcome.status === 'sent' ? null : (outcome.detail ?? null),
      ...(outcome.status === 'deferred' && outcome.until ? { until: outcome.until } : {}),
    },
    [outcome.channel, outcome.detail].filter(Boolean).join(': '),
  );
  return NEXT;
}
