/**
 * The message a send step says for each channel, as Liquid source: its own block (`email:`,
 * `sms:`), the step's fields, or a template of the published plan. The journey's send and a preview
 * of that step both take it from here, so a preview shows what the step would send.
 */
import type { SendStep } from './send';
import type { EmailTemplate, JourneyPlan, SmsTemplate } from '../schema/journey';
import type { EmailContent, SmsContent } from '../../activities/channels/content';

export function emailContent(step: SendStep, templates: JourneyPlan['templates']): EmailContent | undefined {
  const block =
    step.email ?? (step.channel === 'email' ? step : step.template ? { template: step.template } : undefined);
  if (!block) return undefined;
  if (block.template) {
    const t = templates[`email:${block.template}`] as EmailTemplate | undefined;
    return t ? { template: block.template, ...t } : undefined;
  }
  if (!block.subject || !block.text) return undefined;
  return { subject: block.subject, text: block.text, ...(block.html ? { html: block.html } : {}) };
}

export function smsContent(step: SendStep, templates: JourneyPlan['templates']): SmsContent | undefined {
  const block = step.sms ?? (step.channel === 'sms' ? step : step.template ? { template: step.template } : undefined);
  if (!block) return undefined;
  if (block.template) {
    const t = templates[`sms:${block.template}`] as SmsTemplate | undefined;
    return t ? { template: block.template, ...t } : undefined;
  }
  return block.text ? { text: block.text } : undefined;
}
